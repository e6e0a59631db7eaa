/**
 * Pictures people would rather look at than read: image grids (samples, trajectories) and a
 * loss curve, as PNG bytes. Drawn into plain RGB buffers; no plotting dependency. Shared by
 * training (the loss curve) and sampling (grids, trajectory strips).
 */
import { encodePng, type Image } from '@pfgmpp/io';
import { toUint8 } from '@pfgmpp/pfgmpp';
import { Canvas } from './canvas.ts';

/** uint8 NCHW images (C = 1 or 3) tiled `cols` per row with a 2-pixel gap, scaled by `zoom`. */
export function imageGrid(
  pixels: Uint8Array,
  shape: readonly [number, number, number, number],
  cols: number,
  zoom = 1,
): Uint8Array {
  const [N, C, H, W] = shape;
  const gap = 2;
  const rows = Math.ceil(N / cols);
  const width = cols * (W * zoom + gap) + gap;
  const height = rows * (H * zoom + gap) + gap;
  const data = new Uint8Array(width * height * 3).fill(40);
  for (let n = 0; n < N; n++) {
    const ox = gap + (n % cols) * (W * zoom + gap);
    const oy = gap + Math.floor(n / cols) * (H * zoom + gap);
    for (let y = 0; y < H * zoom; y++) {
      for (let x = 0; x < W * zoom; x++) {
        const src = Math.floor(y / zoom) * W + Math.floor(x / zoom);
        const dst = ((oy + y) * width + ox + x) * 3;
        for (let c = 0; c < 3; c++) {
          data[dst + c] = pixels[(n * C + (C === 1 ? 0 : c)) * H * W + src] as number;
        }
      }
    }
  }
  const img: Image = { width, height, channels: 3, data };
  return encodePng(img, 6);
}

const fmt = (v: number) =>
  Math.abs(v) >= 1e4 || Math.abs(v) < 1e-2 ? v.toExponential(1) : v.toPrecision(3);

/**
 * Loss against kimg on a log scale: the raw per-step values in grey and a moving average in
 * blue, min/max labelled on the axes.
 */
export function lossCurve(kimg: readonly number[], loss: readonly number[]): Uint8Array {
  const c = new Canvas(640, 360);
  const [L, R, T, B] = [56, 624, 16, 332];
  c.line(L, B, R, B, [0, 0, 0]);
  c.line(L, T, L, B, [0, 0, 0]);
  const pts = loss
    .map((v, i) => [kimg[i] as number, v] as const)
    .filter(([, v]) => v > 0 && Number.isFinite(v));
  if (pts.length >= 1) {
    const ys = pts.map(([, v]) => Math.log10(v));
    const lo = Math.min(...ys);
    const hi = Math.max(...ys, lo + 1e-6);
    const x0 = pts[0]?.[0] as number;
    const x1 = Math.max(pts[pts.length - 1]?.[0] as number, x0 + 1e-9);
    const px = (k: number) => L + ((k - x0) / (x1 - x0)) * (R - L);
    const py = (y: number) => B - ((y - lo) / (hi - lo)) * (B - T);
    pts.forEach(([k], i) => c.dot(px(k), py(ys[i] as number), [170, 170, 170]));
    const w = Math.max(1, Math.round(pts.length / 50));
    let prev: [number, number] | null = null;
    for (let i = 0; i < pts.length; i++) {
      const from = Math.max(0, i - w + 1);
      const avg = ys.slice(from, i + 1).reduce((a, b) => a + b, 0) / (i + 1 - from);
      const p: [number, number] = [px(pts[i]?.[0] as number), py(avg)];
      if (prev) c.line(prev[0], prev[1], p[0], p[1], [30, 90, 200]);
      prev = p;
    }
    c.text(4, T, fmt(10 ** hi), [0, 0, 0]);
    c.text(4, B - 5, fmt(10 ** lo), [0, 0, 0]);
    c.text(L, B + 8, `${fmt(x0)}k`, [0, 0, 0]);
    c.text(R - 40, B + 8, `${fmt(x1)}k`, [0, 0, 0]);
  }
  return c.png();
}

/**
 * Every sampler step of the first images as one PNG: a row per image, a column per step.
 * `states[i]` holds the state after step i for the first `states[i].length / (C*R*R)` images.
 */
export function trajectoryStrip(
  states: readonly Float64Array[],
  shape: readonly [number, number],
  zoom: number,
): Uint8Array {
  const [C, R] = shape;
  const plane = C * R * R;
  const n = states.length;
  const rows = (states[0]?.length ?? 0) / plane;
  const tiles = new Uint8Array(rows * n * plane);
  for (let k = 0; k < rows; k++) {
    for (let i = 0; i < n; i++) {
      const x = (states[i] as Float64Array).subarray(k * plane, (k + 1) * plane);
      tiles.set(toUint8(x), (k * n + i) * plane);
    }
  }
  return imageGrid(tiles, [rows * n, C, R, R], n, zoom);
}
