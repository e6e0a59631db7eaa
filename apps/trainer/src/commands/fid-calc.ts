/**
 * `pfgmpp fid calc`: FID (KID, IS) of image sets (`--images`: folders, ZIPs, .npy, or the
 * `ckpt_*` folders of an experiment folder, one line each) or of images sampled in memory from
 * a network (`--network`, quantized as generate's PNGs); with `--shard`, partial statistics of
 * one share of the images instead of a score.
 */
import { basename, join } from 'node:path';
import {
  type Detector,
  formatRanges,
  gpuGram,
  openImages,
  type PartialSource,
  sha256File,
  type StreamResult,
} from '@pfgmpp/fid/node';
import type { Gpu } from '@pfgmpp/tensor/node';
import { type OptionValues, UsageError } from '../cli.ts';
import type { Io } from '../io.ts';
import { loadNetworkSampler, sampledImages, samplerIdentity } from '../sampling/network.ts';
import { parseSeeds, samplerChoice } from '../sampling/options.ts';
import { type Shard, shardOption, shardRange } from '../sampling/shard.ts';
import { sourceLabel } from './fid-merge.ts';
import { NETWORK_OPTIONS, RUN_OPTIONS, weightsPath } from './fid-options.ts';
import { DEFAULT_SELECTION, type RunSelection, runEntries, selectRunFolders } from './fid-runs.ts';
import { loadReference, printScores, type Reference, type ScoreJob } from './fid-score.ts';
import { checkpointEvery, evaluate, network } from './fid-stream.ts';

/** The fields of a score line that come from the evaluation and the run's options, not the set. */
function scored(
  r: StreamResult,
  o: {
    detector: Detector;
    kid: boolean;
    reference: Reference;
    seed: number;
    gpu: Gpu;
    json: boolean;
  },
): Omit<ScoreJob, 'label' | 'id' | 'run'> {
  return {
    count: r.count,
    detector: o.detector,
    stats: r.stats as NonNullable<typeof r.stats>,
    ...(o.kid && r.features && { features: r.features }),
    ...(r.logits && { logits: r.logits }),
    reference: o.reference,
    seed: o.seed,
    gram: gpuGram(o.gpu),
    json: o.json,
  };
}

function runSelection(values: OptionValues): RunSelection {
  const genSeed = (values.gen_seed as number | undefined) ?? DEFAULT_SELECTION.genSeed;
  if (genSeed < 1 || genSeed > 3) {
    throw new UsageError(`option --gen_seed must be 1, 2 or 3; got ${genSeed}`);
  }
  return {
    genSeed,
    steps: values.steps === true,
    alpha: values.alpha === true,
    prune: values.prune === true,
    quant: values.quant === true,
    ckpt: (values.ckpt as number | undefined) ?? DEFAULT_SELECTION.ckpt,
    endCkpt: (values.end_ckpt as number | undefined) ?? DEFAULT_SELECTION.endCkpt,
  };
}

interface ImageSetPath {
  path: string;
  /** A folder of an experiment folder: printed as fid.py does (`path:<folder>, <fid>`). */
  run: boolean;
}

/** Each `--images` path, or the matching `ckpt_*` folders where it is an experiment folder. */
export async function expandRuns(
  values: OptionValues,
  io: Io,
  paths: readonly string[],
): Promise<ImageSetPath[]> {
  const selection = runSelection(values);
  const asked = RUN_OPTIONS.some((n) => values[n] !== undefined);
  const out: ImageSetPath[] = [];
  for (const path of paths) {
    const entries = await runEntries(path);
    if (!entries && !asked) {
      out.push({ path, run: false });
      continue;
    }
    const selected = selectRunFolders(entries ?? [], selection);
    if (selected.names.length === 0) {
      // The kimg window is named where it applies and was narrowed.
      const window = !selection.steps && !selection.alpha && !selection.prune && !selection.quant;
      const narrowed =
        selection.ckpt !== DEFAULT_SELECTION.ckpt ||
        selection.endCkpt !== DEFAULT_SELECTION.endCkpt;
      const kimg =
        window && narrowed ? ` with kimg in [${selection.ckpt}, ${selection.endCkpt}]` : '';
      throw new Error(`${path}: no folder matches ${selected.glob}${kimg}`);
    }
    for (const { name, reason } of selected.skipped) {
      io.err(`fid calc: skipped ${join(path, name)} (${reason})\n`);
    }
    const n = selected.names.length;
    io.err(`fid calc: ${path}: ${n} folder${n === 1 ? '' : 's'} match ${selected.glob}\n`);
    for (const name of selected.names) out.push({ path: join(path, name), run: true });
  }
  return out;
}

/** Checks the options of `calc` that depend on each other; returns the shard. */
function calcMode(values: OptionValues): Shard | null {
  const shard = shardOption(values);
  const network = values.network !== undefined;
  if (network && values.images !== undefined) {
    throw new UsageError("'fid calc' takes --images or --network, not both");
  }
  if (!network) {
    const only = NETWORK_OPTIONS.find((o) => values[o.name] !== undefined);
    if (only) throw new UsageError(`option --${only.name} goes with --network FILE`);
  } else {
    if (values.num !== undefined) {
      throw new UsageError(
        'option --num is for --images; with --network every seed of --seeds is scored',
      );
    }
    const run = RUN_OPTIONS.find((n) => values[n] !== undefined);
    if (run)
      throw new UsageError(`option --${run} is for --images experiment folders, not --network`);
    if (values.seeds === undefined) {
      throw new UsageError("'fid calc --network' needs --seeds (e.g. 0-49999)");
    }
  }
  if (shard) {
    if (values.is === true) {
      throw new UsageError(
        '--is cannot be combined with --shard (parts keep no logits); compute the Inception Score unsharded',
      );
    }
    if (values.ref !== undefined) {
      throw new UsageError(
        "'fid calc --shard' writes partial statistics: give --ref to 'fid merge' instead",
      );
    }
    if (values.dest === undefined) {
      throw new UsageError(
        "'fid calc --shard' needs --dest PART.npz (merge parts with 'fid merge')",
      );
    }
  } else {
    if (values.ref === undefined) throw new UsageError("'fid calc' needs --ref");
    for (const name of ['dest', 'checkpoint_every']) {
      if (values[name] !== undefined) {
        throw new UsageError(
          `option --${name} of 'fid calc' goes with --shard (partial statistics)`,
        );
      }
    }
  }
  return shard;
}

export async function calc(
  values: OptionValues,
  io: Io,
  paths: string[],
  detector: Detector,
  batch: number,
) {
  const shard = calcMode(values);
  if (values.network !== undefined) return calcNetwork(values, io, detector, batch, shard);
  const num = (values.num as number | undefined) ?? 50000;
  if (num < 2) throw new UsageError(`option --num must be at least 2; got ${num}`);
  if (values.is === true && num < 10) {
    throw new UsageError(`--is needs at least 10 images per set (10 splits); got --num ${num}`);
  }
  const sets = await expandRuns(values, io, paths);
  if (shard && (sets.length !== 1 || sets[0]?.run)) {
    throw new UsageError(
      '--shard takes one image set (a folder, ZIP or .npy), not several or an experiment folder',
    );
  }
  const kid = values.kid === true;
  const reference = shard ? null : await loadReference(values.ref as string, kid);
  const seed = (values.seed as number | undefined) ?? 0;
  const net = await network(values, io);
  try {
    for (const [i, { path, run }] of sets.entries()) {
      const images = await openImages(path, { num, seed });
      if (images.count < num) {
        throw new Error(
          `${path}: found ${images.count} images, but expected at least ${num} (see --num)`,
        );
      }
      const where = sets.length > 1 ? ` (${i + 1}/${sets.length})` : '';
      const r = await evaluate(
        {
          label: `fid calc ${path}${where}`,
          what: 'images',
          net,
          detector,
          batch,
          kid,
          logits: values.is === true,
          all: images,
          allIndices: Array.from({ length: images.count }, (_, k) => k),
          source: async () => ({
            kind: 'images',
            name: basename(path),
            path,
            count: images.count,
            num,
            seed,
          }),
          shard,
          ...(shard && { dest: values.dest as string }),
          checkpointEvery: checkpointEvery(values),
          weights: weightsPath(values),
        },
        io,
      );
      if (!reference) continue;
      await printScores(io, {
        label: path,
        id: { images: path },
        run,
        ...scored(r, { detector, kid, reference, seed, gpu: net.gpu, json: values.json === true }),
      });
    }
  } finally {
    net.dispose();
  }
}

/** `calc --network`: images sampled in memory, quantized as generate's PNGs, then scored. */
async function calcNetwork(
  values: OptionValues,
  io: Io,
  detector: Detector,
  batch: number,
  shard: Shard | null,
) {
  const file = values.network as string;
  const seeds = [...new Set(parseSeeds(values.seeds as string))].sort((a, b) => a - b);
  if (!shard && seeds.length < 2) {
    throw new UsageError(`--seeds must give at least 2 seeds; got ${seeds.length}`);
  }
  if (values.is === true && !shard && seeds.length < 10) {
    throw new UsageError(`--is needs at least 10 seeds (10 splits); got ${seeds.length}`);
  }
  const choice = samplerChoice({ ...values, steps: values.num_steps }, false);
  const kid = values.kid === true;
  const reference: Reference | null = shard ? null : await loadReference(values.ref as string, kid);
  const seed = (values.seed as number | undefined) ?? 0;
  const net = await network(values, io);
  let sampler: Awaited<ReturnType<typeof loadNetworkSampler>> | undefined;
  try {
    const [start, end] = shard ? shardRange(seeds.length, shard) : [0, seeds.length];
    sampler = await loadNetworkSampler(
      file,
      {
        choice,
        ...(values.aug_dim !== undefined && { augDim: values.aug_dim as string }),
        ...(values.class !== undefined && { classIdx: values.class as number }),
        batch: Math.max(1, Math.min(batch, end - start)),
      },
      io,
    );
    const s = sampler;
    const source = async (): Promise<PartialSource> => ({
      kind: 'network',
      name: basename(file),
      path: file,
      count: seeds.length,
      sha256: await sha256File(file),
      seeds: formatRanges(seeds),
      sampler: samplerIdentity(s),
    });
    const r = await evaluate(
      {
        label: 'fid calc',
        what: 'seeds',
        net,
        detector,
        batch,
        kid,
        logits: values.is === true,
        all: sampledImages(sampler, seeds, file),
        allIndices: seeds,
        source,
        shard,
        ...(shard && { dest: values.dest as string }),
        checkpointEvery: checkpointEvery(values),
        weights: weightsPath(values),
      },
      io,
    );
    if (!reference) return;
    const { label, id } = sourceLabel({
      kind: 'network',
      name: basename(file),
      path: file,
      count: seeds.length,
      seeds: formatRanges(seeds),
    });
    await printScores(io, {
      label,
      id,
      ...scored(r, { detector, kid, reference, seed, gpu: net.gpu, json: values.json === true }),
    });
  } finally {
    sampler?.dispose();
    net.dispose();
  }
}
