/**
 * The options of `pfgmpp fid` and the subcommands that take each one, and where the Inception
 * weights are looked up.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DETECTORS, WEIGHTS_FILE } from '@pfgmpp/fid/node';
import type { OptionSpec, OptionValues } from '../cli.ts';
import { ADAPTER_OPTION } from '../device.ts';
import { SAMPLING_OPTIONS } from '../sampling/options.ts';
import { SHARD_OPTIONS } from '../sampling/shard.ts';

export const SUBCOMMANDS = ['ref', 'calc', 'features', 'merge'] as const;
export type Sub = (typeof SUBCOMMANDS)[number];

/** generate's sampler options that `calc --network` takes under the same names. */
const SAMPLER_NAMES = [
  'class',
  'sigma_min',
  'sigma_max',
  'rho',
  'S_churn',
  'S_min',
  'S_max',
  'S_noise',
  'solver',
  'disc',
  'schedule',
  'scaling',
];

/** Options of `calc --network` only. */
export const NETWORK_OPTIONS: OptionSpec[] = [
  {
    name: 'network',
    kind: 'string',
    value: 'FILE',
    help: 'calc: score images sampled in memory from this network, as generate --network samples them (no PNGs)',
  },
  {
    name: 'seeds',
    kind: 'string',
    value: 'LIST',
    help: 'calc --network: the seeds, e.g. 0-49999 (sorted, each once)',
  },
  {
    name: 'num_steps',
    kind: 'int',
    value: 'N',
    help: "calc --network: sampling steps (generate's --steps; default 18)",
  },
  {
    name: 'aug_dim',
    kind: 'string',
    value: 'D|inf',
    help: 'calc --network: PFGM++ D of the prior (default: the stored D, inf = diffusion)',
  },
  ...SAMPLING_OPTIONS.filter((o) => SAMPLER_NAMES.includes(o.name)).map((o) => ({
    ...o,
    help: `calc --network: ${o.help}`,
  })),
];

/** Options and the subcommands that take them. */
export const options: (OptionSpec & { for: readonly Sub[] })[] = [
  { ...ADAPTER_OPTION, for: SUBCOMMANDS },
  {
    name: 'data',
    kind: 'string',
    value: 'DIR|ZIP',
    for: ['ref'],
    help: 'ref: the dataset (images, recursive)',
  },
  {
    name: 'dest',
    kind: 'string',
    value: 'NPZ',
    for: ['ref', 'calc', 'merge'],
    help: 'ref: output statistics file (with --shard: partial statistics); calc --shard: partial statistics; merge: the merged statistics',
  },
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
    for: ['calc', 'merge'],
    help: 'calc, merge: reference statistics (mu, sigma)',
  },
  {
    name: 'out',
    kind: 'string',
    value: 'NPY',
    for: ['features'],
    help: 'features: output float32 [n, 2048]',
  },
  ...NETWORK_OPTIONS.map((o) => ({ ...o, for: ['calc'] as const })),
  ...SHARD_OPTIONS.map((o) => ({
    ...o,
    for: ['ref', 'calc'] as const,
    help: `ref, calc: ${o.help}`,
  })),
  {
    name: 'checkpoint_every',
    kind: 'int',
    value: 'N',
    for: ['ref', 'calc'],
    help: 'ref, calc --shard: save a resume point DEST.resume.npz every N images (default 1000; 0: never)',
  },
  {
    name: 'num',
    kind: 'int',
    value: 'N',
    for: ['calc'],
    help: 'calc --images: images per set (default 50000; fewer is an error, more takes a seeded subset)',
  },
  {
    name: 'seed',
    kind: 'int',
    value: 'N',
    for: ['calc', 'merge'],
    help: 'calc: seed of that subset and of KID; merge: of KID (default 0)',
  },
  {
    name: 'batch',
    kind: 'int',
    value: 'N',
    for: ['ref', 'calc', 'features'],
    help: 'images per batch (default 64; calc --network: also per sampler call)',
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
    for: ['ref', 'calc', 'merge'],
    help: 'calc, merge: also KID (the ref must hold features); ref, calc --shard: store features for KID',
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
  {
    name: 'json',
    kind: 'flag',
    for: ['calc', 'merge'],
    help: 'calc, merge: one JSON object per line',
  },
];

export const REQUIRED: Record<Sub, string[]> = {
  ref: ['data', 'dest'],
  calc: [],
  features: ['images', 'out'],
  merge: [],
};

export function weightsPath(values: OptionValues): string {
  if (typeof values.weights === 'string') return values.weights;
  const env = process.env.PFGMPP_FID_WEIGHTS;
  if (env) return env;
  return join(homedir(), '.cache', 'pfgmpp', WEIGHTS_FILE);
}

/** Options that make `--images` an experiment folder even when it holds no `ckpt_*` entry. */
export const RUN_OPTIONS = ['gen_seed', 'steps', 'alpha', 'prune', 'quant', 'ckpt', 'end_ckpt'];
