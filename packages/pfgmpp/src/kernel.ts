/**
 * The PFGM++ perturbation kernel p_r(x | y) ∝ (|x - y|^2 + r^2)^(-(N+D)/2) with r = sigma sqrt(D)
 * (SPEC 3.3): x - y = R u, u uniform on S^{N-1}, R = r sqrt(rho), rho ~ Beta-prime(N/2, D/2).
 * D = Infinity is the Gaussian kernel N(0, sigma^2 I).
 *
 * On the GPU the direction comes from `randn` (one Philox stream) and the per-sample radii, B
 * scalars, from the same generator on the CPU in float64 (Gamma variates, exact for any N and
 * D); they are uploaded as one [B, 1, 1, 1] tensor.
 */
import { div, mul, randn, sqrt, sum, type Tensor, tensor } from '@pfgmpp/tensor';
import { PhiloxStream } from './random.ts';

/** Throws unless D is Infinity or a number >= 2 (the radial law needs D >= 2 to be proper in r). */
export function checkD(D: number, where = 'PFGM++'): void {
  if (!(D === Number.POSITIVE_INFINITY || (Number.isFinite(D) && D >= 2)))
    throw new RangeError(`${where}: the augmented dimension D must be >= 2 or Infinity, got ${D}`);
}

export interface KernelConfig {
  /** Augmented dimension: >= 2, or Infinity for diffusion. */
  D: number;
  /**
   * Clip of the Beta sample before b / (1 - b): [clip, 1 - clip]. Official training code: 1e-3
   * since 2023-04-07; null = no clip (the published checkpoints and the toy notebook).
   */
  betaClip: number | null;
}

export const TRAINING_KERNEL: Readonly<Omit<KernelConfig, 'D'>> = { betaClip: 1e-3 };

/**
 * R / sigma for `count` samples of the training recipe: b ~ Beta(N/2, D/2), clipped, rho =
 * b / (1 - b + 1e-8), R / sigma = sqrt(D) sqrt(rho + 1e-8). float64, from Philox (seed, stream).
 */
export function radiusOverSigma(
  count: number,
  N: number,
  config: KernelConfig,
  rng: { seed: number; stream: number },
): Float64Array {
  checkD(config.D, 'radiusOverSigma');
  if (!Number.isFinite(config.D))
    throw new RangeError('radiusOverSigma: D = Infinity has no radius law (Gaussian)');
  if (!(Number.isInteger(N) && N >= 1))
    throw new RangeError(`radiusOverSigma: N must be an integer >= 1, got ${N}`);
  const clip = config.betaClip;
  if (clip !== null && !(clip >= 0 && clip < 0.5))
    throw new RangeError(`radiusOverSigma: betaClip must be in [0, 0.5), got ${clip}`);
  const stream = new PhiloxStream(rng.seed, rng.stream);
  const out = new Float64Array(count);
  const sqrtD = Math.sqrt(config.D);
  for (let i = 0; i < count; i++) {
    let b = stream.beta(N / 2, config.D / 2);
    if (clip !== null) b = Math.min(Math.max(b, clip), 1 - clip);
    const rho = b / (1 - b + 1e-8);
    out[i] = sqrtD * Math.sqrt(rho + 1e-8);
  }
  return out;
}

/**
 * Noise n [B, ...shape] of the kernel at per-sample sigma ([B, 1, 1, 1] tensor or one number).
 * Streams: `stream` for the direction (or the Gaussian), `stream + 1` for the radii. Call
 * inside `scope()`: the intermediates (normals, norms, radii) are freed there.
 */
export function perturbation(
  shape: readonly number[],
  sigma: Tensor | number,
  config: KernelConfig,
  rng: { seed: number; stream: number },
): Tensor {
  checkD(config.D, 'perturbation');
  const B = shape[0] ?? 0;
  const N = shape.slice(1).reduce((p, d) => p * d, 1);
  const g = randn(shape, { seed: rng.seed, stream: rng.stream });
  if (!Number.isFinite(config.D)) return mul(g, sigma);
  const radii = radiusOverSigma(B, N, config, { seed: rng.seed, stream: rng.stream + 1 });
  const bShape = [B, ...shape.slice(1).map(() => 1)];
  const axes = shape.slice(1).map((_, i) => i + 1);
  const unit = div(g, sqrt(sum(mul(g, g), axes, true)));
  return mul(unit, mul(tensor(radii, bShape), sigma));
}
