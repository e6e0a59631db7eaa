/**
 * CPU reference for GroupNorm (+ optional SiLU), as torch.nn.functional.group_norm: per
 * (image, group) mean and biased variance over C/G channels x spatial, eps inside the square
 * root, per-channel affine, then silu(z) = z * sigmoid(z). Two-pass float64.
 */
import type { NDArray } from './ndarray.ts';

export interface GroupNormRefOptions {
  groups: number;
  eps?: number;
  silu?: boolean;
}

/** x [N, C, ...spatial], weight [C], bias [C] -> same shape as x. */
export function groupNormRef(
  x: NDArray,
  weight: NDArray,
  bias: NDArray,
  opts: GroupNormRefOptions,
): NDArray {
  const N = x.shape[0] as number;
  const C = x.shape[1] as number;
  const G = opts.groups;
  const eps = opts.eps ?? 1e-5;
  const hw = x.data.length / (N * C);
  const cg = C / G;
  const k = cg * hw;
  const out = new Float64Array(x.data.length);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const base = (n * C + g * cg) * hw;
      let s = 0;
      for (let i = 0; i < k; i++) s += x.data[base + i] as number;
      const mean = s / k;
      let ss = 0;
      for (let i = 0; i < k; i++) ss += ((x.data[base + i] as number) - mean) ** 2;
      const rstd = 1 / Math.sqrt(ss / k + eps);
      for (let i = 0; i < k; i++) {
        const c = g * cg + Math.floor(i / hw);
        const z =
          ((x.data[base + i] as number) - mean) * rstd * (weight.data[c] as number) +
          (bias.data[c] as number);
        out[base + i] = opts.silu ? z / (1 + Math.exp(-z)) : z;
      }
    }
  }
  return { shape: [...x.shape], data: out };
}

/**
 * The middle step of GroupNorm's backward (groupnorm_coef.wgsl): from per-plane sums
 * s1[n, c] = sum_hw dz and s2[n, c] = sum_hw dz * xhat, the per-(image, group) coefficients
 * ab = [A/k, B/k] with A = sum_{c in g} w[c] s1[n, c] (B with s2), and the parameter gradients
 * db[c] = sum_n s1[n, c], dw[c] = sum_n s2[n, c]. Float64.
 */
export function groupNormCoefRef(
  s1: ArrayLike<number>,
  s2: ArrayLike<number>,
  w: ArrayLike<number>,
  geo: { N: number; C: number; G: number; k: number },
): { ab: Float64Array; db: Float64Array; dw: Float64Array } {
  const { N, C, G, k } = geo;
  const cg = C / G;
  const ab = new Float64Array(2 * N * G);
  const db = new Float64Array(C);
  const dw = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const row = n * G + Math.floor(c / cg);
      const a = s1[n * C + c] as number;
      const b = s2[n * C + c] as number;
      ab[row] = (ab[row] as number) + ((w[c] as number) * a) / k;
      ab[N * G + row] = (ab[N * G + row] as number) + ((w[c] as number) * b) / k;
      db[c] = (db[c] as number) + a;
      dw[c] = (dw[c] as number) + b;
    }
  }
  return { ab, db, dw };
}
