/**
 * Stage 1 of `pfgmpp robustness`: one model per D, trained with the same network, budget, batch
 * order and seed. Only D changes: PFGM++'s transfer rule r = sigma sqrt(D) (SPEC 10.3) keeps the
 * sigma distribution, preconditioning, loss and optimizer of the diffusion model, so the same
 * options serve every D. The runs are ordinary `train` runs in DIR/models/D<D>: a finished one is
 * found by its final snapshot, an interrupted one resumes from its last training state.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { OptionValues } from '../cli.ts';
import type { Gpu } from '@pfgmpp/tensor/node';
import type { Io } from '../io.ts';
import { train } from '../training/loop.ts';
import { planTraining, trainProgress } from '../commands/train.ts';
import { formatD, type Plan } from './plan.ts';

/**
 * The `train` options of every model (the shipped MNIST checkpoints' network: 16 channels,
 * levels [1, 2, 2], one block, no attention). --quick: 8 channels, levels [1, 2].
 */
export const TRAINING: OptionValues = {
  cbase: 16,
  cres: '1,2,2',
  nblock: 1,
  attn: 'none',
  dropout: 0,
  batch: 64,
  lr: 2e-3,
  'lr-rampup': 2,
  ema: 0.01,
  tick: 5,
  snap: 2,
  dump: 2,
  seed: 0,
};
const QUICK_TRAINING: OptionValues = { ...TRAINING, cbase: 8, cres: '1,2', batch: 32, tick: 1 };

/** The equivalent `pfgmpp train` command line of one model (for the report). */
export function trainingLine(plan: Plan, D: number, data: string, outdir: string): string {
  const o = modelOptions(plan, D, data, outdir);
  return `pfgmpp train ${Object.entries(o)
    .map(([k, v]) => (v === true ? `--${k}` : v === false ? `--${k}=0` : `--${k}=${v}`))
    .join(' ')}`;
}

function modelOptions(plan: Plan, D: number, data: string, outdir: string): OptionValues {
  return {
    outdir: join(outdir, 'models'),
    name: `D${formatD(D)}`,
    data,
    pfgmpp: Number.isFinite(D),
    ...(Number.isFinite(D) && { aug_dim: D }),
    ...(plan.quick ? QUICK_TRAINING : TRAINING),
    kimg: plan.kimg,
  };
}

const SNAPSHOT = /^network-snapshot-(\d{6})(?:\.(\d{3}))?\.safetensors$/;
const STATE = /^training-state-(\d{6})(?:\.(\d{3}))?\.safetensors$/;
const nimgOf = (m: RegExpExecArray) => Number(m[1]) * 1000 + Number(m[2] ?? 0);

/** The latest file of a run folder matching `pattern`, with its image count. */
async function latest(
  dir: string,
  pattern: RegExp,
): Promise<{ file: string; nimg: number } | null> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let best: { file: string; nimg: number } | null = null;
  for (const name of names) {
    const m = pattern.exec(name);
    if (m && (!best || nimgOf(m) > best.nimg)) best = { file: join(dir, name), nimg: nimgOf(m) };
  }
  return best;
}

export interface TrainedModel {
  D: number;
  /** The final EMA snapshot. */
  snapshot: string;
  kimg: number;
  /** Seconds this invocation spent training it (0 when it was already done). */
  seconds: number;
}

/** Trains (or finds, or resumes) the model of every D. */
export async function trainModels(
  gpu: Gpu,
  plan: Plan,
  data: string,
  outdir: string,
  io: Io,
): Promise<TrainedModel[]> {
  const models: TrainedModel[] = [];
  for (const [k, D] of plan.D.entries()) {
    const v = modelOptions(plan, D, data, outdir);
    const runDir = join(v.outdir as string, v.name as string);
    const done = await latest(runDir, SNAPSHOT);
    const label = `robustness: model ${k + 1}/${plan.D.length} (D = ${formatD(D)})`;
    if (done && done.nimg >= plan.kimg * 1000) {
      io.err(`${label}: done (${done.file})\n`);
      models.push({ D, snapshot: done.file, kimg: done.nimg / 1000, seconds: 0 });
      continue;
    }
    const state = await latest(runDir, STATE);
    if (state) io.err(`${label}: resuming from ${state.file}\n`);
    else io.err(`${label}: training ${plan.kimg} kimg\n`);
    const { config } = await planTraining({ ...v, ...(state && { resume: state.file }) });
    const result = await train(gpu, config, {
      onStep: trainProgress(io),
      log: (line) => io.err(`${io.isTTY ? '\r\u001b[K' : ''}  ${line}\n`),
    });
    if (!result.lastSnapshot) throw new Error(`${runDir}: training wrote no snapshot`);
    models.push({
      D,
      snapshot: result.lastSnapshot,
      kimg: result.nimg / 1000,
      seconds: result.seconds,
    });
  }
  return models;
}
