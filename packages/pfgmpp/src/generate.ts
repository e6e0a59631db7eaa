/**
 * One batch of images from seeds (generate.py's inner loop): latents (Gaussian for D = Infinity,
 * the PFGM++ prior otherwise), class labels, then the EDM or the ablation sampler. Image k
 * depends only on seeds[k] whatever the batch.
 */
import { type AblationSamplerConfig, ablationPlan, ablationSampler } from './ablation-sampler.ts';
import type { Denoiser, OnStep } from './denoiser.ts';
import { EDM_SAMPLER, type EdmSamplerConfig, edmSampler, edmSamplerSteps } from './edm-sampler.ts';
import { checkD } from './kernel.ts';
import { classLabels, gaussianLatents, oneHotLabels, pfgmppPrior } from './prior.ts';

export type GenerateOptions = {
  /** Augmented dimension; Infinity = diffusion (Gaussian latents). */
  D: number;
  /** Fixed class for every image (conditional nets); default: a random class per seed. */
  classIdx?: number;
  /** One class per image (conditional nets), e.g. a digit per grid column; overrides classIdx. */
  classes?: readonly number[];
  onStep?: OnStep;
} & (
  | { sampler: 'edm'; config?: Partial<EdmSamplerConfig> }
  | { sampler: 'ablation'; config?: Partial<AblationSamplerConfig> }
);

/** Samples one image per seed; returns float64 [B, C, H, W] in the network's range ([-1, 1]). */
export async function generate(
  net: Denoiser,
  seeds: readonly number[],
  o: GenerateOptions,
): Promise<Float64Array> {
  checkD(o.D, 'generate');
  if (seeds.length === 0) throw new RangeError('generate: no seeds');
  const shape = [seeds.length, net.imgChannels, net.imgResolution, net.imgResolution];
  if ((o.classIdx !== undefined || o.classes !== undefined) && net.labelDim === 0)
    throw new RangeError('generate: a class was given but the network is unconditional');
  if (o.classes && o.classes.length !== seeds.length)
    throw new RangeError(`generate: ${o.classes.length} classes for ${seeds.length} seeds`);
  const labels = o.classes
    ? oneHotLabels(o.classes, net.labelDim)
    : net.labelDim > 0
      ? classLabels(seeds, net.labelDim, o.classIdx)
      : undefined;
  const pfgmpp = Number.isFinite(o.D);
  // The prior's r_max = sigma(t_0) sqrt(D): the first time step after clamping and rounding.
  const sigmaStart =
    o.sampler === 'edm'
      ? (edmSamplerSteps(net, { ...EDM_SAMPLER, ...o.config })[0] as number)
      : (() => {
          const plan = ablationPlan(net, o.config ?? {});
          return plan.schedule.sigma(plan.tSteps[0] as number);
        })();
  const latents = pfgmpp
    ? pfgmppPrior(seeds, shape, { D: o.D, sigmaMax: sigmaStart })
    : gaussianLatents(seeds, shape);
  const options = {
    prior: pfgmpp ? ('pfgmpp' as const) : ('gaussian' as const),
    seeds,
    classLabels: labels,
    onStep: o.onStep,
  };
  return o.sampler === 'edm'
    ? edmSampler(net, latents, shape, o.config ?? {}, options)
    : ablationSampler(net, latents, shape, o.config ?? {}, options);
}

/**
 * PNG pixel values of generate.py: uint8(clip(x 127.5 + 128, 0, 255)), truncated, NCHW order
 * kept. The one quantization of samples (PNGs, grids, GIFs, in-memory FID, the viewer), so every
 * score sees the pixels a PNG would hold.
 */
export function toUint8(x: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(x.length);
  // A plain loop: Uint8Array.from with a map function is ~100x slower in Node 20 (12.8M values).
  for (let i = 0; i < x.length; i++) {
    out[i] = Math.min(255, Math.max(0, Math.trunc((x[i] as number) * 127.5 + 128)));
  }
  return out;
}
