"""Writes test/fixtures/pfgmpp/augment.npz: EDM's augmentation resampling (SPEC 7.7) run with
PyTorch ops in float64, for packages/pfgmpp/test/augment.test.ts.

    /usr/bin/python3 tools/reference/make_augment_fixtures.py

The random draws are inputs here (no RNG is compared): each case gives either per-image inverse
matrices and flips ("mat" cases) or the drawn transform values ("draw" cases, whose matrices and
labels are built here the way EDM's training/augment.py builds them). Keys per case NAME:
- NAME.images [B, C, H, W]; NAME.out [B, C, H, W]; NAME.margins [4] (left, right, top, bottom);
- mat cases: NAME.ginv [B, 3, 3], NAME.flips [B, 2] (x, y);
- draw cases: NAME.draws [B, 8] = xflip, yflip, xi_scale, theta, xi_aniso, phi, xi_tx, xi_ty
  (zeros where not applied), NAME.labels [B, 9].
"""

import math
import os

import numpy as np
import torch
import torch.nn.functional as F

SYM6 = [
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
]
DT = torch.float64


def m3(rows):
    return torch.tensor(rows, dtype=DT)


def scale(sx, sy):
    return m3([[sx, 0, 0], [0, sy, 0], [0, 0, 1]])


def shift(tx, ty):
    return m3([[1, 0, tx], [0, 1, ty], [0, 0, 1]])


def rot(a):
    c, s = math.cos(a), math.sin(a)
    return m3([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def ginv_of(draw, w, h):
    """G^-1 from one image's draws (SPEC 7.7): scale^-1, rotation, conjugated aniso^-1, shift^-1."""
    _, _, xs, theta, xa, phi, tx, ty = (float(v) for v in draw)
    s = 2.0 ** (0.2 * xs)
    a = 2.0 ** (0.2 * xa)
    g = scale(1 / s, 1 / s) @ rot(theta)
    g = g @ rot(-phi) @ scale(1 / a, a) @ rot(phi)
    return g @ shift(-tx * w * 0.125, -ty * h * 0.125)


def labels_of(draw):
    xf, yf, xs, theta, xa, phi, tx, ty = (float(v) for v in draw)
    return [
        xf, yf, xs, math.cos(theta) - 1, math.sin(theta),
        xa * math.cos(phi), xa * math.sin(phi), tx, ty,
    ]


def resample(images, ginv, flips):
    """SPEC 7.7 steps 1-4 with torch ops (depthwise conv2d for the separable sym6 filters)."""
    n, c, h, w = images.shape
    x = images.clone()
    for b in range(n):
        if flips[b][0]:
            x[b] = x[b].flip(2)
        if flips[b][1]:
            x[b] = x[b].flip(1)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    corners = m3([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]]).t()
    pts = ginv @ corners  # [B, 3, 4]
    over = torch.stack([(-pts[:, 0]).max(), (-pts[:, 1]).max(), pts[:, 0].max(), pts[:, 1].max()])
    over = over + m3([6 - cx, 6 - cy, 6 - cx, 6 - cy])
    over = torch.minimum(torch.clamp(over, min=0), m3([w - 1, h - 1, w - 1, h - 1]))
    left, top, right, bottom = (int(v) for v in torch.ceil(over))
    x = F.pad(x, [left, right, top, bottom], mode='reflect')
    g = shift((left - right) / 2, (top - bottom) / 2) @ ginv
    # 2x upsampling: zero-interleave each axis (dropping the trailing zero), convolve with sym6.
    taps = torch.tensor(SYM6, dtype=DT)
    k_conv = taps.flip(0)  # conv2d correlates; reversing the taps gives a convolution
    ph, pw = x.shape[2], x.shape[3]
    z = torch.zeros(n, c, ph, 2 * pw - 1, dtype=DT)
    z[:, :, :, 0::2] = x
    x = F.conv2d(z, k_conv.view(1, 1, 1, 12).repeat(c, 1, 1, 1), padding=(0, 6), groups=c)
    z = torch.zeros(n, c, 2 * ph - 1, x.shape[3], dtype=DT)
    z[:, :, 0::2, :] = x
    x = F.conv2d(z, k_conv.view(1, 1, 12, 1).repeat(c, 1, 1, 1), padding=(6, 0), groups=c)
    g = scale(2, 2) @ g @ scale(0.5, 0.5)
    g = shift(-0.5, -0.5) @ g @ shift(0.5, 0.5)
    oh, ow = 2 * h + 12, 2 * w + 12
    g = scale(2 / x.shape[3], 2 / x.shape[2]) @ g @ scale(ow / 2, oh / 2)
    grid = F.affine_grid(g[:, :2, :], [n, c, oh, ow], align_corners=False)
    x = F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
    # 2x downsampling: correlate with sym6 at stride 2, padding 5, then crop 3 per side.
    kx = taps.view(1, 1, 1, 12).repeat(c, 1, 1, 1)
    ky = taps.view(1, 1, 12, 1).repeat(c, 1, 1, 1)
    x = F.conv2d(x, kx, stride=(1, 2), padding=(0, 5), groups=c)[:, :, :, 3:-3]
    x = F.conv2d(x, ky, stride=(2, 1), padding=(5, 0), groups=c)
    x = x[:, :, 3:-3, :]
    return x, [left, right, top, bottom]


def main() -> None:
    rng = np.random.default_rng(20240607)
    out = {}

    def images(*shape):
        return torch.tensor(rng.uniform(-1, 1, size=shape), dtype=DT)

    # Given matrices (any affine map, not only what the draws produce) and flips.
    mats = {
        'mat_rgb16': (images(3, 3, 16, 16), [
            rot(0.6) @ scale(0.8, 1.1) @ shift(1.5, -2.0),
            m3([[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
            scale(1.7, 1.7) @ rot(-2.2),
        ], [[1, 0], [0, 0], [1, 1]]),
        'mat_gray11x13': (images(2, 1, 11, 13), [
            m3([[0.9, 0.2, 0.7], [-0.15, 1.2, -0.4], [0, 0, 1]]),
            rot(math.pi / 2),
        ], [[0, 1], [1, 0]]),
        # Large zoom-out: margins clamp to size - 1.
        'mat_clamp8': (images(2, 2, 8, 8), [scale(3.0, 3.0), shift(4.0, 0.0)], [[0, 0], [0, 1]]),
    }
    for name, (x, gl, flips) in mats.items():
        ginv = torch.stack(gl)
        y, margins = resample(x, ginv, flips)
        out[f'{name}.images'] = x.numpy()
        out[f'{name}.ginv'] = ginv.numpy()
        out[f'{name}.flips'] = np.asarray(flips, dtype=np.float64)
        out[f'{name}.out'] = y.numpy()
        out[f'{name}.margins'] = np.asarray(margins, dtype=np.float64)

    # Given draws (rows: xflip, yflip, xi_scale, theta, xi_aniso, phi, xi_tx, xi_ty).
    draws = {
        'draw_rgb16': (images(3, 3, 16, 16), [
            [1, 0, 0.8, 1.2, -0.5, 0.7, 0.3, -0.6],
            [0, 1, 0, 0, 0, 0, 0, 0],
            [1, 1, -1.4, -2.9, 1.1, 0, -1.2, 0.9],
        ]),
        'draw_gray11x13': (images(2, 1, 11, 13), [
            [0, 0, 0.2, 0.4, 0.0, 0.0, 0.5, 0.5],
            [1, 0, 0, -3.1, 2.0, -1.9, 0, 0],
        ]),
        'draw_identity16': (images(2, 3, 16, 16), [[0] * 8, [0] * 8]),
        'draw_xflip9': (images(2, 1, 9, 9), [[1, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0]]),
    }
    for name, (x, dl) in draws.items():
        n, _, h, w = x.shape
        ginv = torch.stack([ginv_of(d, w, h) for d in dl])
        flips = [[int(d[0]), int(d[1])] for d in dl]
        y, margins = resample(x, ginv, flips)
        out[f'{name}.images'] = x.numpy()
        out[f'{name}.draws'] = np.asarray(dl, dtype=np.float64)
        out[f'{name}.labels'] = np.asarray([labels_of(d) for d in dl], dtype=np.float64)
        out[f'{name}.out'] = y.numpy()
        out[f'{name}.margins'] = np.asarray(margins, dtype=np.float64)

    here = os.path.dirname(os.path.abspath(__file__))
    dest = os.path.join(here, '..', '..', 'test', 'fixtures', 'pfgmpp')
    os.makedirs(dest, exist_ok=True)
    np.savez(os.path.join(dest, 'augment.npz'), **out)
    print(f'augment.npz: {len(out)} arrays')


if __name__ == '__main__':
    main()
