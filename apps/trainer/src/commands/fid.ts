/**
 * `pfgmpp fid ref|calc|features`: EDM's fid.py on WebGPU. `ref` writes reference statistics
 * (.npz with mu and sigma in float64) of a dataset; `calc` scores one or more image sets against
 * them (FID, optionally KID and Inception Score), one line per set; `features` writes the 2048-d
 * pool3 features of images as a float32 .npy. An `--images` experiment folder (PFGM++ generate.py's
 * `ckpt_*` folders) is scored per folder as PFGM++'s fid.py does (fid-runs.ts).
 */
import { homedir } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeNpy } from '@pfgmpp/io';
import { writeFileAtomic } from '@pfgmpp/io/node';
import {
  CLASSES,
  DETECTORS,
  type Detector,
  FEATURES,
  frechetDistance,
  gpuGram,
  InceptionV3,
  inceptionScore,
  kernelInceptionDistance,
  loadInceptionWeights,
  openImages,
  readStats,
  type Score,
  streamImages,
  WEIGHTS_FILE,
  writeStats,
} from '@pfgmpp/fid/node';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import { ADAPTER_OPTION, openGpu } from '../device.ts';
import { type Io, progress } from '../io.ts';
import type { Command } from './command.ts';
import {
  DEFAULT_SELECTION,
  formatG,
  type RunSelection,
  runEntries,
  selectRunFolders,
} from './fid-runs.ts';

const SUBCOMMANDS = ['ref', 'calc', 'features'] as const;
type Sub = (typeof SUBCOMMANDS)[number];

/** Options and the subcommands that take them. */
const options: (OptionSpec & { for: readonly Sub[] })[] = [
  { ...ADAPTER_OPTION, for: SUBCOMMANDS },
  {
    name: 'data',
    kind: 'string',
    value: 'DIR|ZIP',
    for: ['ref'],
    help: 'ref: the dataset (images, recursive)',
  },
  { name: 'dest', kind: 'string', value: 'NPZ', for: ['ref'], help: 'ref: output statistics file' },
  {
    name: 'images',
    kind: 'string',
    value: 'PATH [PATH ...]',
    for: ['calc', 'features'],
    help: 'calc: image folders/ZIPs (several: one line each); features: a folder, ZIP or uint8 [n,C,H,W] .npy',
  },
  {
    name: 'ref',
    kind: 'string',
    value: 'NPZ',
    for: ['calc'],
    help: 'calc: reference statistics (mu, sigma)',
  },
  {
    name: 'out',
    kind: 'string',
    value: 'NPY',
    for: ['features'],
    help: 'features: output float32 [n, 2048]',
  },
  {
    name: 'num',
    kind: 'int',
    value: 'N',
    for: ['calc'],
    help: 'calc: images per set (default 50000; fewer is an error, more takes a seeded subset)',
  },
  {
    name: 'seed',
    kind: 'int',
    value: 'N',
    for: ['calc'],
    help: 'calc: seed of that subset and of KID (default 0)',
  },
  {
    name: 'batch',
    kind: 'int',
    value: 'N',
    for: ['ref', 'calc', 'features'],
    help: 'images per batch (default 64)',
  },
  {
    name: 'detector',
    kind: 'string',
    value: 'NAME',
    choices: DETECTORS,
    for: ['ref', 'calc', 'features'],
    help: 'edm (default: TF1 resize, (x-128)/128, as EDM/PFGM++) or pytorch-fid (half-pixel resize, x/127.5-1)',
  },
  {
    name: 'weights',
    kind: 'string',
    value: 'PATH',
    for: ['ref', 'calc', 'features'],
    help: `${WEIGHTS_FILE} (default: $PFGMPP_FID_WEIGHTS, else ~/.cache/pfgmpp/${WEIGHTS_FILE})`,
  },
  {
    name: 'kid',
    kind: 'flag',
    for: ['ref', 'calc'],
    help: 'calc: also KID (the ref must hold features); ref: store features for KID',
  },
  {
    name: 'gen_seed',
    kind: 'int',
    value: 'N',
    for: ['calc'],
    help: 'calc, experiment folder: seed set 1 (ckpt_*, default), 2 (ckpt_2_*) or 3 (ckpt_3_*)',
  },
  {
    name: 'steps',
    kind: 'flag',
    for: ['calc'],
    help: 'calc, experiment folder: the ckpt_*_steps_* folders (generate_steps)',
  },
  {
    name: 'alpha',
    kind: 'flag',
    for: ['calc'],
    help: 'calc, experiment folder: the ckpt_*_alpha_0.* folders (generate_alpha; as fid.py, not _alpha_0)',
  },
  {
    name: 'prune',
    kind: 'flag',
    for: ['calc'],
    help: 'calc, experiment folder: the ckpt_*_prune_0.* folders',
  },
  {
    name: 'quant',
    kind: 'flag',
    for: ['calc'],
    help: 'calc, experiment folder: the ckpt_*_quant_* folders (generate_quant)',
  },
  {
    name: 'ckpt',
    kind: 'int',
    value: 'KIMG',
    for: ['calc'],
    help: 'calc, experiment folder without the flags above: the first kimg scored (default 0)',
  },
  {
    name: 'end_ckpt',
    kind: 'int',
    value: 'KIMG',
    for: ['calc'],
    help: 'calc, experiment folder without the flags above: the last kimg scored (default 1000000)',
  },
  { name: 'is', kind: 'flag', for: ['calc'], help: 'calc: also Inception Score (10 splits)' },
  { name: 'json', kind: 'flag', for: ['calc'], help: 'calc: one JSON object per line' },
];

const REQUIRED: Record<Sub, string[]> = {
  ref: ['data', 'dest'],
  calc: ['images', 'ref'],
  features: ['images', 'out'],
};

function weightsPath(values: OptionValues): string {
  if (typeof values.weights === 'string') return values.weights;
  const env = process.env.PFGMPP_FID_WEIGHTS;
  if (env) return env;
  return join(homedir(), '.cache', 'pfgmpp', WEIGHTS_FILE);
}

async function network(values: OptionValues, io: Io): Promise<InceptionV3> {
  const path = weightsPath(values);
  let weights: Awaited<ReturnType<typeof loadInceptionWeights>>;
  try {
    weights = await loadInceptionWeights(path);
  } catch (e) {
    throw new Error(`${(e as Error).message}; download it and pass --weights PATH`, { cause: e });
  }
  return InceptionV3.create(await openGpu(values, io), weights);
}

const fmt = (s: Score) => `${s.mean.toPrecision(6)} +- ${s.std.toPrecision(3)}`;

async function ref(values: OptionValues, io: Io, detector: Detector, batch: number): Promise<void> {
  const net = await network(values, io);
  // As EDM's fid.py: the destination's folder is made first (not after minutes of features).
  await mkdir(dirname(values.dest as string), { recursive: true });
  const line = progress(io, 'fid ref:');
  try {
    const images = await openImages(values.data as string);
    const r = await streamImages(net, images, {
      detector,
      batch,
      keepFeatures: values.kid === true,
      onProgress: (d, t) => line.update(d, t),
    });
    if (!r.stats) throw new Error('no statistics');
    await writeStats(values.dest as string, r.stats, r.features);
    io.out(
      `${values.dest}: mu and sigma of ${r.count} images${r.features ? ' and their features' : ''}\n`,
    );
  } finally {
    line.end();
    net.dispose();
  }
}

/** Options that make `--images` an experiment folder even when it holds no `ckpt_*` entry. */
const RUN_OPTIONS = ['gen_seed', 'steps', 'alpha', 'prune', 'quant', 'ckpt', 'end_ckpt'];

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
async function expandRuns(
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

async function calc(
  values: OptionValues,
  io: Io,
  paths: string[],
  detector: Detector,
  batch: number,
) {
  const num = (values.num as number | undefined) ?? 50000;
  if (num < 2) throw new UsageError(`option --num must be at least 2; got ${num}`);
  if (values.is === true && num < 10) {
    throw new UsageError(`--is needs at least 10 images per set (10 splits); got --num ${num}`);
  }
  const sets = await expandRuns(values, io, paths);
  const reference = await readStats(values.ref as string);
  if (reference.mu.length !== FEATURES) {
    throw new Error(
      `${values.ref}: statistics of ${reference.mu.length} features, the Inception gives ${FEATURES}`,
    );
  }
  const kid = values.kid === true;
  if (kid && !reference.features) {
    throw new Error(
      `${values.ref}: has no 'features' array, which KID needs; make the file with 'pfgmpp fid ref --kid'`,
    );
  }
  const seed = (values.seed as number | undefined) ?? 0;
  const net = await network(values, io);
  if (values.is === true && !net.hasLogits) {
    net.dispose();
    throw new Error(
      `${weightsPath(values)}: has no fc layer, which the Inception Score needs (use ${WEIGHTS_FILE})`,
    );
  }
  try {
    for (const [i, { path, run }] of sets.entries()) {
      const images = await openImages(path, { num, seed });
      if (images.count < num) {
        throw new Error(
          `${path}: found ${images.count} images, but expected at least ${num} (see --num)`,
        );
      }
      const where = sets.length > 1 ? ` (${i + 1}/${sets.length})` : '';
      const line = progress(io, `fid calc ${path}${where}:`);
      let r: Awaited<ReturnType<typeof streamImages>>;
      try {
        r = await streamImages(net, images, {
          detector,
          batch,
          keepFeatures: kid,
          logits: values.is === true,
          onProgress: (d, t) => line.update(d, t),
        });
      } finally {
        line.end();
      }
      const fid = frechetDistance(r.stats as NonNullable<typeof r.stats>, reference);
      const out: Record<string, unknown> = { images: path, count: r.count, detector, fid };
      if (kid && r.features && reference.features) {
        const nRef = reference.features.length / FEATURES;
        out.kid = await kernelInceptionDistance(
          r.features,
          r.count,
          reference.features,
          nRef,
          FEATURES,
          {
            seed,
            gram: gpuGram(net.gpu),
          },
        );
      }
      if (r.logits) out.is = inceptionScore(r.logits, r.count, CLASSES);
      if (values.json === true) io.out(`${JSON.stringify(out)}\n`);
      else {
        const extra = [
          out.kid ? `  KID ${fmt(out.kid as Score)}` : '',
          out.is ? `  IS ${fmt(out.is as Score)}` : '',
        ].join('');
        if (run) io.out(`path:${path}, ${formatG(fid)}${extra}\n`);
        else io.out(`${path}  FID ${fid.toFixed(4)}${extra}  (${r.count} images)\n`);
      }
    }
  } finally {
    net.dispose();
  }
}

async function features(values: OptionValues, io: Io, detector: Detector, batch: number) {
  const net = await network(values, io);
  await mkdir(dirname(values.out as string), { recursive: true });
  const line = progress(io, 'fid features:');
  try {
    const images = await openImages(values.images as string);
    const r = await streamImages(net, images, {
      detector,
      batch,
      stats: false,
      keepFeatures: true,
      onProgress: (d, t) => line.update(d, t),
    });
    const data = r.features ?? new Float32Array(0);
    await writeFileAtomic(
      values.out as string,
      writeNpy({ dtype: 'float32', shape: [r.count, FEATURES], data }),
    );
    io.out(`${values.out}: float32 [${r.count}, ${FEATURES}] features\n`);
  } finally {
    line.end();
    net.dispose();
  }
}

async function run(values: OptionValues, io: Io, positional: readonly string[]): Promise<void> {
  const [sub, ...extra] = positional;
  if (sub === undefined) throw new UsageError(`missing subcommand (${SUBCOMMANDS.join(', ')})`);
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw new UsageError(`unknown subcommand '${sub}' (${SUBCOMMANDS.join(', ')})`);
  }
  const s = sub as Sub;
  for (const o of options) {
    if (values[o.name] !== undefined && !o.for.includes(s)) {
      throw new UsageError(`option --${o.name} is not used by 'fid ${s}'`);
    }
  }
  for (const name of REQUIRED[s]) {
    if (values[name] === undefined) throw new UsageError(`'fid ${s}' needs --${name}`);
  }
  if (extra.length > 0 && s !== 'calc') {
    throw new UsageError(`unexpected argument '${extra[0]}' ('fid ${s}' takes one --images)`);
  }
  const batch = (values.batch as number | undefined) ?? 64;
  if (batch < 1) throw new UsageError(`option --batch must be at least 1; got ${batch}`);
  const detector = ((values.detector as string | undefined) ?? 'edm') as Detector;
  if (s === 'ref') return ref(values, io, detector, batch);
  if (s === 'features') return features(values, io, detector, batch);
  return calc(values, io, [values.images as string, ...extra], detector, batch);
}

export const fidCommand: Command = {
  name: 'fid',
  summary: 'FID (and KID, IS) with the Inception-v3 on WebGPU: ref, calc, features',
  usage:
    'pfgmpp fid ref --data DIR|ZIP --dest NPZ [--kid]\n' +
    '       pfgmpp fid calc --images PATH [PATH ...] --ref NPZ [--num 50000] [--seed N] [--kid] [--is] [--json]\n' +
    '                       [--gen_seed 1|2|3] [--steps|--alpha|--prune|--quant] [--ckpt KIMG] [--end_ckpt KIMG]\n' +
    '       pfgmpp fid features --images DIR|ZIP|NPY --out NPY\n' +
    '       (each also takes [--batch N] [--detector edm|pytorch-fid] [--weights PATH])',
  description: [
    "ref: mu and sigma (float64) of a dataset's Inception features, as EDM's reference .npz files.",
    'calc: FID of each image set against a reference file, one line each; --num images per set',
    '(a seeded random subset of larger sets). EDM and PFGM++ report the minimum over three',
    'generations with seeds 0-49999, 50000-99999 and 100000-149999 (docs/fid.md).',
    'An --images experiment folder (ckpt_* folders from generate) is scored folder by folder as',
    "PFGM++'s fid.py: --gen_seed picks ckpt_*, ckpt_2_* or ckpt_3_*, --steps/--alpha/--prune/--quant",
    'the suffixed folders, else --ckpt..--end_ckpt the kimg window; one line "path:<folder>, <fid>" each.',
    'features: the 2048-d pool3 features of every image, float32 [n, 2048].',
    `All need the weight file ${WEIGHTS_FILE} from pytorch-fid's release`,
    '(https://github.com/mseitzer/pytorch-fid/releases/tag/fid_weights).',
  ].join('\n'),
  options: options.map(({ for: _, ...o }) => o),
  takesArguments: true,
  run,
};
