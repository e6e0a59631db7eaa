/**
 * Long `fid ref`/`fid calc` runs that survive being killed: the float64 sums are saved every
 * `--checkpoint_every` images to `DEST.resume.npz` (a partial-statistics file plus the batch
 * size), and a run that finds a matching one goes on from there. The sums are added image by
 * image and batches restart at the saved point, so the finished file is byte-identical to an
 * uninterrupted run's. Progress lines give images/s and the time left.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  type Detector,
  FEATURES,
  type FeatureSums,
  formatRanges,
  type ImageSet,
  InceptionV3,
  loadInceptionWeights,
  type PartialMeta,
  type PartialSource,
  readPartial,
  runDifference,
  type StreamResult,
  type StreamState,
  sha256File,
  sliceImages,
  streamImages,
  WEIGHTS_FILE,
  writePartial,
} from '@pfgmpp/fid/node';
import type { OptionValues } from '../cli.ts';
import { openGpu } from '../device.ts';
import { type Io, rateProgress } from '../io.ts';
import { type Shard, shardName, shardRange } from '../sampling/shard.ts';
import { weightsPath } from './fid-options.ts';

/** The Inception weights of a run, as its parts record them. */
export async function weightsIdentity(path: string): Promise<PartialMeta['weights']> {
  return { name: basename(path), sha256: await sha256File(path) };
}

export function runMeta(
  detector: Detector,
  weights: PartialMeta['weights'],
  source: PartialSource,
  shard: Shard | null,
): PartialMeta {
  return {
    format: 'pfgmpp-fid-partial',
    version: 1,
    detector,
    weights,
    source,
    shard: shard ?? { index: 0, count: 1 },
    indices: source.kind === 'network' ? 'seeds' : 'images',
  };
}

export interface StreamJob {
  /** 'fid ref' or 'fid calc': starts the progress lines. */
  label: string;
  net: InceptionV3;
  /** This shard's images, in order. */
  images: ImageSet;
  /** What each image is: its position in the whole list, or its seed. */
  indices: readonly number[];
  detector: Detector;
  batch: number;
  keepFeatures: boolean;
  logits?: boolean;
  /** The output file, whose resume point is `${dest}.resume.npz`, and the run it belongs to. */
  save?: { dest: string; meta: PartialMeta };
  /** Images between resume points (0: none). */
  checkpointEvery: number;
}

export const resumeFile = (dest: string) => `${dest}.resume.npz`;

/** The saved state of `file` where it belongs to this run, else null with a note why not. */
async function loadResume(
  job: StreamJob,
  meta: PartialMeta,
  file: string,
  note: (l: string) => void,
) {
  let saved: Awaited<ReturnType<typeof readPartial>>;
  try {
    saved = await readPartial(file);
  } catch (e) {
    note(`${job.label}: ${(e as Error).message}; starting from the first image`);
    return null;
  }
  const progress = saved.extra.get('progress') as { batch?: number } | undefined;
  const n = saved.sums.count;
  const other = runDifference(saved.meta, meta);
  const why = other
    ? `is from another run (it and this one ${other})`
    : saved.meta.shard.index !== meta.shard.index
      ? `is shard ${saved.meta.shard.index}, not ${meta.shard.index}`
      : progress?.batch !== job.batch
        ? `was made with --batch ${progress?.batch}, not ${job.batch}`
        : Boolean(saved.features) !== job.keepFeatures
          ? 'differs in --kid'
          : n > job.indices.length || saved.indices.some((k, i) => k !== job.indices[i])
            ? 'covers other images'
            : null;
  if (why) {
    note(`${job.label}: ${file} ${why}; starting from the first image`);
    return null;
  }
  return saved;
}

/**
 * Streams the job's images into float64 sums (and features), resuming from and saving to
 * `${dest}.resume.npz`; see the module comment. The caller writes the result, then calls
 * `removeResume`.
 */
export async function streamResumable(job: StreamJob, io: Io): Promise<StreamResult> {
  const total = job.images.count;
  const meta = job.save?.meta;
  const file = job.save && resumeFile(job.save.dest);
  let resume: StreamState | undefined;
  const early: string[] = [];
  if (file && meta && existsSync(file)) {
    const saved = await loadResume(job, meta, file, (l) => early.push(l));
    if (saved) {
      resume = {
        done: saved.sums.count,
        sums: saved.sums,
        ...(saved.features && { features: saved.features }),
      };
      early.push(`${job.label}: resuming from ${file} at ${saved.sums.count}/${total} images`);
    }
  }
  const from = resume?.done ?? 0;
  const line = rateProgress(io, `${job.label}:`, total, from);
  for (const l of early) line.note(l);
  let saved = from;
  const save = async (state: StreamState) => {
    if (!file || !meta || job.checkpointEvery <= 0 || state.done >= total) return;
    if (state.done - saved < job.checkpointEvery) return;
    await writePartial(
      file,
      {
        meta,
        sums: state.sums as FeatureSums,
        indices: job.indices.slice(0, state.done),
        ...(state.features && { features: state.features.subarray(0, state.done * FEATURES) }),
      },
      { progress: { batch: job.batch, total } },
    );
    saved = state.done;
    line.note(`${job.label}: checkpoint at ${state.done}/${total} images in ${file}`);
  };
  try {
    return await streamImages(job.net, job.images, {
      detector: job.detector,
      batch: job.batch,
      keepFeatures: job.keepFeatures,
      logits: job.logits === true,
      ...(resume && { resume }),
      onProgress: (done) => line.update(done),
      onBatch: save,
    });
  } finally {
    line.end();
  }
}

/** Deletes the resume point once the output is written. */
export async function removeResume(dest: string): Promise<void> {
  await rm(resumeFile(dest), { force: true });
}

/**
 * The Inception on the GPU of --adapter, from the weights of --weights (or the default); with
 * --is the weights must have the fc layer the Inception Score reads.
 */
export async function network(values: OptionValues, io: Io): Promise<InceptionV3> {
  const path = weightsPath(values);
  let weights: Awaited<ReturnType<typeof loadInceptionWeights>>;
  try {
    weights = await loadInceptionWeights(path);
  } catch (e) {
    throw new Error(`${(e as Error).message}; download it and pass --weights PATH`, { cause: e });
  }
  const net = InceptionV3.create(await openGpu(values, io), weights);
  if (values.is === true && !net.hasLogits) {
    net.dispose();
    throw new Error(
      `${path}: has no fc layer, which the Inception Score needs (use ${WEIGHTS_FILE})`,
    );
  }
  return net;
}

export interface Evaluation {
  /** Starts the progress lines. */
  label: string;
  /** What the list holds. */
  what: 'images' | 'seeds';
  net: InceptionV3;
  detector: Detector;
  batch: number;
  kid: boolean;
  logits?: boolean;
  /** The whole list, and what each image is (position or seed). */
  all: ImageSet;
  allIndices: readonly number[];
  source: () => Promise<PartialSource>;
  shard: Shard | null;
  /** Partial statistics (with a shard) or, for ref, the statistics file; resumable. */
  dest?: string;
  checkpointEvery: number;
  weights: string;
}

/**
 * This shard's images (all without one) through the Inception into float64 sums, resumable
 * where there is a --dest; a shard's partial statistics are written to it.
 */
export async function evaluate(e: Evaluation, io: Io): Promise<StreamResult> {
  const [start, end] = e.shard ? shardRange(e.all.count, e.shard) : [0, e.all.count];
  const indices = e.allIndices.slice(start, end);
  const { what } = e;
  if (e.shard) {
    io.err(
      `${e.label}: ${shardName(e.shard)}: ${indices.length} of ${e.all.count} ${what} (${formatRanges(indices) || 'none'})\n`,
    );
  }
  const meta =
    e.dest === undefined
      ? undefined
      : runMeta(e.detector, await weightsIdentity(e.weights), await e.source(), e.shard);
  const r = await streamResumable(
    {
      label: e.label,
      net: e.net,
      images: sliceImages(e.all, start, end),
      indices,
      detector: e.detector,
      batch: e.batch,
      keepFeatures: e.kid,
      logits: e.logits === true,
      ...(e.dest !== undefined && meta && { save: { dest: e.dest, meta } }),
      checkpointEvery: e.checkpointEvery,
    },
    io,
  );
  if (e.shard && e.dest !== undefined && meta && r.sums) {
    await writePartial(e.dest, {
      meta,
      sums: r.sums,
      indices,
      ...(r.features && { features: r.features }),
    });
    await removeResume(e.dest);
    io.out(
      `${e.dest}: partial statistics of ${shardName(e.shard)}: ${r.count} of ${e.all.count} ${what}${r.features ? ' and their features' : ''}\n`,
    );
  }
  return r;
}

export function checkpointEvery(values: OptionValues): number {
  return (values.checkpoint_every as number | undefined) ?? 1000;
}
