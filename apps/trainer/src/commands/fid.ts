/**
 * `pfgmpp fid ref|calc|features|merge`: EDM's fid.py on WebGPU. `ref` writes reference
 * statistics (.npz with mu and sigma in float64) of a dataset; `calc` scores one or more image
 * sets, or images sampled in memory from a network (`--network`), against them (FID, optionally
 * KID and Inception Score), one line per set; `features` writes the 2048-d pool3 features of
 * images as a float32 .npy. An `--images` experiment folder (PFGM++ generate.py's `ckpt_*`
 * folders) is scored per folder as PFGM++'s fid.py does (fid-runs.ts). With `--shard I/N`, `ref`
 * and `calc` write partial statistics of one share of the images, which `merge` adds up
 * (fid-merge.ts); long runs save resume points (fid-stream.ts).
 */
import { mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import {
  type Detector,
  FEATURES,
  openImages,
  streamImages,
  WEIGHTS_FILE,
  writeStats,
} from '@pfgmpp/fid/node';
import { writeNpy } from '@pfgmpp/io';
import { writeFileAtomic } from '@pfgmpp/io/node';
import { type OptionValues, UsageError } from '../cli.ts';
import { type Io, progress } from '../io.ts';
import { shardOption } from '../sampling/shard.ts';
import type { Command } from './command.ts';
import { calc } from './fid-calc.ts';
import { merge } from './fid-merge.ts';
import { options, REQUIRED, SUBCOMMANDS, type Sub, weightsPath } from './fid-options.ts';
import { checkpointEvery, evaluate, network, removeResume } from './fid-stream.ts';

async function ref(values: OptionValues, io: Io, detector: Detector, batch: number): Promise<void> {
  const shard = shardOption(values);
  const dest = values.dest as string;
  const data = values.data as string;
  const net = await network(values, io);
  // As EDM's fid.py: the destination's folder is made first (not after minutes of features).
  await mkdir(dirname(dest), { recursive: true });
  try {
    const all = await openImages(data);
    const r = await evaluate(
      {
        label: 'fid ref',
        what: 'images',
        net,
        detector,
        batch,
        kid: values.kid === true,
        all,
        allIndices: Array.from({ length: all.count }, (_, i) => i),
        source: async () => ({
          kind: 'images',
          name: basename(data),
          path: data,
          count: all.count,
        }),
        shard,
        dest,
        checkpointEvery: checkpointEvery(values),
        weights: weightsPath(values),
      },
      io,
    );
    if (shard) return;
    if (!r.stats) throw new Error(`${data}: statistics need at least 2 images, found ${r.count}`);
    await writeStats(dest, r.stats, r.features);
    await removeResume(dest);
    io.out(
      `${dest}: mu and sigma of ${r.count} images${r.features ? ' and their features' : ''}\n`,
    );
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
  if (extra.length > 0 && s !== 'calc' && s !== 'merge') {
    throw new UsageError(`unexpected argument '${extra[0]}' ('fid ${s}' takes one --images)`);
  }
  if (s === 'merge') return merge(values, io, extra);
  const batch = (values.batch as number | undefined) ?? 64;
  if (batch < 1) throw new UsageError(`option --batch must be at least 1; got ${batch}`);
  const detector = ((values.detector as string | undefined) ?? 'edm') as Detector;
  if (s === 'ref') return ref(values, io, detector, batch);
  if (s === 'features') return features(values, io, detector, batch);
  if (values.images === undefined && values.network === undefined) {
    throw new UsageError("'fid calc' needs --images or --network");
  }
  if (values.network !== undefined && extra.length > 0) {
    throw new UsageError(`unexpected argument '${extra[0]}' ('fid calc --network' takes no paths)`);
  }
  const paths = values.images === undefined ? [] : [values.images as string, ...extra];
  return calc(values, io, paths, detector, batch);
}

export const fidCommand: Command = {
  name: 'fid',
  summary: 'FID (and KID, IS) with the Inception-v3 on WebGPU: ref, calc, features, merge',
  usage:
    'pfgmpp fid ref --data DIR|ZIP --dest NPZ [--kid] [--shard I/N|auto [--shards N]] [--checkpoint_every N]\n' +
    '       pfgmpp fid calc --images PATH [PATH ...] --ref NPZ [--num 50000] [--seed N] [--kid] [--is] [--json]\n' +
    '                       [--gen_seed 1|2|3] [--steps|--alpha|--prune|--quant] [--ckpt KIMG] [--end_ckpt KIMG]\n' +
    '       pfgmpp fid calc --network FILE --seeds LIST --ref NPZ [--num_steps N] [sampler options] [--kid] [--is]\n' +
    '       pfgmpp fid calc (--images PATH | --network FILE --seeds LIST) --shard I/N|auto --dest PART.npz [--kid]\n' +
    '       pfgmpp fid merge [--dest NPZ] [--ref NPZ [--kid] [--json]] PART.npz [PART.npz ...]\n' +
    '       pfgmpp fid features --images DIR|ZIP|NPY --out NPY\n' +
    '       (ref, calc and features also take [--batch N] [--detector edm|pytorch-fid] [--weights PATH])',
  description: [
    "ref: mu and sigma (float64) of a dataset's Inception features, as EDM's reference .npz files.",
    'calc: FID of each image set against a reference file, one line each; --num images per set',
    '(a seeded random subset of larger sets). EDM and PFGM++ report the minimum over three',
    'generations with seeds 0-49999, 50000-99999 and 100000-149999 (docs/fid.md).',
    'An --images experiment folder (ckpt_* folders from generate) is scored folder by folder as',
    "PFGM++'s fid.py: --gen_seed picks ckpt_*, ckpt_2_* or ckpt_3_*, --steps/--alpha/--prune/--quant",
    'the suffixed folders, else --ckpt..--end_ckpt the kimg window; one line "path:<folder>, <fid>" each.',
    'calc --network: the images of --seeds are sampled in memory as generate --network samples them',
    "and quantized as its PNGs are (the same FID, no files); generate's --steps is --num_steps here.",
    '--shard I/N (I 0-based; auto: Kubernetes JOB_COMPLETION_INDEX with --shards N, or a Slurm array)',
    'takes block I of N contiguous near-equal blocks of the sorted images or seeds and writes partial',
    'statistics (float64 sums) to --dest; merge adds the parts of all shards into the statistics file',
    'and, with --ref, prints the FID. Runs with --dest save DEST.resume.npz every --checkpoint_every',
    'images and resume from it when restarted, with a byte-identical result.',
    'features: the 2048-d pool3 features of every image, float32 [n, 2048].',
    `ref, calc and features need the weight file ${WEIGHTS_FILE} from pytorch-fid's release`,
    '(https://github.com/mseitzer/pytorch-fid/releases/tag/fid_weights).',
  ].join('\n'),
  options: options.map(({ for: _, ...o }) => o),
  takesArguments: true,
  run,
};
