/**
 * `pfgmpp inspect CHECKPOINT`: what a checkpoint holds (format, architecture keywords,
 * resolution, channels, labels, D, parameter count, training step), as text or `--json`.
 * Reads official training states, network snapshots, plain state dicts and ours; runs nothing.
 */
import type { Checkpoint, TensorMap } from '@pfgmpp/io';
import { readCheckpointFile } from '@pfgmpp/io/node';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import type { Io } from '../io.ts';
import type { Command } from './command.ts';

const options: OptionSpec[] = [
  { name: 'json', kind: 'flag', help: 'print one JSON object instead of text' },
];

export interface CheckpointSummary {
  file: string;
  format: string;
  container: string;
  className: string | null;
  /** Architecture keywords (_init_kwargs), when the file has them. */
  initKwargs: Record<string, unknown> | null;
  resolution: number | null;
  channels: number | null;
  labelDim: number | null;
  /** PFGM++ augmentation dimension D (null: not a PFGM++ network, or unknown). */
  D: number | null;
  /** Parameters and buffers of the weights to run (the EMA network when present). */
  tensors: number;
  values: number;
  hasEma: boolean;
  hasOptimizer: boolean;
  step: number | null;
  kimg: number | null;
}

const count = (m: TensorMap) => [...m.values()].reduce((p, t) => p + t.data.length, 0);

function numberIn(...values: unknown[]): number | null {
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) return v;
  return null;
}

export function summarize(file: string, c: Checkpoint): CheckpointSummary {
  const k = (c.initKwargs ?? {}) as Record<string, unknown>;
  const a = (c.attributes ?? {}) as Record<string, unknown>;
  const pfgmpp = a.pfgmpp ?? k.pfgmpp;
  return {
    file,
    format: c.format,
    container: c.container,
    className: c.className ?? null,
    initKwargs: c.initKwargs ? (c.initKwargs as Record<string, unknown>) : null,
    resolution: numberIn(k.img_resolution, a.img_resolution),
    channels: numberIn(k.img_channels, a.img_channels),
    labelDim: numberIn(k.label_dim, a.label_dim),
    D: pfgmpp === false ? null : numberIn(a.D, k.D, k.aug_dim),
    tensors: c.tensors.size,
    values: count(c.tensors),
    hasEma: c.ema !== undefined,
    hasOptimizer: c.optimizer !== undefined,
    step: c.step ?? null,
    kimg: c.kimg ?? null,
  };
}

function text(s: CheckpointSummary): string {
  const v = (x: unknown) => (x === null || x === undefined ? '-' : String(x));
  const lines = [
    `file        ${s.file}`,
    `format      ${s.format} (${s.container})`,
    `network     ${v(s.className)}`,
    `resolution  ${v(s.resolution)}`,
    `channels    ${v(s.channels)}`,
    `labels      ${s.labelDim ? s.labelDim : 'none'}`,
    `D           ${s.D === null ? '- (diffusion, or not recorded)' : s.D}`,
    `tensors     ${s.tensors} (${s.values.toLocaleString('en-US')} values)${s.hasEma ? ', EMA' : ''}${s.hasOptimizer ? ', Adam state' : ''}`,
    `step        ${s.step === null ? '-' : `${s.step} images`}${s.kimg === null ? '' : ` (${s.kimg} kimg)`}`,
  ];
  if (s.initKwargs) lines.push(`init_kwargs ${JSON.stringify(s.initKwargs)}`);
  return `${lines.join('\n')}\n`;
}

async function run(values: OptionValues, io: Io, positional: readonly string[]): Promise<void> {
  const file = positional[0];
  if (!file) throw new UsageError('inspect needs a CHECKPOINT file');
  if (positional.length > 1)
    throw new UsageError(`inspect takes one file, got ${positional.length}`);
  const summary = summarize(file, await readCheckpointFile(file));
  io.out(values.json ? `${JSON.stringify(summary)}\n` : text(summary));
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'show what a checkpoint holds (official .pt/.pkl or ours)',
  usage: 'pfgmpp inspect CHECKPOINT [--json]',
  description:
    'Reads a training state, network snapshot, PFGM++ .pkl, torch.save(state_dict) file or one of\n' +
    "this project's safetensors checkpoints (nothing in it is executed) and prints its format,\n" +
    'architecture keywords, resolution, channels, labels, D, parameter count and training step.',
  options,
  takesArguments: true,
  run,
};
