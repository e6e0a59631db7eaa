/**
 * `pfgmpp generate`: generate.py (SPEC 1.2-1.4). Loads our snapshot or an official `.pt`/`.pkl`,
 * samples with the EDM Heun sampler (or the ablation sampler when any of --solver, --disc,
 * --schedule, --scaling is given) from Gaussian latents (D = inf) or the PFGM++ prior, and
 * writes `{seed:06d}.png`, an optional grid, a trajectory strip and raw float32 samples.
 * Image k depends only on seed k, whatever --batch is.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { encodePng, readNpy, toFloat32, writeNpy } from '@pfgmpp/io';
import { writeFileAtomic } from '@pfgmpp/io/node';
import { asDenoiser, type Precond } from '@pfgmpp/nn';
import {
  type AblationSamplerConfig,
  ablationSampler,
  classLabels,
  type EdmSamplerConfig,
  edmSampler,
  generate,
  quantizeState,
  type SamplerStep,
} from '@pfgmpp/pfgmpp';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import { ADAPTER_OPTION, openGpu } from '../device.ts';
import { type Io, progress } from '../io.ts';
import { loadNetwork } from '../training/network.ts';
import { imageGrid, toPixels, trajectoryStrip } from '../training/pictures.ts';
import type { Command } from './command.ts';

const options: OptionSpec[] = [
  ADAPTER_OPTION,
  {
    name: 'network',
    kind: 'string',
    value: 'FILE',
    required: true,
    help: 'network snapshot or training state (ours, or official .pt/.pkl)',
  },
  {
    name: 'outdir',
    kind: 'string',
    value: 'DIR',
    help: 'where {seed:06d}.png go (omit to write only --grid/--save-npy)',
  },
  {
    name: 'seeds',
    kind: 'string',
    value: 'LIST',
    help: 'seeds, e.g. 0-63 or 1,5,10-20 (default 0-63)',
  },
  { name: 'subdirs', kind: 'flag', help: 'put images in subfolders of 1000 seeds' },
  {
    name: 'class',
    kind: 'int',
    value: 'C',
    help: 'class label for every image (conditional nets; default random per seed)',
  },
  { name: 'batch', kind: 'int', value: 'N', help: 'images per network evaluation (default 64)' },
  { name: 'steps', kind: 'int', value: 'N', help: 'sampling steps (default 18; NFE = 2N - 1)' },
  {
    name: 'sigma_min',
    kind: 'float',
    value: 'S',
    help: 'lowest noise level (default 0.002; ablation: per discretization)',
  },
  {
    name: 'sigma_max',
    kind: 'float',
    value: 'S',
    help: 'highest noise level (default 80; ablation: per discretization)',
  },
  { name: 'rho', kind: 'float', value: 'R', help: 'time-step exponent (default 7)' },
  { name: 'S_churn', kind: 'float', value: 'S', help: 'stochasticity strength (default 0)' },
  { name: 'S_min', kind: 'float', value: 'S', help: 'stochastic range start (default 0)' },
  { name: 'S_max', kind: 'float', value: 'S', help: 'stochastic range end (default inf)' },
  { name: 'S_noise', kind: 'float', value: 'S', help: 'noise inflation (default 1)' },
  {
    name: 'solver',
    kind: 'string',
    value: 'NAME',
    choices: ['euler', 'heun'],
    help: 'ablation sampler: ODE solver',
  },
  {
    name: 'disc',
    kind: 'string',
    value: 'NAME',
    choices: ['vp', 've', 'iddpm', 'edm'],
    help: 'ablation sampler: time discretization',
  },
  {
    name: 'schedule',
    kind: 'string',
    value: 'NAME',
    choices: ['vp', 've', 'linear'],
    help: 'ablation sampler: noise schedule',
  },
  {
    name: 'scaling',
    kind: 'string',
    value: 'NAME',
    choices: ['vp', 'none'],
    help: 'ablation sampler: signal scaling',
  },
  {
    name: 'aug_dim',
    kind: 'string',
    value: 'D|inf',
    help: 'PFGM++ D of the prior (default: the D stored in the checkpoint; inf = diffusion)',
  },
  {
    name: 'alpha',
    kind: 'float',
    value: 'A',
    help: 'robustness: x += alpha t eps at every step (generate_alpha.py)',
  },
  {
    name: 'quant',
    kind: 'int',
    value: 'BITS',
    help: 'robustness: fake-quantize the weights to BITS bits (generate_quant.py)',
  },
  { name: 'grid', kind: 'string', value: 'PNG', help: 'also write all images as one grid' },
  {
    name: 'trajectory',
    kind: 'string',
    value: 'PNG',
    help: 'write every step of the first 8 images as a strip',
  },
  {
    name: 'latents',
    kind: 'string',
    value: 'NPY',
    help: 'start from these latents (float32/64 [B,C,H,W], scaled as the sampler expects)',
  },
  {
    name: 'save-npy',
    kind: 'string',
    value: 'NPY',
    help: 'write the final samples as float32 [B,C,H,W] in [-1,1]',
  },
];

/** "0-3,7" -> [0, 1, 2, 3, 7]. */
export function parseSeeds(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UsageError(`--seeds must look like 0-63 or 1,5,10-20; got '${text}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new UsageError(`--seeds range ${part} is reversed`);
    if (b - a > 1e7) throw new UsageError(`--seeds range ${part} is too long`);
    for (let s = a; s <= b; s++) out.push(s);
  }
  if (out.some((s) => s >= 2 ** 32)) throw new UsageError('--seeds must be below 2^32');
  return out;
}

function storedD(net: Precond, kwargs: Record<string, unknown>): number {
  const pf = kwargs.pfgmpp === true;
  const D = typeof kwargs.D === 'number' ? kwargs.D : (net as { D?: number }).D;
  return pf && typeof D === 'number' ? D : Number.POSITIVE_INFINITY;
}

export function parseD(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (text === 'inf') return Number.POSITIVE_INFINITY;
  const D = Number(text);
  if (!Number.isInteger(D) || D < 2)
    throw new UsageError(`--aug_dim must be an integer >= 2 or 'inf'; got '${text}'`);
  return D;
}

async function run(v: OptionValues, io: Io): Promise<void> {
  const seeds = parseSeeds((v.seeds as string | undefined) ?? '0-63');
  const batch = (v.batch as number | undefined) ?? 64;
  if (batch < 1) throw new UsageError('--batch must be >= 1');
  if (!v.outdir && !v.grid && !v['save-npy'])
    throw new UsageError('nothing to write: give --outdir, --grid or --save-npy');
  await openGpu(v, io);
  const { net, checkpoint } = await loadNetwork(v.network as string);
  net.eval();
  if (v.quant !== undefined) {
    const sd = await net.stateDict();
    const { state, quantized } = quantizeState(sd, v.quant as number);
    net.loadStateDict(state);
    io.err(`quantized ${quantized.length} weight tensors to ${v.quant} bits\n`);
  }
  const kwargs = (checkpoint.initKwargs ?? {}) as Record<string, unknown>;
  const D = parseD(v.aug_dim as string | undefined, storedD(net, kwargs));
  if (v.class !== undefined && (v.class as number) >= net.labelDim) {
    throw new UsageError(
      net.labelDim
        ? `--class must be below ${net.labelDim}`
        : '--class needs a conditional network',
    );
  }
  const ablation = ['solver', 'disc', 'schedule', 'scaling'].some((k) => v[k] !== undefined);
  const edmConfig: Partial<EdmSamplerConfig> = {
    ...(v.steps !== undefined && { numSteps: v.steps as number }),
    ...(v.sigma_min !== undefined && { sigmaMin: v.sigma_min as number }),
    ...(v.sigma_max !== undefined && { sigmaMax: v.sigma_max as number }),
    ...(v.rho !== undefined && { rho: v.rho as number }),
    ...(v.S_churn !== undefined && { S_churn: v.S_churn as number }),
    ...(v.S_min !== undefined && { S_min: v.S_min as number }),
    ...(v.S_max !== undefined && { S_max: v.S_max as number }),
    ...(v.S_noise !== undefined && { S_noise: v.S_noise as number }),
    ...(v.alpha !== undefined && { alpha: v.alpha as number }),
  };
  if (ablation && v.alpha !== undefined)
    throw new UsageError('--alpha works with the EDM sampler only');
  const ablationConfig: Partial<AblationSamplerConfig> = {
    ...edmConfig,
    ...(v.solver !== undefined && { solver: v.solver as AblationSamplerConfig['solver'] }),
    ...(v.disc !== undefined && {
      discretization: v.disc as AblationSamplerConfig['discretization'],
    }),
    ...(v.schedule !== undefined && { schedule: v.schedule as AblationSamplerConfig['schedule'] }),
    ...(v.scaling !== undefined && { scaling: v.scaling as AblationSamplerConfig['scaling'] }),
  };
  delete (ablationConfig as { alpha?: number }).alpha;
  const C = net.imgChannels;
  const R = net.imgResolution;
  const plane = C * R * R;
  let given: Float64Array | null = null;
  if (v.latents) {
    const a = readNpy(new Uint8Array(await readFile(v.latents as string)));
    if (a.shape.length !== 4 || a.shape[1] !== C || a.shape[2] !== R || a.shape[3] !== R) {
      throw new Error(
        `${v.latents}: latents must be [B, ${C}, ${R}, ${R}], got [${a.shape.join(', ')}]`,
      );
    }
    if (a.shape[0] !== seeds.length) {
      throw new Error(
        `${v.latents}: ${a.shape[0]} latents for ${seeds.length} seeds (give --seeds 0-${(a.shape[0] as number) - 1})`,
      );
    }
    given = Float64Array.from(toFloat32(a));
  }

  const denoiser = asDenoiser(net);
  // The kernel rows for this batch's shapes, before any image is computed (choice.ts).
  await denoiser.tune(Math.min(batch, seeds.length));
  const samples = new Float64Array(seeds.length * plane);
  const keep = Math.min(8, seeds.length);
  const steps: Float64Array[] = [];
  const line = progress(io, 'generate:');
  for (let at = 0; at < seeds.length; at += batch) {
    const chunk = seeds.slice(at, at + batch);
    const onStep =
      v.trajectory && at === 0
        ? (s: SamplerStep) => steps.push(s.x.slice(0, keep * plane))
        : undefined;
    let x: Float64Array;
    if (given) {
      const shape = [chunk.length, C, R, R];
      const latents = given.subarray(at * plane, (at + chunk.length) * plane);
      const opts = {
        prior: Number.isFinite(D) ? ('pfgmpp' as const) : ('gaussian' as const),
        seeds: chunk,
        ...(net.labelDim && {
          classLabels: classLabels(chunk, net.labelDim, v.class as number | undefined),
        }),
        ...(onStep && { onStep }),
      };
      x = ablation
        ? await ablationSampler(denoiser, latents, shape, ablationConfig, opts)
        : await edmSampler(denoiser, latents, shape, edmConfig, opts);
    } else {
      x = await generate(denoiser, chunk, {
        D,
        ...(v.class !== undefined && { classIdx: v.class as number }),
        ...(onStep && { onStep }),
        ...(ablation
          ? { sampler: 'ablation' as const, config: ablationConfig }
          : { sampler: 'edm' as const, config: edmConfig }),
      });
    }
    samples.set(x, at * plane);
    if (v.outdir) {
      const pixels = toPixels(x);
      for (let k = 0; k < chunk.length; k++) {
        const seed = chunk[k] as number;
        const dir = v.subdirs
          ? join(v.outdir as string, String(seed - (seed % 1000)).padStart(6, '0'))
          : (v.outdir as string);
        await mkdir(dir, { recursive: true });
        const chw = pixels.subarray(k * plane, (k + 1) * plane);
        const hwc = new Uint8Array(plane);
        for (let c = 0; c < C; c++)
          for (let p = 0; p < R * R; p++) hwc[p * C + c] = chw[c * R * R + p] as number;
        await writeFile(
          join(dir, `${String(seed).padStart(6, '0')}.png`),
          encodePng({ width: R, height: R, channels: C as 1 | 3, data: hwc }),
        );
      }
    }
    line.update(Math.min(at + batch, seeds.length), seeds.length);
  }
  line.end();
  const cols = Math.ceil(Math.sqrt(seeds.length));
  if (v.grid) {
    await mkdir(dirname(v.grid as string), { recursive: true });
    await writeFileAtomic(
      v.grid as string,
      imageGrid(toPixels(samples), [seeds.length, C, R, R], cols, R < 64 ? 2 : 1),
    );
  }
  if (v.trajectory) {
    await mkdir(dirname(v.trajectory as string), { recursive: true });
    await writeFileAtomic(v.trajectory as string, trajectoryStrip(steps, [C, R], R < 64 ? 2 : 1));
  }
  if (v['save-npy']) {
    await writeFileAtomic(
      v['save-npy'] as string,
      writeNpy({
        dtype: 'float32',
        shape: [seeds.length, C, R, R],
        data: Float32Array.from(samples),
      }),
    );
  }
  io.out(
    `generated ${seeds.length} images (D = ${Number.isFinite(D) ? D : 'inf'}, ${denoiser.calls} network evaluations)\n`,
  );
  net.dispose();
}

export const generateCommand: Command = {
  name: 'generate',
  summary: 'sample images from a network (generate.py)',
  usage: 'pfgmpp generate --network FILE [--outdir DIR] [--seeds 0-63] [options]',
  description:
    'Samples with the EDM Heun sampler (default 18 steps) from the PFGM++ prior of the stored D, or\n' +
    'from Gaussian latents for diffusion networks; --solver/--disc/--schedule/--scaling select the\n' +
    'ablation sampler. PNGs are named {seed:06d}.png; image k depends only on seed k.',
  options,
  run,
};
