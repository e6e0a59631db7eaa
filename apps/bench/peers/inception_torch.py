"""PyTorch CPU peer for `npm run bench -- fid`.

Builds the FID Inception-v3 (TF 2015-12-05 graph as pytorch-fid uses it: conv units with folded
BatchNorm + ReLU, avg pools without padding counts, a max pool in Mixed_7c, 2048-d pool3
features) with synthetic weights, written here from the architecture description, and times
the EDM pipeline on uint8 images: TF1-style bilinear resize to 299x299 (source = dst * in/out),
(x - 128) / 128, then the network.

    /usr/bin/python3 apps/bench/peers/inception_torch.py CONFIG_JSON

CONFIG_JSON: {"batch", "size", "iters", "threads"}. Prints one JSON line:
{"img_s": images/s, "torch": version}.
"""

import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


class Unit(nn.Module):
    """Conv with BatchNorm folded in, then ReLU."""

    def __init__(self, cin, cout, k=(1, 1), pad=(0, 0), stride=1):
        super().__init__()
        fan = cin * k[0] * k[1]
        self.weight = nn.Parameter(torch.randn(cout, cin, *k) / math.sqrt(fan))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.pad, self.stride = pad, stride

    def forward(self, x):
        return F.relu(F.conv2d(x, self.weight, self.bias, self.stride, self.pad))


def avg3(x):
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class A(nn.Module):
    def __init__(self, cin, pf):
        super().__init__()
        self.b1 = Unit(cin, 64)
        self.b5 = nn.Sequential(Unit(cin, 48), Unit(48, 64, (5, 5), (2, 2)))
        self.b3 = nn.Sequential(Unit(cin, 64), Unit(64, 96, (3, 3), (1, 1)), Unit(96, 96, (3, 3), (1, 1)))
        self.bp = Unit(cin, pf)

    def forward(self, x):
        return torch.cat([self.b1(x), self.b5(x), self.b3(x), self.bp(avg3(x))], 1)


class B(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.b3 = Unit(cin, 384, (3, 3), stride=2)
        self.bd = nn.Sequential(Unit(cin, 64), Unit(64, 96, (3, 3), (1, 1)), Unit(96, 96, (3, 3), stride=2))

    def forward(self, x):
        return torch.cat([self.b3(x), self.bd(x), F.max_pool2d(x, 3, 2)], 1)


class C(nn.Module):
    def __init__(self, c7):
        super().__init__()
        r, c = ((1, 7), (0, 3)), ((7, 1), (3, 0))
        self.b1 = Unit(768, 192)
        self.b7 = nn.Sequential(Unit(768, c7), Unit(c7, c7, *r), Unit(c7, 192, *c))
        self.bd = nn.Sequential(
            Unit(768, c7), Unit(c7, c7, *c), Unit(c7, c7, *r), Unit(c7, c7, *c), Unit(c7, 192, *r)
        )
        self.bp = Unit(768, 192)

    def forward(self, x):
        return torch.cat([self.b1(x), self.b7(x), self.bd(x), self.bp(avg3(x))], 1)


class D(nn.Module):
    def __init__(self):
        super().__init__()
        self.b3 = nn.Sequential(Unit(768, 192), Unit(192, 320, (3, 3), stride=2))
        self.b7 = nn.Sequential(
            Unit(768, 192), Unit(192, 192, (1, 7), (0, 3)), Unit(192, 192, (7, 1), (3, 0)),
            Unit(192, 192, (3, 3), stride=2),
        )

    def forward(self, x):
        return torch.cat([self.b3(x), self.b7(x), F.max_pool2d(x, 3, 2)], 1)


class E(nn.Module):
    def __init__(self, cin, pool):
        super().__init__()
        self.b1 = Unit(cin, 320)
        self.b3 = Unit(cin, 384)
        self.b3a, self.b3b = Unit(384, 384, (1, 3), (0, 1)), Unit(384, 384, (3, 1), (1, 0))
        self.bd = nn.Sequential(Unit(cin, 448), Unit(448, 384, (3, 3), (1, 1)))
        self.bda, self.bdb = Unit(384, 384, (1, 3), (0, 1)), Unit(384, 384, (3, 1), (1, 0))
        self.bp = Unit(cin, 192)
        self.pool = pool

    def forward(self, x):
        t, d = self.b3(x), self.bd(x)
        p = avg3(x) if self.pool == 'avg' else F.max_pool2d(x, 3, 1, 1)
        return torch.cat([self.b1(x), self.b3a(t), self.b3b(t), self.bda(d), self.bdb(d), self.bp(p)], 1)


class FidInception(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(
            Unit(3, 32, (3, 3), stride=2), Unit(32, 32, (3, 3)), Unit(32, 64, (3, 3), (1, 1)),
            nn.MaxPool2d(3, 2), Unit(64, 80), Unit(80, 192, (3, 3)), nn.MaxPool2d(3, 2),
        )
        self.mixed = nn.Sequential(
            A(192, 32), A(256, 64), A(288, 64), B(288), C(128), C(160), C(160), C(192), D(),
            E(1280, 'avg'), E(2048, 'max'),
        )

    def forward(self, x):
        return self.mixed(self.stem(x)).mean((2, 3))


def resize_tf1(x, size=299):
    """TF1 bilinear without half-pixel centres: source = dst * in/out, clamped."""
    h, w = x.shape[-2:]

    def axis(n):
        src = torch.arange(size, dtype=torch.float32, device=x.device) * (n / size)
        i0 = src.floor().long().clamp(max=n - 1)
        i1 = (i0 + 1).clamp(max=n - 1)
        return i0, i1, src - i0
    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    top = x[..., y0, :] * (1 - fy)[:, None] + x[..., y1, :] * fy[:, None]
    return top[..., x0] * (1 - fx) + top[..., x1] * fx


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg.get('threads', 2))
    torch.manual_seed(0)
    dev = torch.device(cfg.get('device', 'cpu'))
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    net = FidInception().eval().to(dev)
    b, s = cfg['batch'], cfg['size']
    images = torch.randint(0, 256, (b, 3, s, s), dtype=torch.uint8, device=dev)

    def run():
        x = images.float()
        if s != 299:
            x = resize_tf1(x)
        return net((x - 128) / 128)

    with torch.no_grad():
        run()  # warm-up
        sync()
        t0 = time.perf_counter()
        for _ in range(cfg['iters']):
            run()
        sync()
        dt = time.perf_counter() - t0
    print(json.dumps({'img_s': b * cfg['iters'] / dt, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
