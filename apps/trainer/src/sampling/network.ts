/**
 * One network file sampled seed by seed: the network mode of `generate` (EDM's generate.py) and
 * `fid calc --network`, which scores the images in memory. Both quantize as the PNGs are
 * written (toUint8), so the FID of `fid calc --network` equals that of generate's PNGs.
 */
import type { Checkpoint } from '@pfgmpp/io';
import { rgb } from '@pfgmpp/fid/node';
import type { ImageSet } from '@pfgmpp/fid/node';
import { asDenoiser, type Precond, type PrecondDenoiser } from '@pfgmpp/nn';
import { type OnStep, quantizeState, toUint8 } from '@pfgmpp/pfgmpp';
import { loadNetwork } from '@pfgmpp/pfgmpp/node';
import { UsageError } from '../cli.ts';
import type { Io } from '../io.ts';
import { parseD, type SamplerChoice } from './options.ts';
import { sampleSeeds, type SamplingPlan } from './run-folder.ts';

export interface NetworkSampler {
  net: Precond;
  checkpoint: Checkpoint;
  denoiser: PrecondDenoiser;
  /** D of the prior; Infinity: Gaussian latents (diffusion). */
  D: number;
  plan: SamplingPlan;
  channels: number;
  resolution: number;
  /** One image per seed, float64 [B, C, R, R] in [-1, 1]. */
  sample(seeds: readonly number[], onStep?: OnStep): Promise<Float64Array>;
  dispose(): void;
}

export interface NetworkSamplerOptions {
  choice: SamplerChoice;
  /** --alpha (robustness, EDM sampler only). */
  alpha?: number;
  /** --quant: fake-quantize the weights to this many bits. */
  quant?: number;
  /** --aug_dim as given (default: the D the network stores, else inf). */
  augDim?: string;
  classIdx?: number;
  /** Images per call: the kernels are chosen for this batch before any image is computed. */
  batch: number;
}

/** Loads `file` (ours or an official .pt/.pkl) for sampling; the GPU must be open. */
export async function loadNetworkSampler(
  file: string,
  o: NetworkSamplerOptions,
  io: Io,
): Promise<NetworkSampler> {
  const { net, checkpoint, D: trainedD } = await loadNetwork(file);
  try {
    if (o.quant !== undefined) {
      const sd = await net.stateDict();
      const { state, quantized } = quantizeState(sd, o.quant);
      net.loadStateDict(state);
      io.err(`quantized ${quantized.length} weight tensors to ${o.quant} bits\n`);
    }
    const D = parseD(o.augDim, trainedD);
    if (o.classIdx !== undefined && o.classIdx >= net.labelDim) {
      throw new UsageError(
        net.labelDim
          ? `--class must be below ${net.labelDim}`
          : '--class needs a conditional network',
      );
    }
    const plan: SamplingPlan = {
      D,
      ...(o.classIdx !== undefined && { classIdx: o.classIdx }),
      ablation: o.choice.ablation,
      edm: { ...o.choice.edm, ...(o.alpha !== undefined && { alpha: o.alpha }) },
      ablationConfig: o.choice.ablationConfig,
    };
    const denoiser = asDenoiser(net);
    // The kernel rows for this batch's shapes, before any image is computed (choice.ts).
    await denoiser.tune(o.batch);
    return {
      net,
      checkpoint,
      denoiser,
      D,
      plan,
      channels: net.imgChannels,
      resolution: net.imgResolution,
      sample: (seeds, onStep) => sampleSeeds(denoiser, seeds, plan, onStep),
      dispose: () => net.dispose(),
    };
  } catch (e) {
    net.dispose();
    throw e;
  }
}

/** The settings that decide the images, for identifying a run (JSON-safe, fixed key order). */
export function samplerIdentity(s: NetworkSampler): Record<string, unknown> {
  const { plan } = s;
  return {
    D: Number.isFinite(plan.D) ? plan.D : 'inf',
    class: plan.classIdx ?? null,
    sampler: plan.ablation ? 'ablation' : 'edm',
    config: plan.ablation ? plan.ablationConfig : plan.edm,
  };
}

/**
 * The images of `seeds` as an image set, sampled batch by batch when read: uint8 as the PNGs
 * hold them (toUint8), grey repeated to RGB as the image readers of @pfgmpp/fid do.
 */
export function sampledImages(
  s: NetworkSampler,
  seeds: readonly number[],
  location: string,
): ImageSet {
  const C = s.channels;
  const R = s.resolution;
  if (C !== 1 && C !== 3) {
    throw new Error(
      `${location}: the network makes ${C}-channel images; the Inception takes 1 or 3`,
    );
  }
  const plane = C * R * R;
  return {
    location,
    count: seeds.length,
    shape: [3, R, R],
    read: async (start, n) => {
      const pixels = toUint8(await s.sample(seeds.slice(start, start + n)));
      const out = new Uint8Array(n * 3 * R * R);
      for (let k = 0; k < n; k++) {
        out.set(rgb(pixels.subarray(k * plane, (k + 1) * plane), C), k * 3 * R * R);
      }
      return out;
    },
  };
}
