/**
 * Training objectives (SPEC 3): VP, VE and EDM, each for diffusion (D = Infinity) or PFGM++
 * (finite D, noise from the perturbation kernel at r = sigma sqrt(D)). Each returns the official
 * per-element loss weight(sigma) (D(y + n, sigma) - target)^2, shape [B, C, H, W]; the training
 * loop sums it and divides by the batch size. Call inside `scope()` (intermediates are freed there).
 *
 * Random numbers: key `rng.seed`, Philox streams 8 step .. 8 step + 7 (sigma, then the kernel's
 * two), so every step of a run draws fresh, reproducible numbers.
 */
import {
  exp,
  mul,
  noGrad,
  rand,
  randn,
  square,
  sub,
  type Tensor,
  add,
  sqrt,
  affine,
  reciprocal,
} from '@pfgmpp/tensor';
import { type KernelConfig, TRAINING_KERNEL, checkD, perturbation } from './kernel.ts';
import { stfTargets } from './stf.ts';

/** The network as the loss calls it: D(x; sigma) with sigma of shape [B, 1, 1, 1]. */
export type LossNet = (
  x: Tensor,
  sigma: Tensor,
  classLabels?: Tensor,
  augmentLabels?: Tensor,
) => Tensor;

export interface LossBatch {
  /** Clean (augmented) images y [B, C, H, W]. */
  images: Tensor;
  classLabels?: Tensor;
  augmentLabels?: Tensor;
  /** Seed of the run and 0-based step index: together they fix this batch's noise. */
  rng: { seed: number; step: number };
}

interface KernelChoice {
  /** Augmented dimension; Infinity = diffusion. */
  D: number;
  /** See KernelConfig.betaClip (official training: 1e-3). */
  betaClip: number | null;
}

export interface VpLossConfig extends KernelChoice {
  beta_d: number;
  beta_min: number;
  epsilon_t: number;
}
export interface VeLossConfig extends KernelChoice {
  sigma_min: number;
  sigma_max: number;
}
export interface EdmLossConfig extends KernelChoice {
  P_mean: number;
  P_std: number;
  sigma_data: number;
  /** train.py --lsun: sigma scaled by 380/80 after sampling (high-resolution LSUN runs). */
  lsun: boolean;
}

export const VP_LOSS: Readonly<VpLossConfig> = {
  beta_d: 19.9,
  beta_min: 0.1,
  epsilon_t: 1e-5,
  D: Infinity,
  ...TRAINING_KERNEL,
};
export const VE_LOSS: Readonly<VeLossConfig> = {
  sigma_min: 0.02,
  sigma_max: 100,
  D: Infinity,
  ...TRAINING_KERNEL,
};
export const EDM_LOSS: Readonly<EdmLossConfig> = {
  P_mean: -1.2,
  P_std: 1.2,
  sigma_data: 0.5,
  lsun: false,
  D: Infinity,
  ...TRAINING_KERNEL,
};

/** The --lsun factor on EDM's sigma. */
export const LSUN_SIGMA_SCALE = 380 / 80;

const streamsOf = (rng: LossBatch['rng']) => {
  if (!(Number.isInteger(rng.step) && rng.step >= 0 && rng.step < 2 ** 29))
    throw new RangeError(`loss: rng.step must be an integer in [0, 2^29), got ${rng.step}`);
  return { sigma: 8 * rng.step, kernel: 8 * rng.step + 2 };
};

function batchShape(images: Tensor): number[] {
  if (images.shape.length < 2)
    throw new RangeError(`loss: images must be [B, ...], got [${images.shape.join(', ')}]`);
  return [images.shape[0] as number, ...images.shape.slice(1).map(() => 1)];
}

/** What a loss draws for one batch: the noise level [B, 1, ...] and the perturbation n [B, ...]. */
export interface LossDraws {
  sigma: Tensor;
  noise: Tensor;
}

/** weight(sigma) of each objective: 1 / sigma^2 (VP, VE), (sigma^2 + sigma_data^2) / (sigma sigma_data)^2 (EDM). */
export function lossWeight(kind: 'vp' | 've' | 'edm', sigma: Tensor, sigmaData = 0.5): Tensor {
  if (kind !== 'edm') return reciprocal(square(sigma));
  const sd2 = sigmaData * sigmaData;
  return mul(affine(square(sigma), 1 / sd2, 1), reciprocal(square(sigma)));
}

/**
 * The per-element loss weight (D(y + n, sigma) - target)^2 at given draws; the target is y unless
 * `targetOf` computes one from the noisy batch (without gradients). The losses below call it
 * after drawing sigma and n; the oracle tests call it with the official code's recorded draws.
 */
export function lossAtDraws(
  net: LossNet,
  batch: Omit<LossBatch, 'rng'>,
  draws: LossDraws,
  weight: Tensor,
  targetOf?: (noisy: Tensor) => Tensor,
): Tensor {
  const noisy = add(batch.images, draws.noise);
  const target = targetOf ? noGrad(() => targetOf(noisy)) : batch.images;
  const denoised = net(noisy, draws.sigma, batch.classLabels, batch.augmentLabels);
  return mul(weight, square(sub(denoised, target)));
}

/** The kernel's perturbation at sigma for this batch's step (streams 8 step + 2, + 3). */
function drawsAt(batch: LossBatch, sigma: Tensor, kernel: KernelConfig): LossDraws {
  const noise = perturbation(batch.images.shape, sigma, kernel, {
    seed: batch.rng.seed,
    stream: streamsOf(batch.rng).kernel,
  });
  return { sigma, noise };
}

/** VP (SPEC 3.1): t = 1 + u (eps_t - 1), sigma = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1), weight 1/sigma^2. */
export function vpLoss(net: LossNet, batch: LossBatch, config: Partial<VpLossConfig> = {}): Tensor {
  const c = { ...VP_LOSS, ...config };
  checkD(c.D, 'vpLoss');
  const u = rand(batchShape(batch.images), {
    seed: batch.rng.seed,
    stream: streamsOf(batch.rng).sigma,
  });
  const t = affine(u, c.epsilon_t - 1, 1);
  const sigma = sqrt(affine(exp(add(mul(square(t), 0.5 * c.beta_d), mul(t, c.beta_min))), 1, -1));
  return lossAtDraws(net, batch, drawsAt(batch, sigma, c), lossWeight('vp', sigma));
}

/** VE (SPEC 3.2): sigma = sigma_min (sigma_max / sigma_min)^u, weight 1/sigma^2. */
export function veLoss(net: LossNet, batch: LossBatch, config: Partial<VeLossConfig> = {}): Tensor {
  const c = { ...VE_LOSS, ...config };
  checkD(c.D, 'veLoss');
  const u = rand(batchShape(batch.images), {
    seed: batch.rng.seed,
    stream: streamsOf(batch.rng).sigma,
  });
  const sigma = mul(exp(mul(u, Math.log(c.sigma_max / c.sigma_min))), c.sigma_min);
  return lossAtDraws(net, batch, drawsAt(batch, sigma, c), lossWeight('ve', sigma));
}

/**
 * EDM (SPEC 3.3): ln sigma ~ N(P_mean, P_std^2), weight (sigma^2 + sigma_data^2) / (sigma sigma_data)^2.
 * With `stf`, the target is the Stable Target Field average over the reference batch (SPEC 3.5),
 * whose first B rows must be `batch.images`.
 */
export function edmLoss(
  net: LossNet,
  batch: LossBatch,
  config: Partial<EdmLossConfig> = {},
  stf?: { reference: Tensor },
): Tensor {
  const c = { ...EDM_LOSS, ...config };
  checkD(c.D, 'edmLoss');
  const xi = randn(batchShape(batch.images), {
    seed: batch.rng.seed,
    stream: streamsOf(batch.rng).sigma,
  });
  let sigma = exp(affine(xi, c.P_std, c.P_mean));
  if (c.lsun) sigma = mul(sigma, LSUN_SIGMA_SCALE);
  const weight = lossWeight('edm', sigma, c.sigma_data);
  const stfTarget = stf && ((noisy: Tensor) => stfTargets(noisy, sigma, stf.reference, c.D));
  return lossAtDraws(net, batch, drawsAt(batch, sigma, c), weight, stfTarget);
}
