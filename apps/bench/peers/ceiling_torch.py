"""PyTorch CPU peer for `npm run bench -- ceiling`.

What a mature CPU library reaches on this machine for the two shapes our kernels care about
most: a 1024^3 matmul and a 3x3 conv2d at a UNet level (16 x 64 x 32x32, 64 -> 64 channels,
padding 1). Each is timed best of `runs` after one warm-up (best = least disturbed by other load).

    /usr/bin/python3 apps/bench/peers/ceiling_torch.py CONFIG_JSON

CONFIG_JSON: {"threads", "runs"}. Prints one JSON line:
{"mm_gflops": GFLOP/s, "conv3x3_gflops": GFLOP/s, "torch": version, "threads": n}.
"""

import json
import sys
import time

import torch
import torch.nn.functional as F


def best_seconds(fn, runs):
    fn()  # warm-up: allocations, oneDNN primitive creation
    best = float('inf')
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    cfg = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    threads = cfg.get('threads', 2)
    runs = cfg.get('runs', 3)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with torch.no_grad():
        a = torch.randn(1024, 1024)
        b = torch.randn(1024, 1024)
        mm_flops = 2 * 1024**3
        mm_s = best_seconds(lambda: torch.mm(a, b), runs)

        x = torch.randn(16, 64, 32, 32)
        w = torch.randn(64, 64, 3, 3)
        conv_flops = 2 * 16 * 64 * 32 * 32 * 64 * 3 * 3  # one multiply-add per weight per output
        conv_s = best_seconds(lambda: F.conv2d(x, w, padding=1), runs)
    print(
        json.dumps(
            {
                'mm_gflops': mm_flops / mm_s / 1e9,
                'conv3x3_gflops': conv_flops / conv_s / 1e9,
                'torch': torch.__version__,
                'threads': threads,
            }
        )
    )


if __name__ == '__main__':
    main()
