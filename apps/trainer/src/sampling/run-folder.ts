/**
 * The run-folder mode of PFGM++'s generate.py and of generate_alpha/steps/quant.py (SPEC 1.3,
 * 1.4): every training state in --outdir whose kimg lies in [--ckpt, --end_ckpt] is sampled
 * into `outdir/ckpt_{kimg:06d}[suffix]/{s - s mod 1000:06d}/{s:06d}.png`.
 *
 * An existing output folder counts as finished and is skipped (not by generate_quant), so an
 * interrupted job resumes where it stopped. Unlike the original, a folder is written under a
 * temporary name (`.tmp-ckpt_...`, which fid's `ckpt_*` globs do not match) and renamed when its
 * last image is written, so a half-written folder is never taken for a finished one.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodePng } from '@pfgmpp/io';
import { writeFileAtomic } from '@pfgmpp/io/node';
import { asDenoiser, type Precond } from '@pfgmpp/nn';
import {
  type AblationSamplerConfig,
  ablationSampler,
  classLabels,
  type Denoiser,
  type EdmSamplerConfig,
  edmSampler,
  generate,
  type OnStep,
  pfgmppPrior,
  quantizeState,
  storedD,
  toUint8,
} from '@pfgmpp/pfgmpp';
import { loadNetwork } from '@pfgmpp/pfgmpp/node';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import { openGpu } from '../device.ts';
import { type Io, progress } from '../io.ts';
import { imageGrid } from '../pictures.ts';
import { trajectoryGif } from './gif.ts';
import { parseBatch, parseD, parseSeeds, samplerChoice } from './options.ts';

/** Options of every run-folder command (generate without --network, generate_*). */
export const RUN_FOLDER_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'ckpt',
    kind: 'int',
    value: 'KIMG',
    help: 'run folder: first kimg of the window of states sampled (default 0)',
  },
  {
    name: 'end_ckpt',
    kind: 'int',
    value: 'KIMG',
    help: 'run folder: last kimg of the window, included (default 100000000)',
  },
  {
    name: 'pfgmpp',
    kind: 'flag',
    help: 'run folder: draw the PFGM++ prior with D = --aug_dim (default: Gaussian latents, D = inf)',
  },
  {
    name: 'resume',
    kind: 'string',
    value: 'X',
    help: 'accepted and ignored (the original declares it but has no use for it)',
  },
];

// --------------------------------------------------------------------------------------------
// Which files are training states, and what the outputs are called.

/** generate: training-state-*.pt (with ours); --use_pickle: *.pkl; --edm=1 of generate_*: snapshots. */
export type StateSearch = 'pt' | 'pkl' | 'snapshot';

export const SEARCHED: Record<StateSearch, string> = {
  pt: 'training-state-*.pt or training-state-*.safetensors',
  pkl: 'training-state-*.pkl',
  snapshot: 'network-snapshot-*.pkl or network-snapshot-*.safetensors',
};

export interface StateFile {
  name: string;
  path: string;
  kimg: number;
  /** Images past kimg * 1000 in our names (`training-state-000001.500.safetensors`). */
  rest: number;
  /** .pt and ours: the network must store D = --aug_dim (the original asserts it for .pt). */
  checkD: boolean;
}

/**
 * The states among the file names of `dir`, by kimg. The kimg is the number before the
 * extension ({kimg:06d}; ours may add .NNN images); snapshots (--edm=1) all count as kimg 0,
 * as in the original. Names the glob matches but whose kimg cannot be read are `unreadable`.
 */
export function matchStates(
  dir: string,
  names: readonly string[],
  search: StateSearch,
): { states: StateFile[]; unreadable: string[] } {
  const states: StateFile[] = [];
  const unreadable: string[] = [];
  for (const name of names) {
    const m = /^(training-state|network-snapshot)-(.*)\.(pt|pkl|safetensors)$/.exec(name);
    if (!m) continue;
    const [, kind, tag, ext] = m as unknown as [string, string, string, string];
    const wanted =
      search === 'snapshot'
        ? kind === 'network-snapshot' && ext !== 'pt'
        : kind === 'training-state' && (search === 'pkl') === (ext === 'pkl');
    if (!wanted) continue;
    const path = join(dir, name);
    if (search === 'snapshot') {
      states.push({ name, path, kimg: 0, rest: 0, checkD: false });
      continue;
    }
    const k = (ext === 'safetensors' ? /^(\d{6,})(?:\.(\d{3}))?$/ : /^(\d{6,})$/).exec(tag);
    if (!k) unreadable.push(name);
    else
      states.push({
        name,
        path,
        kimg: Number(k[1]),
        rest: Number(k[2] ?? 0),
        checkD: ext !== 'pkl',
      });
  }
  states.sort((a, b) => a.kimg - b.kimg || a.rest - b.rest || (a.name < b.name ? -1 : 1));
  return { states, unreadable };
}

/**
 * The states to sample: kimg in [ckpt, endCkpt] (all with `window` null), one per kimg (the
 * latest; states of one kimg share an output folder).
 */
export function selectStates(
  states: readonly StateFile[],
  window: { ckpt: number; endCkpt: number } | null,
): { chosen: StateFile[]; outside: StateFile[]; superseded: StateFile[] } {
  const inside = window
    ? states.filter((s) => s.kimg >= window.ckpt && s.kimg <= window.endCkpt)
    : [...states];
  const outside = states.filter((s) => !inside.includes(s));
  const chosen = inside.filter((s, i) => inside[i + 1]?.kimg !== s.kimg);
  const superseded = inside.filter((s) => !chosen.includes(s));
  return { chosen, outside, superseded };
}

const pad6 = (n: number) => String(n).padStart(6, '0');

/** `ckpt_{kimg:06d}{suffix}`; `ckpt_2_` when the last seed is 50000..99999, `ckpt_3_` above. */
export function ckptFolder(kimg: number, lastSeed: number, suffix = ''): string {
  const tag = lastSeed > 99999 ? 'ckpt_3_' : lastSeed > 49999 ? 'ckpt_2_' : 'ckpt_';
  return `${tag}${pad6(kimg)}${suffix}`;
}

/** Seeds in ceil(S / batch) contiguous near-equal batches, the first S mod k one larger (SPEC 6.3). */
export function splitSeeds(seeds: readonly number[], batch: number): number[][] {
  const k = Math.ceil(seeds.length / batch);
  const out: number[][] = [];
  for (let i = 0, at = 0; i < k; i++) {
    const n = Math.floor(seeds.length / k) + (i < seeds.length % k ? 1 : 0);
    out.push(seeds.slice(at, at + n));
    at += n;
  }
  return out;
}

/** Image k as `dir/[{s - s mod 1000:06d}/]{s:06d}.png`, L for one channel, RGB for three. */
export async function writeSeedPngs(
  dir: string,
  seeds: readonly number[],
  x: Float64Array,
  shape: readonly [number, number],
  subdirs: boolean,
): Promise<void> {
  const [C, R] = shape;
  const plane = C * R * R;
  const pixels = toUint8(x);
  const made = new Set<string>();
  for (let k = 0; k < seeds.length; k++) {
    const seed = seeds[k] as number;
    const sub = subdirs ? join(dir, pad6(seed - (seed % 1000))) : dir;
    if (!made.has(sub)) await mkdir(sub, { recursive: true });
    made.add(sub);
    const chw = pixels.subarray(k * plane, (k + 1) * plane);
    const hwc = new Uint8Array(plane);
    for (let c = 0; c < C; c++)
      for (let p = 0; p < R * R; p++) hwc[p * C + c] = chw[c * R * R + p] as number;
    await writeFile(
      join(sub, `${pad6(seed)}.png`),
      encodePng({ width: R, height: R, channels: C as 1 | 3, data: hwc }),
    );
  }
}

// --------------------------------------------------------------------------------------------
// Sampling.

export interface SamplingPlan {
  /** Augmented dimension of the prior; Infinity: Gaussian latents. */
  D: number;
  classIdx?: number;
  ablation: boolean;
  edm: Partial<EdmSamplerConfig>;
  ablationConfig: Partial<AblationSamplerConfig>;
  /**
   * The prior's radius scale (r_max = priorSigma sqrt(D)) where it is not the first time step:
   * the robustness scripts always use 80, whatever --sigma_max (SPEC 1.4).
   */
  priorSigma?: number;
}

/** One batch: an image per seed, float64 [B, C, H, W] in [-1, 1]. */
export async function sampleSeeds(
  net: Denoiser,
  seeds: readonly number[],
  p: SamplingPlan,
  onStep?: OnStep,
): Promise<Float64Array> {
  const common = {
    D: p.D,
    ...(p.classIdx !== undefined && { classIdx: p.classIdx }),
    ...(onStep && { onStep }),
  };
  if (p.priorSigma === undefined || !Number.isFinite(p.D)) {
    return p.ablation
      ? generate(net, seeds, { ...common, sampler: 'ablation', config: p.ablationConfig })
      : generate(net, seeds, { ...common, sampler: 'edm', config: p.edm });
  }
  const shape = [seeds.length, net.imgChannels, net.imgResolution, net.imgResolution];
  const latents = pfgmppPrior(seeds, shape, { D: p.D, sigmaMax: p.priorSigma });
  const options = {
    prior: 'pfgmpp' as const,
    seeds,
    ...(net.labelDim && { classLabels: classLabels(seeds, net.labelDim, p.classIdx) }),
    ...(onStep && { onStep }),
  };
  return p.ablation
    ? ablationSampler(net, latents, shape, p.ablationConfig, options)
    : edmSampler(net, latents, shape, p.edm, options);
}

/** One pass over each state: the plain sampler (generate), or one per alpha, step count, bits. */
export interface Variant {
  /** After ckpt_{kimg:06d}: '' or e.g. '_alpha_0.1'. */
  suffix: string;
  /** --save_images of generate_*: `ode_images_{kimg}_{tag}.png`. */
  tag: string;
  alpha?: number;
  numSteps?: number;
  /** Fake-quantize the weights to this many bits (generate_quant). */
  bits?: number;
}

export interface RunFolderJob {
  outdir: string;
  states: readonly StateFile[];
  seeds: readonly number[];
  batch: number;
  variants: readonly Variant[];
  /** An existing output folder is finished work (all but generate_quant). */
  skipExisting: boolean;
  /**
   * --save_images: 'movie' (generate) writes the first batch's trajectory to vis/movie.gif
   * and stops; 'grids' (generate_*) the first batch of every variant as ode_images_*.png.
   */
  saveImages: 'movie' | 'grids' | null;
  plan: SamplingPlan;
  /** --aug_dim: the D that every .pt / .safetensors network must store. */
  augDim: number;
  /** Opens the GPU before the first network is loaded (not at all when everything is done). */
  open?: () => Promise<unknown>;
}

function checkNetwork(
  s: StateFile,
  net: Precond,
  kwargs: Record<string, unknown>,
  job: RunFolderJob,
) {
  const D = storedD(net, kwargs);
  if (s.checkD && D !== undefined && D !== job.augDim) {
    throw new Error(
      `${s.path}: the network stores D = ${D} but --aug_dim is ${job.augDim}; give --aug_dim ${D} (the original asserts net.D == aug_dim)`,
    );
  }
  if (D === undefined && Number.isFinite(job.plan.D)) {
    throw new Error(
      `${s.path}: ${net.className} stores no D, it is a diffusion network: sample it with --pfgmpp=0`,
    );
  }
  const c = job.plan.classIdx;
  if (c !== undefined && c >= net.labelDim) {
    throw new Error(
      `${s.path}: --class ${c} needs a conditional network with more than ${c} classes (it has ${net.labelDim})`,
    );
  }
}

/** Samples every state of the job; see the module comment. */
export async function runFolderJob(job: RunFolderJob, io: Io): Promise<void> {
  const lastSeed = job.seeds[job.seeds.length - 1] as number;
  const batches = splitSeeds(job.seeds, job.batch);
  const first = batches[0] as number[];
  let open = job.open;
  for (const state of job.states) {
    const todo = job.variants.filter((variant) => {
      const name = ckptFolder(state.kimg, lastSeed, variant.suffix);
      if (job.saveImages || !job.skipExisting || !existsSync(join(job.outdir, name))) return true;
      io.out(`${name}: already there, skipped (remove it to sample ${state.name} again)\n`);
      return false;
    });
    if (!todo.length) continue;
    await open?.();
    open = undefined;
    const { net, checkpoint } = await loadNetwork(state.path, 'ema');
    try {
      checkNetwork(state, net, (checkpoint.initKwargs ?? {}) as Record<string, unknown>, job);
      const denoiser = asDenoiser(net);
      // The kernel rows for this network's shapes, before any image is computed (choice.ts).
      await denoiser.tune(first.length);
      const shape = [net.imgChannels, net.imgResolution] as const;
      const weights = todo.some((t) => t.bits !== undefined) ? await net.stateDict() : null;
      for (const variant of todo) {
        if (weights && variant.bits !== undefined) {
          // From the file's weights each time, as the original re-loads the checkpoint.
          net.loadStateDict(quantizeState(weights, variant.bits).state);
        }
        const plan: SamplingPlan = {
          ...job.plan,
          edm: {
            ...job.plan.edm,
            ...(variant.alpha !== undefined && { alpha: variant.alpha }),
            ...(variant.numSteps !== undefined && { numSteps: variant.numSteps }),
          },
          ablationConfig: {
            ...job.plan.ablationConfig,
            ...(variant.numSteps !== undefined && { numSteps: variant.numSteps }),
          },
        };
        if (job.saveImages === 'movie') {
          const frames: Float64Array[] = [];
          await sampleSeeds(denoiser, first, plan, (s) => frames.push(s.x.slice()));
          await mkdir(join(job.outdir, 'vis'), { recursive: true });
          const gif = join(job.outdir, 'vis', 'movie.gif');
          await writeFileAtomic(gif, trajectoryGif(frames, [first.length, ...shape, shape[1]]));
          io.out(
            `${gif}: ${frames.length} frames (one per step) of the first batch (${first.length} images) from ${state.name}\n`,
          );
          return;
        }
        if (job.saveImages === 'grids') {
          const x = await sampleSeeds(denoiser, first, plan);
          const file = join(job.outdir, `ode_images_${state.kimg}_${variant.tag}.png`);
          const cols = Math.max(1, Math.floor(Math.sqrt(first.length)));
          const grid = imageGrid(toUint8(x), [first.length, ...shape, shape[1]], cols);
          await writeFileAtomic(file, grid);
          io.out(`${file}: the first ${first.length} images from ${state.name}\n`);
          continue;
        }
        await sampleFolder(job, state, ckptFolder(state.kimg, lastSeed, variant.suffix), {
          denoiser,
          plan,
          batches,
          shape,
          io,
        });
      }
    } finally {
      net.dispose();
    }
  }
}

/** All seeds into `.tmp-NAME`, renamed to NAME when the last image is written. */
async function sampleFolder(
  job: RunFolderJob,
  state: StateFile,
  name: string,
  o: {
    denoiser: Denoiser;
    plan: SamplingPlan;
    batches: readonly number[][];
    shape: readonly [number, number];
    io: Io;
  },
): Promise<void> {
  const final = join(job.outdir, name);
  const temp = join(job.outdir, `.tmp-${name}`);
  if (existsSync(temp)) {
    await rm(temp, { recursive: true, force: true });
    o.io.err(`${name}: removed .tmp-${name}, left unfinished by an interrupted run\n`);
  }
  await mkdir(temp, { recursive: true });
  const line = progress(o.io, `${name}:`);
  const start = performance.now();
  let done = 0;
  try {
    for (const chunk of o.batches) {
      const x = await sampleSeeds(o.denoiser, chunk, o.plan);
      await writeSeedPngs(temp, chunk, x, o.shape, true);
      done += chunk.length;
      line.update(done, job.seeds.length);
    }
  } finally {
    line.end();
  }
  // generate_quant samples folders again: the new one replaces the old.
  await rm(final, { recursive: true, force: true });
  await rename(temp, final);
  const sec = (performance.now() - start) / 1000;
  o.io.out(
    `${name}: ${done} images from ${state.name} in ${sec.toFixed(1)} s (${(done / sec).toFixed(2)} images/s)\n`,
  );
}

/** The states of `outdir` for `search`, with one-line notes on names that do not fit. */
export async function listStates(
  outdir: string,
  search: StateSearch,
  io: Io,
): Promise<StateFile[]> {
  let names: string[];
  try {
    names = await readdir(outdir);
  } catch {
    throw new Error(
      `${outdir}: no such folder (--outdir is the run folder whose states are sampled)`,
    );
  }
  const { states, unreadable } = matchStates(outdir, names, search);
  for (const u of unreadable) io.err(`note: ${join(outdir, u)}: no kimg in the name, skipped\n`);
  return states;
}

export interface RunFolderSpec {
  search: StateSearch;
  /** Only states with kimg in [--ckpt, --end_ckpt] (generate's --edm=1 lifts it). */
  window: boolean;
  variants: readonly Variant[];
  skipExisting: boolean;
  saveImages: RunFolderJob['saveImages'];
  priorSigma?: number;
  /** Ends the message for a folder without states (generate: how to sample one file). */
  hint?: string;
}

/** A run-folder command from its parsed options: checks them, finds the states, samples. */
export async function runFolder(v: OptionValues, io: Io, spec: RunFolderSpec): Promise<void> {
  const outdir = v.outdir as string | undefined;
  if (outdir === undefined) throw new UsageError('missing required option --outdir');
  const seeds = parseSeeds((v.seeds as string | undefined) ?? '0-63');
  const batch = parseBatch(v);
  const augDim = parseD(v.aug_dim as string | undefined, 128, false);
  const choice = samplerChoice(v, true);
  const ckpt = (v.ckpt as number | undefined) ?? 0;
  const endCkpt = (v.end_ckpt as number | undefined) ?? 100_000_000;
  const plan: SamplingPlan = {
    D: v.pfgmpp === true ? augDim : Number.POSITIVE_INFINITY,
    ...(v.class !== undefined && { classIdx: v.class as number }),
    ...choice,
    ...(spec.priorSigma !== undefined && { priorSigma: spec.priorSigma }),
  };
  if (v.resume !== undefined)
    io.err('note: --resume is not used when sampling a run folder; ignored\n');
  const all = await listStates(outdir, spec.search, io);
  if (!all.length)
    throw new Error(`${outdir}: no ${SEARCHED[spec.search]} to sample${spec.hint ?? ''}`);
  if (spec.search === 'snapshot' && all.length > 1) {
    throw new Error(
      `${outdir}: ${all.length} network snapshots, but --edm=1 names every output after kimg 0 (ckpt_000000...); keep one of ${all.map((s) => s.name).join(', ')}`,
    );
  }
  const { chosen, superseded } = selectStates(all, spec.window ? { ckpt, endCkpt } : null);
  for (const s of superseded)
    io.err(`note: ${s.name}: a later state of kimg ${s.kimg} is sampled instead\n`);
  const range = spec.window ? ` with kimg in [${ckpt}, ${endCkpt}]` : '';
  io.err(`${outdir}: ${all.length} ${SEARCHED[spec.search]}, ${chosen.length}${range} to sample\n`);
  await runFolderJob(
    {
      outdir,
      states: chosen,
      seeds,
      batch,
      variants: spec.variants,
      skipExisting: spec.skipExisting,
      saveImages: spec.saveImages,
      plan,
      augDim,
      open: () => openGpu(v, io),
    },
    io,
  );
}
