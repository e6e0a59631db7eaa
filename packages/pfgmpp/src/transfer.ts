/**
 * Hyper-parameter transfer from diffusion to PFGM++ (SPEC 10.3): keep every setting expressed in
 * sigma and map it through r = sigma sqrt(D). Training draws sigma as the diffusion model does and
 * perturbs at r; sampling keeps the sigma schedule and swaps the Gaussian prior for the PFGM++
 * prior at r_max = sigma_max sqrt(D). Also the older alignment sigma sqrt(1 + N/D) (`--align`).
 */
import type { EdmSamplerConfig } from './edm-sampler.ts';
import { checkD } from './kernel.ts';
import type { PriorConfig } from './prior.ts';

/** r = sigma sqrt(D). */
export function rFromSigma(sigma: number, D: number): number {
  checkD(D, 'rFromSigma');
  return sigma * Math.sqrt(D);
}

/** sigma = r / sqrt(D). */
export function sigmaFromR(r: number, D: number): number {
  checkD(D, 'sigmaFromR');
  return r / Math.sqrt(D);
}

/** E|n|^2 of the kernel at sigma: sigma^2 N D / (D - 2) (Infinity for D = 2; sigma^2 N for D = Infinity). */
export function expectedRadiusSq(sigma: number, N: number, D: number): number {
  checkD(D, 'expectedRadiusSq');
  if (!Number.isFinite(D)) return sigma * sigma * N;
  return D === 2 ? Number.POSITIVE_INFINITY : (sigma * sigma * N * D) / (D - 2);
}

/** The old alignment factor sqrt(1 + N/D) of generate_*.py --align (1 for D = Infinity). */
export function alignFactor(N: number, D: number): number {
  checkD(D, 'alignFactor');
  return Number.isFinite(D) ? Math.sqrt(1 + N / D) : 1;
}

/** Sampler config with sigma_min and sigma_max multiplied by sqrt(1 + N/D) (--align). */
export function alignSampler<C extends Pick<EdmSamplerConfig, 'sigmaMin' | 'sigmaMax'>>(
  config: C,
  N: number,
  D: number,
): C {
  const f = alignFactor(N, D);
  return { ...config, sigmaMin: config.sigmaMin * f, sigmaMax: config.sigmaMax * f };
}

/** The PFGM++ prior that pairs with a diffusion sampler config under r = sigma sqrt(D). */
export function transferPrior(config: Pick<EdmSamplerConfig, 'sigmaMax'>, D: number): PriorConfig {
  checkD(D, 'transferPrior');
  return { D, sigmaMax: config.sigmaMax };
}
