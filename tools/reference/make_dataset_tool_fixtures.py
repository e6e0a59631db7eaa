"""Extra dataset-tool fixtures made with Debian 12's Pillow 9.4.0 and NumPy 1.24.2 (the versions
of the official reference set): `apt-get install python3-pil python3-numpy`, then
`/usr/bin/python3 tools/reference/make_dataset_tool_fixtures.py`. Deterministic.

- pil_resize.npz: Image.resize(LANCZOS) on seeded random images (gray and RGB, shrinking,
  enlarging, one axis only, odd ratios), plus the two transforms the reference set lacks
  (no transform with --resolution, and center-crop-wide), written from SPEC 1.6's rules with
  Pillow calls. Keys: `<case>.src` (H x W or H x W x 3 uint8), `<case>.out`, and `index` (JSON).
- pil_png.npz: small PNGs written by Pillow in the modes a dataset may hold (16-bit gray,
  palette with and without transparency, gray + alpha, RGBA, gray with a tRNS colour) as
  `<name>.png` (the file's bytes) and `<name>.expected`, the 8-bit H x W x C pixels our decoder
  must return: np.array(img) for L/LA/RGBA, convert('RGB'/'RGBA') for palettes, and
  round(v * 255 / 65535) for 16-bit.
- numpy_random.json: RandomState permutations, the Dataset(max_size) subset rule and the
  InfiniteSampler index stream (SPEC 2.4/2.5) for a few sizes and seeds.
"""
import json

import numpy as np
import PIL.Image

rng = np.random.RandomState(2024)
arrays = {}
index = []


def image(h, w, c):
    shape = (h, w) if c == 1 else (h, w, c)
    # Smooth structure plus noise, so both edges and gradients are exercised.
    y, x = np.mgrid[0:h, 0:w]
    base = 127.5 + 100 * np.sin(x / 2.3 + y / 3.1)
    if c == 3:
        base = np.stack([base, 255 - base, (base * 0.5 + x * 7) % 256], axis=2)
    noise = rng.randint(-40, 41, size=shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def add(name, src, out, **info):
    arrays[f'{name}.src'] = src
    arrays[f'{name}.out'] = np.asarray(out, dtype=np.uint8)
    index.append(dict(name=name, **info))


resize_cases = [
    (32, 32, 1, 8, 8), (28, 28, 1, 32, 32), (17, 23, 3, 8, 8), (9, 9, 3, 16, 16),
    (64, 48, 3, 16, 16), (5, 7, 1, 13, 3), (40, 40, 3, 40, 13), (40, 40, 3, 11, 40),
    (1, 1, 3, 4, 4), (3, 100, 1, 7, 2), (97, 61, 3, 32, 32), (31, 33, 1, 64, 64),
]
for h, w, c, ow, oh in resize_cases:
    src = image(h, w, c)
    out = np.array(PIL.Image.fromarray(src).resize((ow, oh), PIL.Image.LANCZOS))
    add(f'resize_{w}x{h}x{c}_to_{ow}x{oh}', src, out, op='resize', width=ow, height=oh)

# No transform with --resolution: resize to W x H unless already that size.
for h, w, c in [(20, 12, 3), (16, 16, 1)]:
    src = image(h, w, c)
    out = np.array(PIL.Image.fromarray(src).resize((16, 16), PIL.Image.LANCZOS))
    add(f'scale_{w}x{h}x{c}', src, out, op='scale', width=16, height=16)

# center-crop-wide to 16x8: ch = rint(W * h / w) rows centred, resize, paste in a 16x16 canvas.
for h, w, c in [(12, 20, 3), (15, 33, 1), (15, 24, 1), (17, 32, 3), (10, 16, 3), (7, 16, 3), (20, 12, 3)]:
    src = image(h, w, c)
    W, H = 16, 8
    ch = int(np.rint(W * h / w))
    if w < W or ch < H:
        out = np.zeros((0, 0, 3))
    else:
        rows = src[(h - ch) // 2:(h + ch) // 2]
        if rows.ndim == 2:
            rows = np.repeat(rows[:, :, None], 3, axis=2)
        small = np.array(PIL.Image.fromarray(rows, 'RGB').resize((W, H), PIL.Image.LANCZOS))
        out = np.zeros((W, W, 3), dtype=np.uint8)
        out[(W - H) // 2:(W + H) // 2] = small
    add(f'wide_{w}x{h}x{c}', src, out, op='center-crop-wide', width=W, height=H)

arrays['index'] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
np.savez('pil_resize.npz', **arrays)

import io

import os

# Writes next to the fixtures it complements.
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'dataset_tool'))

pngs = {}


def png(name, img, expected, **params):
    buf = io.BytesIO()
    img.save(buf, format='png', **params)
    pngs[f'{name}.png'] = np.frombuffer(buf.getvalue(), dtype=np.uint8)
    pngs[f'{name}.expected'] = np.asarray(expected, dtype=np.uint8)


g16 = (np.arange(6 * 5, dtype=np.uint16).reshape(6, 5) * 2259 + 7).astype(np.uint16)
png('gray16', PIL.Image.fromarray(g16), np.floor(g16.astype(np.float64) * 255 / 65535 + 0.5)[:, :, None])
rgb = image(6, 7, 3)
pal = PIL.Image.fromarray(rgb).quantize(colors=8)
png('palette', pal, np.array(pal.convert('RGB')))
palt = pal.copy()
palt.info['transparency'] = bytes([0, 128, 255])
png('palette_trns', palt, np.array(palt.convert('RGBA')), transparency=bytes([0, 128, 255]))
la = np.stack([image(4, 9, 1), image(4, 9, 1)], axis=2)
png('gray_alpha', PIL.Image.fromarray(la, 'LA'), la)
rgba = np.concatenate([image(5, 3, 3), image(5, 3, 1)[:, :, None]], axis=2)
png('rgba', PIL.Image.fromarray(rgba, 'RGBA'), rgba)
gt = image(5, 5, 1)
png('gray_trns', PIL.Image.fromarray(gt), gt[:, :, None], transparency=int(gt[0, 0]))
np.savez('pil_png.npz', **pngs)

random = {'permutation': [], 'subset': [], 'sampler': []}
for n, seed in [(10, 0), (37, 5), (1000, 123456789)]:
    random['permutation'].append(
        dict(n=n, seed=seed, value=np.random.RandomState(seed).permutation(n).tolist()))
for n, m, seed in [(20, 7, 0), (100, 10, 3), (50, 49, 2**31 + 11)]:
    idx = np.arange(n)
    np.random.RandomState(seed % (1 << 31)).shuffle(idx)
    random['subset'].append(dict(n=n, max_size=m, seed=seed, value=np.sort(idx[:m]).tolist()))
for n, seed in [(7, 0), (37, 1), (10, 42)]:
    order = np.arange(n)
    rnd = np.random.RandomState(seed)
    rnd.shuffle(order)
    window = int(np.rint(order.size * 0.5))
    out = []
    for idx in range(300):
        i = idx % order.size
        out.append(int(order[i]))
        if window >= 2:
            j = (i - rnd.randint(window)) % order.size
            order[i], order[j] = order[j], order[i]
    random['sampler'].append(dict(n=n, seed=seed, value=out))
with open('numpy_random.json', 'w') as f:
    json.dump(random, f)
