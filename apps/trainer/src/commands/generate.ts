/**
 * `pfgmpp generate`: generate.py (SPEC 1.2-1.4). Without --network, PFGM++'s version: every
 * training state of the run folder --outdir (sampling/run-folder.ts). With --network, EDM's
 * version: loads our snapshot or an official `.pt`/`.pkl`, samples with the EDM Heun sampler (or the ablation sampler when any of --solver, --disc,
 * --schedule, --scaling is given) from Gaussian latents (D = inf) or the PFGM++ prior, and
 * writes `{seed:06d}.png`, an optional grid, a trajectory strip and raw float32 samples.
 * Image k depends only on seed k, whatever --batch is.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readNpy, toFloat32, writeNpy } from '@pfgmpp/io';
import { writeFileAtomic } from '@pfgmpp/io/node';
import { formatRanges } from '@pfgmpp/fid/node';
import {
  ablationSampler,
  classLabels,
  edmSampler,
  type SamplerStep,
  toUint8,
} from '@pfgmpp/pfgmpp';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import { ADAPTER_OPTION, openGpu } from '../device.ts';
import { type Io, progress } from '../io.ts';
import { imageGrid, trajectoryStrip } from '../pictures.ts';
import { parseBatch, parseSeeds, SAMPLING_OPTIONS, samplerChoice } from '../sampling/options.ts';
import { loadNetworkSampler } from '../sampling/network.ts';
import { RUN_FOLDER_OPTIONS, runFolder, writeSeedPngs } from '../sampling/run-folder.ts';
import { SHARD_OPTIONS, shardName, shardOption, shardSeeds } from '../sampling/shard.ts';
import type { Command } from './command.ts';

const options: OptionSpec[] = [
  ADAPTER_OPTION,
  {
    name: 'network',
    kind: 'string',
    value: 'FILE',
    help: 'network snapshot or training state (ours, or official .pt/.pkl); without it --outdir is a run folder whose training states are sampled',
  },
  {
    name: 'outdir',
    kind: 'string',
    value: 'DIR',
    help: 'with --network: where {seed:06d}.png go (omit to write only --grid/--save-npy); without: the run folder',
  },
  ...SAMPLING_OPTIONS,
  ...SHARD_OPTIONS,
  {
    name: 'aug_dim',
    kind: 'string',
    value: 'D|inf',
    help: 'PFGM++ D of the prior (with --network: default the stored D, inf = diffusion; run folder: default 128, the D every .pt must store)',
  },
  ...RUN_FOLDER_OPTIONS,
  {
    name: 'edm',
    kind: 'flag',
    help: 'run folder: sample every training state, whatever its kimg',
  },
  {
    name: 'use_pickle',
    kind: 'flag',
    help: 'run folder: sample training-state-*.pkl instead of training-state-*.pt/.safetensors',
  },
  {
    name: 'save_images',
    kind: 'flag',
    help: "run folder: write the first batch's trajectory as vis/movie.gif (a frame per step) and stop",
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

/** Options of one mode only: refused in the other, so that none is silently ignored. */
const NETWORK_ONLY = [
  'grid',
  'trajectory',
  'latents',
  'save-npy',
  'alpha',
  'quant',
  'shard',
  'shards',
];
const RUN_FOLDER_ONLY = [
  'ckpt',
  'end_ckpt',
  'edm',
  'use_pickle',
  'pfgmpp',
  'save_images',
  'resume',
];

/**
 * PFGM++ generate.py (SPEC 1.3): the training states of the run folder --outdir, each into
 * ckpt_{kimg:06d}/ (sampling/run-folder.ts).
 */
async function sampleRunFolder(v: OptionValues, io: Io): Promise<void> {
  if (v.outdir === undefined) {
    throw new UsageError(
      'give --network FILE to sample one network, or --outdir RUN_FOLDER to sample its training states',
    );
  }
  const only = NETWORK_ONLY.find((k) => v[k] !== undefined);
  if (only) {
    throw new UsageError(
      `--${only} needs --network FILE (without it, --outdir is a run folder whose training states are sampled)`,
    );
  }
  await runFolder(v, io, {
    search: v.use_pickle === true ? 'pkl' : 'pt',
    window: v.edm !== true,
    variants: [{ suffix: '', tag: '' }],
    skipExisting: true,
    saveImages: v.save_images === true ? 'movie' : null,
    hint: ' (give --network FILE to sample one file)',
  });
}

async function run(v: OptionValues, io: Io): Promise<void> {
  if (v.network === undefined) return sampleRunFolder(v, io);
  const only = RUN_FOLDER_ONLY.find((k) => v[k] !== undefined);
  if (only) {
    throw new UsageError(
      `--${only} belongs to the run-folder mode (no --network: --outdir is a run folder whose training states are sampled)`,
    );
  }
  let seeds = parseSeeds((v.seeds as string | undefined) ?? '0-63');
  const shard = shardOption(v);
  if (shard && v.latents !== undefined) {
    throw new UsageError('--latents holds the whole seed list; it cannot be combined with --shard');
  }
  const batch = parseBatch(v);
  if (!v.outdir && !v.grid && !v['save-npy'])
    throw new UsageError('nothing to write: give --outdir, --grid or --save-npy');
  const choice = samplerChoice(v, false);
  const { ablation, ablationConfig } = choice;
  if (ablation && v.alpha !== undefined)
    throw new UsageError('--alpha works with the EDM sampler only');
  if (shard) {
    const all = new Set(seeds).size;
    seeds = shardSeeds(seeds, shard);
    io.err(
      `generate: ${shardName(shard)}: ${seeds.length} of ${all} seeds (${formatRanges(seeds) || 'none'})\n`,
    );
    if (seeds.length === 0) {
      io.out('generated 0 images (this shard has no seeds)\n');
      return;
    }
  }
  await openGpu(v, io);
  const sampler = await loadNetworkSampler(
    v.network as string,
    {
      choice,
      ...(v.alpha !== undefined && { alpha: v.alpha as number }),
      ...(v.quant !== undefined && { quant: v.quant as number }),
      ...(v.aug_dim !== undefined && { augDim: v.aug_dim as string }),
      ...(v.class !== undefined && { classIdx: v.class as number }),
      batch: Math.min(batch, seeds.length),
    },
    io,
  );
  const { net, denoiser, D } = sampler;
  const edmConfig = sampler.plan.edm;
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
      x = await sampler.sample(chunk, onStep);
    }
    samples.set(x, at * plane);
    if (v.outdir) await writeSeedPngs(v.outdir as string, chunk, x, [C, R], v.subdirs === true);
    line.update(Math.min(at + batch, seeds.length), seeds.length);
  }
  line.end();
  const cols = Math.ceil(Math.sqrt(seeds.length));
  if (v.grid) {
    await mkdir(dirname(v.grid as string), { recursive: true });
    await writeFileAtomic(
      v.grid as string,
      imageGrid(toUint8(samples), [seeds.length, C, R, R], cols, R < 64 ? 2 : 1),
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
  summary: 'sample images from a network or from every training state of a run (generate.py)',
  usage:
    'pfgmpp generate --network FILE [--outdir DIR] [--seeds 0-63] [--shard I/N|auto] [options]\n' +
    '       pfgmpp generate --outdir RUN_FOLDER [--ckpt KIMG] [--end_ckpt KIMG] [--pfgmpp=1] [options]',
  description:
    'With --network (EDM generate.py): samples with the EDM Heun sampler (default 18 steps) from the\n' +
    'PFGM++ prior of the stored D, or from Gaussian latents for diffusion networks;\n' +
    '--solver/--disc/--schedule/--scaling select the ablation sampler. PNGs are named {seed:06d}.png;\n' +
    'image k depends only on seed k. --shard I/N (I 0-based) samples only block I of N contiguous\n' +
    'near-equal blocks of the sorted seeds (--shard auto: from a Kubernetes Indexed Job or a Slurm\n' +
    'job array), so machines can share one --outdir (docs/fid.md).\n\n' +
    'Without --network (PFGM++ generate.py): every training-state-*.pt (ours: .safetensors; with\n' +
    '--use_pickle=1: .pkl) in the run folder --outdir with kimg in [--ckpt, --end_ckpt] is sampled\n' +
    'into ckpt_{kimg:06d}/ (ckpt_2_ when the last seed is 50000..99999, ckpt_3_ above), in\n' +
    'subfolders of 1000 seeds, from its EMA network; --pfgmpp=1 draws the PFGM++ prior with\n' +
    'D = --aug_dim, otherwise Gaussian latents; S_max and S_noise default to 0. A folder that exists\n' +
    'is skipped, so an interrupted job resumes; folders are written under a temporary name first.',
  options,
  run,
};
