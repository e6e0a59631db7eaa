/**
 * The explainer's numbers: how far from the data PFGM++ starts. For D augmented dimensions the
 * perturbation kernel (and the prior, which is the kernel at sigma_max) puts x - y at radius r
 * with density p(r) ∝ r^(N-1) (r^2 + D sigma^2)^(-(N+D)/2); diffusion (D -> infinity) is the
 * chi law p(r) ∝ r^(N-1) exp(-r^2 / (2 sigma^2)). Radii are shown as rho = r / (sigma sqrt(N)),
 * so the Gaussian sits near 1 for any image size; E[rho^2] = D / (D - 2) for finite D > 2.
 *
 * The samples come from the training kernel `perturbation` on the GPU (randn directions, Philox
 * radii): the same code the trainer and the prior use, not a separate formula.
 */
import { perturbation } from '@pfgmpp/pfgmpp';
import { mul, scope, sqrt, sum } from '@pfgmpp/tensor';

/** rho of `count` kernel samples in N dimensions (D = Infinity: Gaussian). */
export async function kernelRadii(
  N: number,
  D: number,
  count: number,
  seed = 0,
): Promise<Float64Array> {
  const norms = scope(() => {
    const n = perturbation([count, N], 1, { D, betaClip: null }, { seed, stream: 0 });
    return sqrt(sum(mul(n, n), [1]));
  });
  try {
    const r = await norms.read();
    return Float64Array.from(r, (v) => v / Math.sqrt(N));
  } finally {
    norms.dispose();
  }
}

/** log p(rho) up to a constant, for rho = r / (sigma sqrt(N)) (sigma = 1). */
export function logDensity(rho: number, N: number, D: number): number {
  if (rho <= 0) return Number.NEGATIVE_INFINITY;
  const r = rho * Math.sqrt(N);
  if (!Number.isFinite(D)) return (N - 1) * Math.log(r) - (r * r) / 2;
  return (N - 1) * Math.log(r) - ((N + D) / 2) * Math.log(r * r + D);
}

/** The density of rho on `xs` (evenly spaced), normalised to integrate to 1 over them. */
export function density(xs: readonly number[], N: number, D: number): number[] {
  const logs = xs.map((x) => logDensity(x, N, D));
  const top = Math.max(...logs);
  const p = logs.map((l) => Math.exp(l - top));
  const dx = (xs[1] as number) - (xs[0] as number);
  const area = p.reduce((a, v) => a + v, 0) * dx;
  return p.map((v) => v / area);
}

export interface Histogram {
  lo: number;
  hi: number;
  /** Density per bin (count / (n * width)), so it overlays `density`. */
  heights: number[];
  /** Samples past `hi`, not drawn. */
  beyond: number;
}

export function histogram(
  values: ArrayLike<number>,
  lo: number,
  hi: number,
  bins: number,
): Histogram {
  const counts = new Array<number>(bins).fill(0);
  const width = (hi - lo) / bins;
  let beyond = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!(v < hi)) {
      beyond++;
      continue;
    }
    const b = Math.floor((v - lo) / width);
    if (b >= 0) counts[b] = (counts[b] as number) + 1;
  }
  return { lo, hi, heights: counts.map((c) => c / (values.length * width)), beyond };
}

/** The q-quantile of the values (sorted copy, nearest rank). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
}
