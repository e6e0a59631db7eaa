/**
 * EDM's stochastic Heun sampler (SPEC 6.1), used unchanged for PFGM++ (the PFGM++ ODE written in
 * sigma = r / sqrt(D)); only x_0 differs (`prior`). Also the robustness variant of SPEC 6.4: the
 * alpha perturbation x_i <- x_i + alpha t_i eps at the start of each step.
 *
 * State x and times t are float64; churn and alpha noise come from per-seed Philox streams, so
 * image k depends only on seeds[k].
 */
import { checkBatch, type Denoiser, type OnStep } from './denoiser.ts';
import { blocksPerRow, seededNormals, STREAM } from './random.ts';
import { edmTimeSteps } from './schedule.ts';

export interface EdmSamplerConfig {
  numSteps: number;
  sigmaMin: number;
  sigmaMax: number;
  rho: number;
  S_churn: number;
  S_min: number;
  S_max: number;
  S_noise: number;
  /** x_i += alpha t_i eps before each step (generate_alpha.py); 0 = the plain sampler. */
  alpha: number;
}

/** EDM generate.py's defaults (PFGM++'s generate.py uses S_max = 0, S_noise = 0: same result at S_churn = 0). */
export const EDM_SAMPLER: Readonly<EdmSamplerConfig> = {
  numSteps: 18,
  sigmaMin: 0.002,
  sigmaMax: 80,
  rho: 7,
  S_churn: 0,
  S_min: 0,
  S_max: Number.POSITIVE_INFINITY,
  S_noise: 1,
  alpha: 0,
};

export interface SampleOptions {
  /** 'gaussian': latents ~ N(0, I), x_0 = latents t_0; 'pfgmpp': latents from the prior, x_0 = latents. */
  prior: 'gaussian' | 'pfgmpp';
  /** One seed per image: the key of its churn and alpha noise. */
  seeds: readonly number[];
  classLabels?: Float64Array;
  onStep?: OnStep;
}

/** The sampler's sigma range clamped to the network's, and the time steps t_0..t_n. */
export function edmSamplerSteps(net: Denoiser, c: EdmSamplerConfig): Float64Array {
  const sigmaMin = Math.max(c.sigmaMin, net.sigmaMin);
  const sigmaMax = Math.min(c.sigmaMax, net.sigmaMax);
  if (!(sigmaMin > 0 && sigmaMin < sigmaMax))
    throw new RangeError(
      `edmSampler: need 0 < sigmaMin < sigmaMax, got [${sigmaMin}, ${sigmaMax}]`,
    );
  return edmTimeSteps(c.numSteps, sigmaMin, sigmaMax, c.rho, (s) => net.roundSigma(s));
}

/** gamma_i of the churn: min(S_churn / n, sqrt(2) - 1) inside [S_min, S_max], else 0. */
export function churnGamma(c: EdmSamplerConfig, tCur: number): number {
  return c.S_min <= tCur && tCur <= c.S_max ? Math.min(c.S_churn / c.numSteps, Math.SQRT2 - 1) : 0;
}

/** Runs the sampler from `latents` (float64 [B, C, H, W]); returns x_n. */
export async function edmSampler(
  net: Denoiser,
  latents: Float64Array,
  shape: readonly number[],
  config: Partial<EdmSamplerConfig>,
  options: SampleOptions,
): Promise<Float64Array> {
  const c: EdmSamplerConfig = { ...EDM_SAMPLER, ...config };
  const rowSize = checkBatch('edmSampler', latents.length, shape);
  if (options.seeds.length !== shape[0])
    throw new RangeError(`edmSampler: ${options.seeds.length} seeds for a batch of ${shape[0]}`);
  const t = edmSamplerSteps(net, c);
  const n = c.numSteps;
  const t0 = t[0] as number;
  let xNext = options.prior === 'gaussian' ? latents.map((v) => v * t0) : latents.slice();
  const noise = (stream: number, i: number) =>
    seededNormals(options.seeds, rowSize, stream, i * blocksPerRow(rowSize));
  const D = (x: Float64Array, sigma: number) => net.denoise(x, shape, sigma, options.classLabels);

  for (let i = 0; i < n; i++) {
    const tCur = t[i] as number;
    const tNext = t[i + 1] as number;
    let xCur = xNext;
    if (c.alpha !== 0) {
      const eps = noise(STREAM.alpha, i);
      xCur = xCur.map((v, j) => v + c.alpha * tCur * (eps[j] as number));
    }
    // Churn: raise the noise level to t_hat and add the matching fresh noise.
    const gamma = churnGamma(c, tCur);
    const tHat = net.roundSigma(tCur + gamma * tCur);
    let xHat = xCur;
    if (tHat !== tCur && c.S_noise !== 0) {
      const eps = noise(STREAM.churn, i);
      const scale = Math.sqrt(tHat * tHat - tCur * tCur) * c.S_noise;
      xHat = xCur.map((v, j) => v + scale * (eps[j] as number));
    }
    // Euler step from t_hat to t_next ...
    const denoised = await D(xHat, tHat);
    const dCur = xHat.map((v, j) => (v - (denoised[j] as number)) / tHat);
    const h = tNext - tHat;
    xNext = xHat.map((v, j) => v + h * (dCur[j] as number));
    // ... and Heun's correction except at the last step (t_next = 0).
    if (i < n - 1) {
      const denoised2 = await D(xNext, tNext);
      const x1 = xNext;
      xNext = xHat.map((v, j) => {
        const dPrime = ((x1[j] as number) - (denoised2[j] as number)) / tNext;
        return v + h * (0.5 * (dCur[j] as number) + 0.5 * dPrime);
      });
    }
    options.onStep?.({ i, numSteps: n, tCur, tNext, x: xNext });
  }
  return xNext;
}
