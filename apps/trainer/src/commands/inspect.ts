/**
 * `pfgmpp inspect CHECKPOINT`: what a checkpoint holds (format, architecture keywords,
 * resolution, channels, labels, D, parameter and buffer counts of each network, training step),
 * as text or `--json`. Reads official training states, network snapshots, plain state dicts and
 * ours; runs nothing.
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
  /**
   * Scalars per network ('net', 'ema', or 'network' for a file with one unnamed network):
   * parameters only, as the official training summary and sum(p.numel() for p in
   * net.parameters()); buffers (resample filters, Fourier frequencies, iDDPM's table) apart.
   */
  parameters: Record<string, number>;
  buffers: Record<string, number>;
  hasEma: boolean;
  hasOptimizer: boolean;
  step: number | null;
  kimg: number | null;
}

const count = (m: TensorMap) => [...m.values()].reduce((p, t) => p + t.data.length, 0);

/**
 * Whether a state-dict entry is a buffer. EDM's and PFGM++'s networks register exactly three:
 * `resample_filter` (Conv2d with up/down), `freqs` (FourierEmbedding) and the top-level `u`
 * (iDDPMPrecond); packages/nn registers the same names. A file keeps no other trace of which
 * entries are buffers (a plain state dict has only names).
 */
export function isBuffer(name: string): boolean {
  if (name === 'u') return true;
  const last = name.slice(name.lastIndexOf('.') + 1);
  return last === 'resample_filter' || last === 'freqs';
}

/** Parameter and buffer scalars of one network. */
export function countScalars(m: TensorMap): { parameters: number; buffers: number } {
  let parameters = 0;
  let buffers = 0;
  for (const [name, t] of m) {
    if (isBuffer(name)) buffers += t.data.length;
    else parameters += t.data.length;
  }
  return { parameters, buffers };
}

/** The networks of a checkpoint by name: net and EMA of a training state, else its only one. */
function networks(c: Checkpoint): [string, TensorMap][] {
  const named: [string, TensorMap | undefined][] = [
    ['net', c.net],
    ['ema', c.ema],
  ];
  const found = named.filter((e): e is [string, TensorMap] => e[1] !== undefined);
  return found.length > 0 ? found : [['network', c.tensors]];
}

function numberIn(...values: unknown[]): number | null {
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) return v;
  return null;
}

export function summarize(file: string, c: Checkpoint): CheckpointSummary {
  const k = (c.initKwargs ?? {}) as Record<string, unknown>;
  const a = (c.attributes ?? {}) as Record<string, unknown>;
  const pfgmpp = a.pfgmpp ?? k.pfgmpp;
  const parameters: Record<string, number> = {};
  const buffers: Record<string, number> = {};
  for (const [name, m] of networks(c)) {
    const n = countScalars(m);
    parameters[name] = n.parameters;
    buffers[name] = n.buffers;
  }
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
    parameters,
    buffers,
    hasEma: c.ema !== undefined,
    hasOptimizer: c.optimizer !== undefined,
    step: c.step ?? null,
    kimg: c.kimg ?? null,
  };
}

function text(s: CheckpointSummary): string {
  const v = (x: unknown) => (x === null || x === undefined ? '-' : String(x));
  const n = (x: number) => x.toLocaleString('en-US');
  // "48,275 (net), 48,275 (ema)"; a file with one unnamed network shows the bare number.
  const per = (r: Record<string, number>) =>
    Object.entries(r)
      .map(([k, x]) => (k === 'network' ? n(x) : `${n(x)} (${k})`))
      .join(', ');
  const lines = [
    `file        ${s.file}`,
    `format      ${s.format} (${s.container})`,
    `network     ${v(s.className)}`,
    `resolution  ${v(s.resolution)}`,
    `channels    ${v(s.channels)}`,
    `labels      ${s.labelDim ? s.labelDim : 'none'}`,
    `D           ${s.D === null ? '- (diffusion, or not recorded)' : s.D}`,
    `tensors     ${s.tensors} (${n(s.values)} values)${s.hasEma ? ', EMA' : ''}${s.hasOptimizer ? ', Adam state' : ''}`,
    `parameters  ${per(s.parameters)}`,
    `buffers     ${per(s.buffers)}`,
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
    'architecture keywords, resolution, channels, labels, D, the parameter count of each network\n' +
    '(net and EMA; parameters only, as the training summary) with its buffers apart, and the\n' +
    'training step.',
  options,
  takesArguments: true,
  run,
};
