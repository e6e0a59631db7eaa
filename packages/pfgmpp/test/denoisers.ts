/** Analytic denoisers of the sampler fixtures, in float64 (the posterior means of simple data). */
import type { Denoiser } from '../src/index.ts';

function base(
  C: number,
  R: number,
  denoiseRow: (x: Float64Array, sigma: number) => Float64Array,
): Denoiser {
  return {
    imgChannels: C,
    imgResolution: R,
    labelDim: 0,
    sigmaMin: 0,
    sigmaMax: Number.POSITIVE_INFINITY,
    roundSigma: (s) => s,
    async denoise(x, shape, sigma) {
      const N = x.length / (shape[0] as number);
      const out = new Float64Array(x.length);
      for (let b = 0; b < (shape[0] as number); b++)
        out.set(denoiseRow(x.subarray(b * N, (b + 1) * N), sigma), b * N);
      return out;
    },
  };
}

/** Data ~ N(mean, variance I): D(x, sigma) = mean + (x - mean) variance / (variance + sigma^2). */
export function gaussDenoiser(C: number, R: number, variance = 0.25, mean = 0): Denoiser {
  return base(C, R, (x, s) => x.map((v) => mean + ((v - mean) * variance) / (s * s + variance)));
}

/**
 * Weighted point set mu_k: the posterior mean under the Gaussian kernel (D = Infinity) or the
 * PFGM++ kernel with augmented dimension D (weights ∝ w_k (|x - mu_k|^2 + sigma^2 D)^(-(N+D)/2)).
 */
export function mixtureDenoiser(
  C: number,
  R: number,
  points: Float64Array,
  logWeights: Float64Array,
  D = Number.POSITIVE_INFINITY,
): Denoiser {
  const N = C * R * R;
  const K = logWeights.length;
  return base(C, R, (x, s) => {
    const logits = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      let d2 = 0;
      for (let j = 0; j < N; j++) d2 += ((x[j] as number) - (points[k * N + j] as number)) ** 2;
      logits[k] =
        (logWeights[k] as number) +
        (Number.isFinite(D) ? (-(N + D) / 2) * Math.log(d2 + s * s * D) : -d2 / (2 * s * s));
    }
    const top = Math.max(...logits);
    const w = logits.map((l) => Math.exp(l - top));
    const z = w.reduce((a, b) => a + b, 0);
    const out = new Float64Array(N);
    for (let k = 0; k < K; k++)
      for (let j = 0; j < N; j++)
        out[j] = (out[j] as number) + ((w[k] as number) / z) * (points[k * N + j] as number);
    return out;
  });
}
