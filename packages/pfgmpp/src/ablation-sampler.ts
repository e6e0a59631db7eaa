/**
 * EDM's generalised ablation sampler (SPEC 6.5): a time-step discretisation, a noise schedule
 * sigma(t), a scaling s(t) and an Euler or Heun solver, chosen independently. It integrates the
 * same ODE in sigma for every D, so PFGM++ (finite D) only changes x_0 (`prior: 'pfgmpp'`, latents
 * at radius r_max = sigma(t_0) sqrt(D)); PFGM++'s own generate.py cannot reach this sampler (SPEC 13.3).
 */
import { checkBatch, type Denoiser } from './denoiser.ts';
import type { SampleOptions } from './edm-sampler.ts';
import { blocksPerRow, seededNormals, STREAM } from './random.ts';
import {
  checkSteps,
  edmTimeSteps,
  iddpmLevels,
  roundHalfEven,
  vpFit,
  vpSigma,
  vpSigmaDeriv,
  vpSigmaInv,
} from './schedule.ts';

export interface AblationSamplerConfig {
  numSteps: number;
  /** undefined: the discretisation's default range (below), then clamped to the network's. */
  sigmaMin?: number;
  sigmaMax?: number;
  rho: number;
  solver: 'euler' | 'heun';
  discretization: 'vp' | 've' | 'iddpm' | 'edm';
  schedule: 'vp' | 've' | 'linear';
  scaling: 'vp' | 'none';
  epsilon_s: number;
  C_1: number;
  C_2: number;
  M: number;
  /** Position of the second Heun evaluation (t_hat + alpha h); 1 = Heun's method. */
  alpha: number;
  S_churn: number;
  S_min: number;
  S_max: number;
  S_noise: number;
  /**
   * beta_d of the default VP sigma range: 19.9 in EDM (since its fix 62072d2), 19.1 in PFGM++'s
   * copy of the sampler (SPEC 13.14). Only used when sigmaMin/sigmaMax are undefined.
   */
  vpDefaultBetaD: number;
}

export const ABLATION_SAMPLER: Readonly<AblationSamplerConfig> = {
  numSteps: 18,
  rho: 7,
  solver: 'heun',
  discretization: 'edm',
  schedule: 'linear',
  scaling: 'none',
  epsilon_s: 1e-3,
  C_1: 0.001,
  C_2: 0.008,
  M: 1000,
  alpha: 1,
  S_churn: 0,
  S_min: 0,
  S_max: Number.POSITIVE_INFINITY,
  S_noise: 1,
  vpDefaultBetaD: 19.9,
};

/** sigma(t), sigma'(t) and sigma^-1 of one schedule, with s(t) and s'(t) of the scaling. */
interface Schedule {
  sigma(t: number): number;
  sigmaDeriv(t: number): number;
  sigmaInv(sigma: number): number;
  s(t: number): number;
  sDeriv(t: number): number;
}

export interface AblationPlan {
  sigmaMin: number;
  sigmaMax: number;
  vpBetaD: number;
  vpBetaMin: number;
  /** sigma at each discretisation point [numSteps]. */
  sigmaSteps: Float64Array;
  /** t_i = sigma^-1(roundSigma(sigma_i)), then t_n = 0 [numSteps + 1]. */
  tSteps: Float64Array;
  schedule: Schedule;
}

/** Resolves the sigma range, the VP constants, the discretisation and the schedule. */
export function ablationPlan(net: Denoiser, config: Partial<AblationSamplerConfig>): AblationPlan {
  const c: AblationSamplerConfig = { ...ABLATION_SAMPLER, ...config };
  checkSteps(c.numSteps);
  const n = c.numSteps;
  const vpDefault = (t: number) => vpSigma(c.vpDefaultBetaD, 0.1, t);
  const defaults = {
    vp: [vpDefault(c.epsilon_s), vpDefault(1)],
    ve: [0.02, 100],
    iddpm: [0.002, 81],
    edm: [0.002, 80],
  }[c.discretization];
  if (!defaults) throw new RangeError(`unknown discretization '${c.discretization}'`);
  const sigmaMin = Math.max(c.sigmaMin ?? (defaults[0] as number), net.sigmaMin);
  const sigmaMax = Math.min(c.sigmaMax ?? (defaults[1] as number), net.sigmaMax);
  if (!(sigmaMin > 0 && sigmaMin < sigmaMax))
    throw new RangeError(
      `ablationSampler: need 0 < sigmaMin < sigmaMax, got [${sigmaMin}, ${sigmaMax}]`,
    );
  const { betaD, betaMin } = vpFit(sigmaMin, sigmaMax, c.epsilon_s);

  const frac = (i: number) => (n > 1 ? i / (n - 1) : 0);
  const sigmaSteps = new Float64Array(n);
  if (c.discretization === 'vp') {
    for (let i = 0; i < n; i++)
      sigmaSteps[i] = vpSigma(betaD, betaMin, 1 + frac(i) * (c.epsilon_s - 1));
  } else if (c.discretization === 've') {
    for (let i = 0; i < n; i++) {
      const t = sigmaMax ** 2 * (sigmaMin ** 2 / sigmaMax ** 2) ** frac(i);
      sigmaSteps[i] = Math.sqrt(t);
    }
  } else if (c.discretization === 'iddpm') {
    const u = iddpmLevels(c.M, c.C_1, c.C_2).filter((v) => v >= sigmaMin && v <= sigmaMax);
    if (u.length === 0)
      throw new RangeError('ablationSampler: no iDDPM level inside the sigma range');
    for (let i = 0; i < n; i++)
      sigmaSteps[i] = u[roundHalfEven(((u.length - 1) / Math.max(n - 1, 1)) * i)] as number;
  } else {
    sigmaSteps.set(edmTimeSteps(n, sigmaMin, sigmaMax, c.rho).subarray(0, n));
  }

  const schedule = makeSchedule(c, betaD, betaMin);
  const tSteps = new Float64Array(n + 1);
  for (let i = 0; i < n; i++)
    tSteps[i] = schedule.sigmaInv(net.roundSigma(sigmaSteps[i] as number));
  return { sigmaMin, sigmaMax, vpBetaD: betaD, vpBetaMin: betaMin, sigmaSteps, tSteps, schedule };
}

function makeSchedule(c: AblationSamplerConfig, betaD: number, betaMin: number): Schedule {
  let sigma: (t: number) => number;
  let sigmaDeriv: (t: number) => number;
  let sigmaInv: (s: number) => number;
  if (c.schedule === 'vp') {
    sigma = (t) => vpSigma(betaD, betaMin, t);
    sigmaDeriv = (t) => vpSigmaDeriv(betaD, betaMin, t);
    sigmaInv = (s) => vpSigmaInv(betaD, betaMin, s);
  } else if (c.schedule === 've') {
    sigma = (t) => Math.sqrt(t);
    sigmaDeriv = (t) => 0.5 / Math.sqrt(t);
    sigmaInv = (s) => s * s;
  } else if (c.schedule === 'linear') {
    sigma = (t) => t;
    sigmaDeriv = () => 1;
    sigmaInv = (s) => s;
  } else {
    throw new RangeError(`unknown schedule '${c.schedule}'`);
  }
  if (c.scaling === 'vp') {
    const s = (t: number) => 1 / Math.sqrt(1 + sigma(t) ** 2);
    return { sigma, sigmaDeriv, sigmaInv, s, sDeriv: (t) => -sigma(t) * sigmaDeriv(t) * s(t) ** 3 };
  }
  if (c.scaling !== 'none') throw new RangeError(`unknown scaling '${c.scaling}'`);
  return { sigma, sigmaDeriv, sigmaInv, s: () => 1, sDeriv: () => 0 };
}

/**
 * Runs the sampler from `latents` (float64 [B, C, H, W]). x_0 = latents sigma(t_0) s(t_0) for
 * Gaussian latents, latents s(t_0) for PFGM++ prior latents (drawn with r_max = sigma(t_0) sqrt(D),
 * see `ablationPlan(...).tSteps`). The state (and `onStep`'s x) is the scaled variable s(t) x.
 */
export async function ablationSampler(
  net: Denoiser,
  latents: Float64Array,
  shape: readonly number[],
  config: Partial<AblationSamplerConfig>,
  options: SampleOptions,
): Promise<Float64Array> {
  const c: AblationSamplerConfig = { ...ABLATION_SAMPLER, ...config };
  const rowSize = checkBatch('ablationSampler', latents.length, shape);
  if (options.seeds.length !== shape[0])
    throw new RangeError(
      `ablationSampler: ${options.seeds.length} seeds for a batch of ${shape[0]}`,
    );
  if (!(c.alpha > 0)) throw new RangeError(`ablationSampler: alpha must be > 0, got ${c.alpha}`);
  const { tSteps, schedule: S } = ablationPlan(net, c);
  const n = c.numSteps;
  const t0 = tSteps[0] as number;
  const scale0 = (options.prior === 'gaussian' ? S.sigma(t0) : 1) * S.s(t0);
  let xNext = latents.map((v) => v * scale0);
  // d/dt of the scaled state: (sigma'/sigma + s'/s) x - sigma' s / sigma D(x / s, sigma).
  const slope = async (x: Float64Array, t: number) => {
    const sig = S.sigma(t);
    const s = S.s(t);
    const denoised = await net.denoise(
      x.map((v) => v / s),
      shape,
      sig,
      options.classLabels,
    );
    const a = S.sigmaDeriv(t) / sig + S.sDeriv(t) / s;
    const b = (S.sigmaDeriv(t) * s) / sig;
    return x.map((v, j) => a * v - b * (denoised[j] as number));
  };

  for (let i = 0; i < n; i++) {
    const tCur = tSteps[i] as number;
    const tNext = tSteps[i + 1] as number;
    const xCur = xNext;
    const sigCur = S.sigma(tCur);
    const gamma =
      c.S_min <= sigCur && sigCur <= c.S_max ? Math.min(c.S_churn / n, Math.SQRT2 - 1) : 0;
    const tHat = S.sigmaInv(net.roundSigma(sigCur + gamma * sigCur));
    const ratio = S.s(tHat) / S.s(tCur);
    const noiseScale =
      Math.sqrt(Math.max(S.sigma(tHat) ** 2 - sigCur ** 2, 0)) * S.s(tHat) * c.S_noise;
    let xHat: Float64Array;
    if (noiseScale !== 0) {
      const eps = seededNormals(options.seeds, rowSize, STREAM.churn, i * blocksPerRow(rowSize));
      xHat = xCur.map((v, j) => ratio * v + noiseScale * (eps[j] as number));
    } else {
      xHat = xCur.map((v) => ratio * v);
    }
    const h = tNext - tHat;
    const dCur = await slope(xHat, tHat);
    if (c.solver === 'euler' || i === n - 1) {
      xNext = xHat.map((v, j) => v + h * (dCur[j] as number));
    } else if (c.solver === 'heun') {
      const xPrime = xHat.map((v, j) => v + c.alpha * h * (dCur[j] as number));
      const dPrime = await slope(xPrime, tHat + c.alpha * h);
      const w = 1 / (2 * c.alpha);
      xNext = xHat.map(
        (v, j) => v + h * ((1 - w) * (dCur[j] as number) + w * (dPrime[j] as number)),
      );
    } else {
      throw new RangeError(`unknown solver '${c.solver}'`);
    }
    options.onStep?.({ i, numSteps: n, tCur, tNext, x: xNext });
  }
  return xNext;
}
