/**
 * CPU references for pooling and bilinear resizing of NCHW images (PyTorch's max_pool2d and
 * avg_pool2d without ceil_mode, F.interpolate bilinear with align_corners=False, and TF1's
 * legacy resize_bilinear). Plain float64 loops from the definitions.
 */
import { convPair, type ConvPair } from './conv.ts';
import type { NDArray } from './ndarray.ts';

export interface Pool2dRefOptions {
  kernel: ConvPair;
  /** Defaults to the kernel. */
  stride?: ConvPair;
  padding?: ConvPair;
  /** avg only: divide by kh*kw (true, default) or by the in-bounds taps. */
  countIncludePad?: boolean;
}

function pool2dRef(x: NDArray, opts: Pool2dRefOptions, isMax: boolean): NDArray {
  const [N, C, H, W] = x.shape as unknown as [number, number, number, number];
  const [kh, kw] = convPair(opts.kernel, 1);
  const [sh, sw] = opts.stride === undefined ? [kh, kw] : convPair(opts.stride, 1);
  const [ph, pw] = convPair(opts.padding, 0);
  const OH = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
  const out = new Float64Array(N * C * OH * OW);
  let o = 0;
  for (let q = 0; q < N * C; q++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let acc = isMax ? -Infinity : 0;
        let inBounds = 0;
        let padded = 0;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const iy = oy * sh - ph + i;
            const ix = ox * sw - pw + j;
            // PyTorch's include-pad count stops at the padded border.
            if (iy < H + ph && ix < W + pw) padded++;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const v = x.data[(q * H + iy) * W + ix] as number;
            inBounds++;
            if (isMax) acc = Number.isNaN(v) || Number.isNaN(acc) ? Number.NaN : Math.max(acc, v);
            else acc += v;
          }
        }
        if (!isMax) acc /= opts.countIncludePad === false ? inBounds : padded;
        out[o++] = acc;
      }
    }
  }
  return { shape: [N, C, OH, OW], data: out };
}

/** y[n, c, oy, ox] = max over the window at (oy*sh - ph, ox*sw - pw); padding is -inf. */
export function maxPool2dRef(x: NDArray, opts: Pool2dRefOptions): NDArray {
  return pool2dRef(x, opts, true);
}

/** Window mean; the divisor follows countIncludePad (PyTorch's count_include_pad). */
export function avgPool2dRef(x: NDArray, opts: Pool2dRefOptions): NDArray {
  return pool2dRef(x, opts, false);
}

/** Mean over H and W: [N, C, H, W] -> [N, C, 1, 1]. */
export function globalAvgPoolRef(x: NDArray): NDArray {
  const [N, C, H, W] = x.shape as unknown as [number, number, number, number];
  const out = new Float64Array(N * C);
  for (let q = 0; q < N * C; q++) {
    let s = 0;
    for (let i = 0; i < H * W; i++) s += x.data[q * H * W + i] as number;
    out[q] = s / (H * W);
  }
  return { shape: [N, C, 1, 1], data: out };
}

export type ResizeMode = 'half-pixel' | 'tf1';

/**
 * Bilinear resize to [outH, outW]. Source coordinate of output pixel d (scale = in/out, rounded
 * to float32 as both frameworks compute it in float):
 *   half-pixel (PyTorch align_corners=False): s = max((d + 0.5) * scale - 0.5, 0);
 *   tf1 (TF1 resize_bilinear, half_pixel_centers=False): s = d * scale.
 * i0 = min(floor(s), in - 1), i1 = min(i0 + 1, in - 1), weights 1 - (s - i0) and s - i0.
 */
export function resizeBilinearRef(
  x: NDArray,
  size: readonly [number, number],
  mode: ResizeMode = 'half-pixel',
): NDArray {
  const [N, C, H, W] = x.shape as unknown as [number, number, number, number];
  const [OH, OW] = size;
  const taps = (outLen: number, inLen: number) => {
    const scale = Math.fround(inLen / outLen);
    return Array.from({ length: outLen }, (_, d) => {
      const s = mode === 'tf1' ? d * scale : Math.max((d + 0.5) * scale - 0.5, 0);
      const i0 = Math.min(Math.floor(s), inLen - 1);
      return { i0, i1: Math.min(i0 + 1, inLen - 1), f: s - i0 };
    });
  };
  const ty = taps(OH, H);
  const tx = taps(OW, W);
  const out = new Float64Array(N * C * OH * OW);
  let o = 0;
  for (let q = 0; q < N * C; q++) {
    const at = (iy: number, ix: number) => x.data[(q * H + iy) * W + ix] as number;
    for (const a of ty) {
      for (const b of tx) {
        const top = (1 - b.f) * at(a.i0, b.i0) + b.f * at(a.i0, b.i1);
        const bot = (1 - b.f) * at(a.i1, b.i0) + b.f * at(a.i1, b.i1);
        out[o++] = (1 - a.f) * top + a.f * bot;
      }
    }
  }
  return { shape: [N, C, OH, OW], data: out };
}
