"""PyTorch peer of the kernel-rows table (apps/bench/src/rows-suite.ts): the same convolution
passes and matmuls, timed best of `runs` after one warm-up, on the CPU (threads) or on CUDA
(device 'cuda', TF32 off so the figures are float32 like ours).

CONFIG_JSON: {"cases": [{"key", "kind": "conv"|"matmul", ...}], "device", "threads", "runs"}.
  conv: "x": [N, C, H, W], "w": [Cout, C, KH, KW], "stride", "padding": [ph, pw], "pass": y|dx|dw
  matmul: "batch", "m", "k", "n"
Prints one JSON line: {key: GFLOP/s, ..., "torch": version, "device": device}.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn import grad as nngrad


def main():
    cfg = json.loads(sys.argv[1])
    dev = torch.device(cfg.get('device', 'cpu'))
    torch.set_num_threads(cfg.get('threads', 2))
    if dev.type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    runs = cfg.get('runs', 3)
    out = {'torch': torch.__version__, 'device': str(dev)}
    torch.manual_seed(0)
    with torch.no_grad():
        for c in cfg['cases']:
            if c['kind'] == 'matmul':
                a = torch.randn(c['batch'], c['m'], c['k'], device=dev)
                b = torch.randn(c['batch'], c['k'], c['n'], device=dev)
                flops = 2 * c['batch'] * c['m'] * c['k'] * c['n']
                fn = lambda a=a, b=b: torch.bmm(a, b)
            else:
                x = torch.randn(*c['x'], device=dev)
                w = torch.randn(*c['w'], device=dev)
                s, p = c['stride'], tuple(c['padding'])
                y = F.conv2d(x, w, stride=s, padding=p)
                n, cout, oh, ow = y.shape
                flops = 2 * n * cout * w.shape[1] * w.shape[2] * w.shape[3] * oh * ow
                if c['pass'] == 'y':
                    fn = lambda x=x, w=w, s=s, p=p: F.conv2d(x, w, stride=s, padding=p)
                elif c['pass'] == 'dx':
                    fn = lambda x=x, w=w, y=y, s=s, p=p: nngrad.conv2d_input(
                        x.shape, w, y, stride=s, padding=p)
                else:
                    fn = lambda x=x, w=w, y=y, s=s, p=p: nngrad.conv2d_weight(
                        x, w.shape, y, stride=s, padding=p)
            fn()
            sync()
            best = float('inf')
            for _ in range(runs):
                t = time.perf_counter()
                fn()
                sync()
                best = min(best, time.perf_counter() - t)
            out[c['key']] = flops / best / 1e9
    print(json.dumps(out))


if __name__ == '__main__':
    main()
