/**
 * `--shard I/N`: this process's share of a seed or image list, for an evaluation split across
 * processes and machines (`generate`, `fid ref`, `fid calc`). The split is a pure function of
 * the list and I/N: block I (0-based) of N contiguous near-equal blocks of the sorted list, the
 * first (length mod N) blocks one longer, so every machine computes the same blocks.
 *
 * `--shard auto` takes I and N from the scheduler: a Kubernetes Indexed Job's
 * JOB_COMPLETION_INDEX (N from `--shards`, the Job's completions, which the pod does not see),
 * or a Slurm job array's SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, counted from
 * SLURM_ARRAY_TASK_MIN (`--array=1-4` is shards 0..3) in steps of SLURM_ARRAY_TASK_STEP.
 */
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';

export interface Shard {
  /** 0-based. */
  index: number;
  count: number;
}

export const SHARD_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'shard',
    kind: 'string',
    value: 'I/N|auto',
    help: 'only share I of N (I 0-based): block I of N contiguous near-equal blocks of the sorted seeds or images; auto: I and N from JOB_COMPLETION_INDEX (Kubernetes, with --shards) or SLURM_ARRAY_TASK_ID/_COUNT/_MIN (Slurm)',
  },
  {
    name: 'shards',
    kind: 'int',
    value: 'N',
    help: "with --shard auto: the number of shards (a Kubernetes Indexed Job's completions)",
  },
];

/** The scheduler variables `--shard auto` reads. */
export type ShardEnv = Readonly<Record<string, string | undefined>>;

function envInt(env: ShardEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text.trim())) {
    throw new UsageError(`--shard auto: ${name} must be a non-negative integer; got '${text}'`);
  }
  return Number(text);
}

/** I and N from a Kubernetes Indexed Job or a Slurm job array (see the module comment). */
export function autoShard(env: ShardEnv, shards: number | undefined): Shard {
  const k8s = envInt(env, 'JOB_COMPLETION_INDEX');
  if (k8s !== undefined) {
    if (shards === undefined) {
      throw new UsageError(
        "--shard auto: JOB_COMPLETION_INDEX is set but the pod does not see the Job's completions; give --shards N",
      );
    }
    return checked({ index: k8s, count: shards }, 'JOB_COMPLETION_INDEX');
  }
  const id = envInt(env, 'SLURM_ARRAY_TASK_ID');
  if (id === undefined) {
    throw new UsageError(
      '--shard auto: none of JOB_COMPLETION_INDEX (Kubernetes Indexed Job, with --shards N) or SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (Slurm job array) is set; give --shard I/N',
    );
  }
  const count = envInt(env, 'SLURM_ARRAY_TASK_COUNT') ?? shards;
  if (count === undefined) {
    throw new UsageError(
      '--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; give --shards N',
    );
  }
  if (shards !== undefined && shards !== count) {
    throw new UsageError(`--shard auto: --shards ${shards} but SLURM_ARRAY_TASK_COUNT is ${count}`);
  }
  // Array indices need not start at 0 (--array=1-4) nor be consecutive (--array=0-15:4).
  const min = envInt(env, 'SLURM_ARRAY_TASK_MIN') ?? 0;
  const step = envInt(env, 'SLURM_ARRAY_TASK_STEP') ?? 1;
  const offset = id - min;
  if (offset < 0 || step < 1 || offset % step !== 0) {
    throw new UsageError(
      `--shard auto: SLURM_ARRAY_TASK_ID ${id} is not SLURM_ARRAY_TASK_MIN ${min} plus a multiple of SLURM_ARRAY_TASK_STEP ${step}; give --shard I/N`,
    );
  }
  return checked({ index: offset / step, count }, 'SLURM_ARRAY_TASK_ID');
}

function checked(s: Shard, source: string): Shard {
  if (s.count < 1) throw new UsageError(`--shard: the number of shards must be at least 1`);
  if (s.index >= s.count) {
    throw new UsageError(
      `--shard: shard ${s.index} (from ${source}) is not below the number of shards ${s.count}`,
    );
  }
  return s;
}

/** `--shard I/N` or `auto` (with `--shards`); null where --shard is not given. */
export function shardOption(v: OptionValues, env: ShardEnv = process.env): Shard | null {
  const text = v.shard as string | undefined;
  const shards = v.shards as number | undefined;
  if (text === undefined) {
    if (shards !== undefined) throw new UsageError('--shards goes with --shard auto');
    return null;
  }
  if (text === 'auto') return autoShard(env, shards);
  if (shards !== undefined)
    throw new UsageError('--shards goes with --shard auto, not --shard I/N');
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--shard must be I/N (I 0-based, e.g. 0/4) or auto; got '${text}'`);
  return checked({ index: Number(m[1]), count: Number(m[2]) }, '--shard');
}

/** Items [start, end) of a list of n for `shard`: block I of N, the first n mod N one longer. */
export function shardRange(n: number, shard: Shard): [number, number] {
  const q = Math.floor(n / shard.count);
  const r = n % shard.count;
  const start = shard.index * q + Math.min(shard.index, r);
  return [start, start + q + (shard.index < r ? 1 : 0)];
}

/** The sorted distinct seeds of `seeds` that `shard` takes. */
export function shardSeeds(seeds: readonly number[], shard: Shard): number[] {
  const sorted = [...new Set(seeds)].sort((a, b) => a - b);
  const [start, end] = shardRange(sorted.length, shard);
  return sorted.slice(start, end);
}

/** "shard 1/4" for messages. */
export const shardName = (s: Shard) => `shard ${s.index}/${s.count}`;
