/**
 * The scores: Frechet Inception Distance from two (mu, sigma) pairs, Kernel Inception Distance
 * (unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets, as StyleGAN3
 * and clean-fid) and Inception Score (10 splits of softmax(logits without bias)). All in
 * float64; the matrix products of KID may run on the GPU through `gram`.
 */
import { Mt19937, permutation } from '@pfgmpp/io';
import { type Gpu, matmul, tensor } from '@pfgmpp/tensor';
import { traceSqrtProduct } from './fast-linalg.ts';
import type { Stats } from './stats.ts';

/**
 * FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2), the trace square root in float64
 * (SciPy's sqrtm route of EDM and pytorch-fid gives the same value to ~1e-10 relative), blocked
 * in WebAssembly SIMD (fast-linalg.ts: 2-3 s for 2048-d statistics on a 2-vCPU VM).
 */
export function frechetDistance(
  a: Pick<Stats, 'mu' | 'sigma'>,
  b: Pick<Stats, 'mu' | 'sigma'>,
): number {
  const d = a.mu.length;
  if (b.mu.length !== d || a.sigma.length !== d * d || b.sigma.length !== d * d) {
    throw new Error(
      `statistics do not match: mu [${a.mu.length}] sigma ${a.sigma.length} values vs mu [${b.mu.length}] sigma ${b.sigma.length} values`,
    );
  }
  let m = 0;
  for (let i = 0; i < d; i++) m += ((a.mu[i] as number) - (b.mu[i] as number)) ** 2;
  let tr = 0;
  for (let i = 0; i < d; i++) tr += (a.sigma[i * d + i] as number) + (b.sigma[i * d + i] as number);
  return m + tr - 2 * traceSqrtProduct(a.sigma, b.sigma, d);
}

/** a [m, d] times b [m2, d]^T -> [m, m2]. */
export type Gram = (
  a: Float32Array,
  b: Float32Array,
  m: number,
  m2: number,
  d: number,
) => Promise<ArrayLike<number>>;

/** The CPU Gram matrix in float64. */
export const cpuGram: Gram = async (a, b, m, m2, d) => {
  const out = new Float64Array(m * m2);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m2; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (a[i * d + k] as number) * (b[j * d + k] as number);
      out[i * m2 + j] = s;
    }
  }
  return out;
};

/** The Gram matrix on the GPU (float32). */
export function gpuGram(gpu: Gpu): Gram {
  return async (a, b, m, m2, d) => {
    const ta = tensor(a, [m, d], gpu);
    const tb = tensor(b, [m2, d], gpu);
    const g = matmul(ta, tb, { transB: true });
    ta.dispose();
    tb.dispose();
    const out = await g.read();
    g.dispose();
    return out;
  };
}

export interface KidOptions {
  /** Subsets to average over (default 100). */
  subsets?: number;
  /** Samples per subset: min(n1, n2, this) (default 1000). */
  subsetSize?: number;
  seed?: number;
  gram?: Gram;
}

export interface Score {
  mean: number;
  std: number;
}

function rows(x: Float32Array, idx: Int32Array, m: number, d: number): Float32Array {
  const out = new Float32Array(m * d);
  for (let i = 0; i < m; i++) {
    const r = idx[i] as number;
    out.set(x.subarray(r * d, (r + 1) * d), i * d);
  }
  return out;
}

/**
 * KID between features x [n1, d] and y [n2, d]: for each subset of m rows of each, the unbiased
 * MMD^2 with k(u, v) = (u.v / d + 1)^3; mean and std over subsets. Reported raw (papers often
 * multiply by 1000).
 */
export async function kernelInceptionDistance(
  x: Float32Array,
  n1: number,
  y: Float32Array,
  n2: number,
  d: number,
  options: KidOptions = {},
): Promise<Score> {
  const m = Math.min(n1, n2, options.subsetSize ?? 1000);
  if (m < 2) throw new Error(`KID needs at least 2 samples on each side, got ${n1} and ${n2}`);
  const subsets = options.subsets ?? 100;
  const gram = options.gram ?? cpuGram;
  const rng = new Mt19937(options.seed ?? 0);
  const k = (v: number) => (v / d + 1) ** 3;
  const values: number[] = [];
  for (let s = 0; s < subsets; s++) {
    const a = rows(x, permutation(n1, rng), m, d);
    const b = rows(y, permutation(n2, rng), m, d);
    const [kxx, kyy, kxy] = await Promise.all([
      gram(a, a, m, m, d),
      gram(b, b, m, m, d),
      gram(a, b, m, m, d),
    ]);
    let off = 0;
    let cross = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        if (i !== j) off += k(kxx[i * m + j] as number) + k(kyy[i * m + j] as number);
        cross += k(kxy[i * m + j] as number);
      }
    }
    values.push(off / (m * (m - 1)) - (2 * cross) / (m * m));
  }
  return meanStd(values);
}

function meanStd(values: readonly number[]): Score {
  const mean = values.reduce((p, v) => p + v, 0) / values.length;
  const variance = values.reduce((p, v) => p + (v - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance) };
}

/**
 * Inception Score of logits [n, classes] (without the fc bias): softmax in float64, then per
 * split exp(mean KL(p(y|x) || p(y))); mean and (population) std over the splits.
 */
export function inceptionScore(
  logits: ArrayLike<number>,
  n: number,
  classes: number,
  splits = 10,
): Score {
  if (n < splits)
    throw new Error(
      `Inception Score with ${splits} splits needs at least ${splits} images, got ${n}`,
    );
  const p = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[i * classes + c] as number);
    let z = 0;
    for (let c = 0; c < classes; c++) {
      const v = Math.exp((logits[i * classes + c] as number) - max);
      p[i * classes + c] = v;
      z += v;
    }
    for (let c = 0; c < classes; c++) p[i * classes + c] = (p[i * classes + c] as number) / z;
  }
  const scores: number[] = [];
  for (let s = 0; s < splits; s++) {
    const lo = Math.floor((s * n) / splits);
    const hi = Math.floor(((s + 1) * n) / splits);
    const py = new Float64Array(classes);
    for (let i = lo; i < hi; i++)
      for (let c = 0; c < classes; c++) py[c] = (py[c] as number) + (p[i * classes + c] as number);
    for (let c = 0; c < classes; c++) py[c] = (py[c] as number) / (hi - lo);
    let kl = 0;
    for (let i = lo; i < hi; i++) {
      for (let c = 0; c < classes; c++) {
        const v = p[i * classes + c] as number;
        if (v > 0) kl += v * (Math.log(v) - Math.log(py[c] as number));
      }
    }
    scores.push(Math.exp(kl / (hi - lo)));
  }
  return meanStd(scores);
}
