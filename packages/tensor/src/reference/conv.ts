/**
 * CPU references for 2-D convolution in NCHW, PyTorch semantics (F.conv2d and
 * F.conv_transpose2d): cross-correlation, zero padding, groups, dilation 1. Plain float64 loops
 * written from the definitions, sharing nothing with the GPU path.
 */
import type { NDArray } from './ndarray.ts';

/** A size given once for both axes or as [h, w]. */
export type ConvPair = number | readonly [number, number];

export interface Conv2dRefOptions {
  stride?: ConvPair;
  padding?: ConvPair;
  groups?: number;
}

export interface ConvTranspose2dRefOptions extends Conv2dRefOptions {
  outputPadding?: ConvPair;
}

export function convPair(v: ConvPair | undefined, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function dims4(a: NDArray, what: string): [number, number, number, number] {
  if (a.shape.length !== 4) throw new Error(`${what} must have rank 4, got [${a.shape}]`);
  return a.shape as unknown as [number, number, number, number];
}

/**
 * y[n, co, oy, ox] = bias[co] + sum_{ci, kh, kw} w[co, ci, kh, kw] *
 *   x[n, g*Cin/G + ci, oy*sh - ph + kh, ox*sw - pw + kw]   (zero outside x), g = co / (Cout/G).
 * x [N, Cin, H, W], w [Cout, Cin/G, KH, KW], bias [Cout] or null.
 */
export function conv2dRef(
  x: NDArray,
  w: NDArray,
  bias: NDArray | null,
  opts: Conv2dRefOptions = {},
): NDArray {
  const [N, Cin, H, W] = dims4(x, 'x');
  const [Cout, Cg, KH, KW] = dims4(w, 'w');
  const [sh, sw] = convPair(opts.stride, 1);
  const [ph, pw] = convPair(opts.padding, 0);
  const G = opts.groups ?? 1;
  if (Cg * G !== Cin || Cout % G !== 0) throw new Error('conv2dRef: channels and groups disagree');
  const Mg = Cout / G;
  const OH = Math.floor((H + 2 * ph - KH) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - KW) / sw) + 1;
  const out = new Float64Array(N * Cout * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Cout; co++) {
      const g = Math.floor(co / Mg);
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          let s = bias ? (bias.data[co] as number) : 0;
          for (let ci = 0; ci < Cg; ci++) {
            for (let kh = 0; kh < KH; kh++) {
              const iy = oy * sh - ph + kh;
              if (iy < 0 || iy >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ix = ox * sw - pw + kw;
                if (ix < 0 || ix >= W) continue;
                const xv = x.data[((n * Cin + g * Cg + ci) * H + iy) * W + ix] as number;
                const wv = w.data[((co * Cg + ci) * KH + kh) * KW + kw] as number;
                s += xv * wv;
              }
            }
          }
          out[((n * Cout + co) * OH + oy) * OW + ox] = s;
        }
      }
    }
  }
  return { shape: [N, Cout, OH, OW], data: out };
}

/**
 * The adjoint of conv2d in x (PyTorch's conv_transpose2d), written as a scatter: every input
 * value x[n, ci, iy, ix] adds x * w[ci, co, kh, kw] to y[n, g*Cout/G + co, iy*sh - ph + kh,
 * ix*sw - pw + kw] where that lies inside y. x [N, Cin, H, W], w [Cin, Cout/G, KH, KW];
 * y [N, Cout, (H-1)*sh - 2ph + KH + oph, (W-1)*sw - 2pw + KW + opw].
 */
export function convTranspose2dRef(
  x: NDArray,
  w: NDArray,
  bias: NDArray | null,
  opts: ConvTranspose2dRefOptions = {},
): NDArray {
  const [N, Cin, H, W] = dims4(x, 'x');
  const [Cin2, Mg, KH, KW] = dims4(w, 'w');
  const [sh, sw] = convPair(opts.stride, 1);
  const [ph, pw] = convPair(opts.padding, 0);
  const [oph, opw] = convPair(opts.outputPadding, 0);
  const G = opts.groups ?? 1;
  if (Cin2 !== Cin || Cin % G !== 0) throw new Error('convTranspose2dRef: channels disagree');
  const Cg = Cin / G;
  const Cout = Mg * G;
  const OH = (H - 1) * sh - 2 * ph + KH + oph;
  const OW = (W - 1) * sw - 2 * pw + KW + opw;
  const out = new Float64Array(N * Cout * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Cout; co++) {
      const b = bias ? (bias.data[co] as number) : 0;
      out.fill(b, (n * Cout + co) * OH * OW, (n * Cout + co + 1) * OH * OW);
    }
    for (let ci = 0; ci < Cin; ci++) {
      const g = Math.floor(ci / Cg);
      for (let iy = 0; iy < H; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const xv = x.data[((n * Cin + ci) * H + iy) * W + ix] as number;
          for (let m = 0; m < Mg; m++) {
            const co = g * Mg + m;
            for (let kh = 0; kh < KH; kh++) {
              const oy = iy * sh - ph + kh;
              if (oy < 0 || oy >= OH) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ox = ix * sw - pw + kw;
                if (ox < 0 || ox >= OW) continue;
                const o = ((n * Cout + co) * OH + oy) * OW + ox;
                out[o] =
                  (out[o] as number) + xv * (w.data[((ci * Mg + m) * KH + kh) * KW + kw] as number);
              }
            }
          }
        }
      }
    }
  }
  return { shape: [N, Cout, OH, OW], data: out };
}
