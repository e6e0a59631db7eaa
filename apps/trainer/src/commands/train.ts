/**
 * `pfgmpp train`: train.py's options (SPEC 1.1) on WebGPU. Writes a run folder like the
 * original (`NNNNN-desc/` with training_options.json, log.txt, stats.jsonl), network snapshots
 * and training states as safetensors (atomically), and a loss curve refreshed every tick.
 */
import { readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { ImageDataset, JsonObject } from '@pfgmpp/io';
import { mnistDataset, openDataset } from '@pfgmpp/io/node';
import { ARCHS, type Arch, networkSpec, PRECOND_CHOICES, type PrecondChoice } from '@pfgmpp/nn';
import { AUGMENT_DIM, AUGMENT_KWARGS } from '@pfgmpp/pfgmpp';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import { ADAPTER_OPTION, openGpus } from '../device.ts';
import type { Io } from '../io.ts';
import { type TrainConfig, type TrainProgress, train } from '../training/loop.ts';
import type { Command } from './command.ts';

const options: OptionSpec[] = [
  ADAPTER_OPTION,
  {
    name: 'devices',
    kind: 'int',
    value: 'N',
    help: 'data-parallel on N devices of the adapter: the micro-batches of --batch-gpu are shared out, gradients summed each step (default 1)',
  },
  {
    name: 'adapters',
    kind: 'string',
    value: 'A,B,...',
    help: 'data-parallel on one device per name (the first adapter whose name contains it; a name may repeat)',
  },
  {
    name: 'outdir',
    kind: 'string',
    value: 'DIR',
    required: true,
    help: 'parent folder of run folders',
  },
  {
    name: 'data',
    kind: 'string',
    value: 'ZIP|DIR|mnist',
    required: true,
    help: "dataset (ZIP or folder of PNGs + dataset.json), or 'mnist' (built in, 32x32)",
  },
  {
    name: 'name',
    kind: 'string',
    value: 'NAME',
    help: 'run folder is exactly OUTDIR/NAME (reused if it exists)',
  },
  { name: 'cond', kind: 'flag', help: 'class-conditional (the dataset needs labels)' },
  {
    name: 'pfgmpp',
    kind: 'flag',
    help: 'PFGM++ perturbation kernel with D = --aug_dim (default: diffusion, D = inf)',
  },
  {
    name: 'aug_dim',
    kind: 'int',
    value: 'D',
    help: 'PFGM++ augmented dimension D >= 2 (default 128)',
  },
  {
    name: 'arch',
    kind: 'string',
    value: 'NAME',
    choices: ARCHS,
    help: 'network: ddpmpp (default), ncsnpp or adm',
  },
  {
    name: 'precond',
    kind: 'string',
    value: 'NAME',
    choices: PRECOND_CHOICES,
    help: 'preconditioning and loss: edm (default), ve or vp',
  },
  {
    name: 'duration',
    kind: 'float',
    value: 'MIMG',
    help: 'training length in millions of images (default 200)',
  },
  {
    name: 'kimg',
    kind: 'float',
    value: 'KIMG',
    help: 'training length in thousands of images (overrides --duration; fractions allowed)',
  },
  { name: 'batch', kind: 'int', value: 'N', help: 'images per optimizer step (default 512)' },
  {
    name: 'batch-gpu',
    kind: 'int',
    value: 'N',
    help: 'images per forward pass; smaller values accumulate gradients',
  },
  {
    name: 'cbase',
    kind: 'int',
    value: 'N',
    help: 'model_channels (default 128 for ddpmpp/ncsnpp, 192 for adm)',
  },
  {
    name: 'cres',
    kind: 'string',
    value: 'LIST',
    help: 'channel_mult, e.g. 1,2,2 (default 2,2,2; adm 1,2,3,4)',
  },
  {
    name: 'nblock',
    kind: 'int',
    value: 'N',
    help: 'residual blocks per resolution (default 4; adm 3)',
  },
  {
    name: 'attn',
    kind: 'string',
    value: 'LIST',
    help: 'attention resolutions, e.g. 16 (default 16; adm 32,16,8); "none" for none',
  },
  { name: 'lr', kind: 'float', value: 'LR', help: 'peak learning rate (default 0.001)' },
  {
    name: 'lr-rampup',
    kind: 'float',
    value: 'KIMG',
    help: 'learning-rate warm-up length (default 10000, as the original)',
  },
  {
    name: 'ema',
    kind: 'float',
    value: 'MIMG',
    help: 'EMA half-life in millions of images (default 0.5)',
  },
  { name: 'dropout', kind: 'float', value: 'P', help: 'dropout probability (default 0.13)' },
  {
    name: 'augment',
    kind: 'float',
    value: 'P',
    help:
      "EDM's augmentation probability p in [0, 1] (default 0 = off; EDM's CIFAR-10 recipe uses 0.12): " +
      'flips, scaling, rotation, anisotropy and translation on the GPU, 9 augment labels to the network',
  },
  { name: 'xflip', kind: 'flag', help: 'double the dataset with mirrored images' },
  { name: 'lsun', kind: 'flag', help: 'scale the EDM loss sigmas by 380/80 (LSUN recipe)' },
  { name: 'ls', kind: 'float', value: 'S', help: 'loss scaling (default 1)' },
  { name: 'cache', kind: 'flag', help: 'keep decoded images in memory (default true)' },
  {
    name: 'fp16',
    kind: 'flag',
    help: 'half-precision network: not available yet (only --fp16=0 is accepted)',
  },
  { name: 'bench', kind: 'flag', help: 'cuDNN benchmark mode of the original: no effect here' },
  {
    name: 'workers',
    kind: 'int',
    value: 'N',
    help: 'data-loader processes of the original: no effect here (decoding is in-process)',
  },
  { name: 'max-size', kind: 'int', value: 'N', help: 'use a random subset of at most N images' },
  { name: 'desc', kind: 'string', value: 'TEXT', help: 'suffix of the run folder name' },
  { name: 'nosubdir', kind: 'flag', help: 'write directly into --outdir' },
  {
    name: 'tick',
    kind: 'float',
    value: 'KIMG',
    help: 'progress interval in thousands of images (default 50)',
  },
  { name: 'snap', kind: 'int', value: 'TICKS', help: 'network snapshot interval (default 50)' },
  { name: 'dump', kind: 'int', value: 'TICKS', help: 'training state interval (default 50)' },
  { name: 'seed', kind: 'int', value: 'N', help: 'random seed (default: random)' },
  {
    name: 'transfer',
    kind: 'string',
    value: 'FILE',
    help: 'start from this network (EMA ramp-up off); tensors the file lacks keep their initial values',
  },
  { name: 'resume', kind: 'string', value: 'FILE', help: 'continue from a training state' },
  {
    name: 'stf',
    kind: 'flag',
    help: 'Stable Target Field targets (EDM loss) over a reference batch',
  },
  {
    name: 'rbatch',
    kind: 'int',
    value: 'N',
    help: 'STF reference batch per step, > --batch-gpu (default 4096)',
  },
  {
    name: 'time-limit',
    kind: 'float',
    value: 'SEC',
    help: 'stop (saving everything) after this many seconds',
  },
  { name: 'dry-run', short: 'n', kind: 'flag', help: 'print the options and exit' },
];

function positive(v: unknown, name: string, fallback: number, min = 0, exclusive = true): number {
  const x = v === undefined ? fallback : (v as number);
  if (!(exclusive ? x > min : x >= min)) {
    throw new UsageError(`option --${name} must be ${exclusive ? '>' : '>='} ${min}; got ${x}`);
  }
  return x;
}

function intList(text: string, name: string): number[] {
  const xs = text.split(',').map((t) => Number(t.trim()));
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) {
    throw new UsageError(
      `option --${name} must be a comma-separated list of positive integers; got '${text}'`,
    );
  }
  return xs;
}

/** The next NNNNN- prefix among the folders of `outdir`. */
async function nextRunId(outdir: string): Promise<number> {
  const names = await readdir(outdir).catch(() => [] as string[]);
  const ids = names.map((n) => /^(\d+)/.exec(n)?.[1]).filter((m): m is string => m !== undefined);
  return ids.length ? Math.max(...ids.map(Number)) + 1 : 0;
}

export interface TrainPlan {
  config: TrainConfig;
  summary: JsonObject;
  /** How many devices share each step, and the adapter of each (`--adapters`), if named. */
  devices: { count: number; adapters?: string[] };
}

/** `--devices N` and `--adapters A,B`, checked against the micro-batches of a step. */
function planDevices(v: OptionValues, rounds: number): TrainPlan['devices'] {
  if (v.adapters !== undefined && v.adapter !== undefined)
    throw new UsageError('--adapter and --adapters are exclusive');
  const adapters =
    v.adapters === undefined ? undefined : (v.adapters as string).split(',').map((a) => a.trim());
  if (adapters?.some((a) => a === ''))
    throw new UsageError(
      `option --adapters must be a comma-separated list of names; got '${v.adapters}'`,
    );
  const count = positive(v.devices, 'devices', adapters?.length ?? 1);
  if (adapters && count !== adapters.length) {
    throw new UsageError(`--devices ${count} but --adapters names ${adapters.length} adapters`);
  }
  if (count > rounds) {
    throw new UsageError(
      `--devices ${count}: a step has only ${rounds} micro-batches of --batch-gpu images to share out (--batch / --batch-gpu)`,
    );
  }
  return { count, ...(adapters && { adapters }) };
}

export async function openTrainingData(
  data: string,
  o: { xflip: boolean; cache: boolean; cond: boolean; maxSize?: number; seed: number },
): Promise<ImageDataset> {
  const options = {
    xflip: o.xflip,
    cache: o.cache,
    useLabels: o.cond,
    ...(o.maxSize !== undefined && { maxSize: o.maxSize }),
    randomSeed: o.seed,
  };
  const ds = data === 'mnist' ? await mnistDataset(options) : await openDataset(data, options);
  if (o.cond && !ds.labels)
    throw new UsageError(`--cond needs class labels, but ${data} has no dataset.json labels`);
  const [, h, w] = ds.shape;
  if (h !== w) throw new UsageError(`${data}: images must be square, got ${w}x${h}`);
  return ds;
}

/** Validates the options and resolves everything train() needs. */
export async function planTraining(v: OptionValues): Promise<TrainPlan> {
  const seed = v.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : (v.seed as number);
  const arch = (v.arch ?? 'ddpmpp') as Arch;
  const precond = (v.precond ?? 'edm') as PrecondChoice;
  if (v.fp16 === true)
    throw new UsageError(
      '--fp16=1: mixed precision is not available yet; train in float32 (--fp16=0)',
    );
  // --aug_dim is checked even without --pfgmpp (the original takes it either way), but D stays
  // infinite for diffusion.
  const augDim = positive(v.aug_dim, 'aug_dim', 128, 2, false);
  const D = v.pfgmpp === true ? augDim : Number.POSITIVE_INFINITY;
  if (precond === 'vp' && Number.isFinite(D))
    throw new UsageError('--precond=vp is diffusion only (--pfgmpp=0)');
  const augment = v.augment === undefined ? 0 : (v.augment as number);
  if (!(augment >= 0 && augment <= 1)) {
    throw new UsageError(`option --augment must be a probability in [0, 1]; got ${augment}`);
  }
  const batch = positive(v.batch, 'batch', 512);
  const batchGpu = Math.min(positive(v['batch-gpu'], 'batch-gpu', batch), batch);
  if (batch % batchGpu !== 0) {
    throw new UsageError(`--batch ${batch} must be a multiple of --batch-gpu ${batchGpu}`);
  }
  const devices = planDevices(v, batch / batchGpu);
  const dropout = positive(v.dropout, 'dropout', 0.13, 0, false);
  if (dropout >= 1) throw new UsageError(`option --dropout must be below 1; got ${dropout}`);
  const data = v.data as string;
  const dataset = await openTrainingData(data, {
    xflip: v.xflip === true,
    cache: v.cache !== false,
    cond: v.cond === true,
    seed,
    ...(v['max-size'] !== undefined && { maxSize: v['max-size'] as number }),
  });
  const [channels, resolution] = [dataset.shape[0], dataset.shape[1]];
  const cres = v.cres === undefined ? undefined : intList(v.cres as string, 'cres');
  const spec = networkSpec(arch, precond, {
    resolution,
    channels,
    labelDim: v.cond ? dataset.labelDim : 0,
    augmentDim: augment > 0 ? AUGMENT_DIM : 0,
    ...(v.cbase !== undefined && { cbase: v.cbase as number }),
    ...(cres && { cres }),
    ...(v.nblock !== undefined && { nblock: v.nblock as number }),
    dropout,
    D,
  });
  if (v.attn !== undefined)
    spec.kwargs.attn_resolutions = v.attn === 'none' ? [] : intList(v.attn as string, 'attn');
  const levels = (spec.kwargs.channel_mult as number[]).length;
  if (resolution % 2 ** (levels - 1) !== 0) {
    throw new UsageError(
      `resolution ${resolution} cannot be halved ${levels - 1} times (--cres has ${levels} levels)`,
    );
  }
  const dataName = data === 'mnist' ? 'mnist' : basename(data, extname(data));
  const descParts = [
    dataName,
    v.cond ? 'cond' : 'uncond',
    arch,
    precond,
    `gpus${devices.count}`,
    `batch${batch}`,
    'fp32',
  ];
  if (v.desc) descParts.push(v.desc as string);
  const outdir = v.outdir as string;
  const runDir = v.nosubdir
    ? outdir
    : v.name
      ? join(outdir, v.name as string)
      : join(outdir, `${String(await nextRunId(outdir)).padStart(5, '0')}-${descParts.join('-')}`);
  const duration = positive(v.duration, 'duration', 200);
  const options: JsonObject = {
    dataset_kwargs: {
      class_name: 'training.dataset.ImageFolderDataset',
      path: data,
      use_labels: v.cond === true,
      xflip: v.xflip === true,
      cache: v.cache !== false,
      resolution,
      max_size: dataset.length,
    },
    network_kwargs: {
      class_name: `training.networks.${spec.className}`,
      ...spec.kwargs,
    } as JsonObject,
    loss_kwargs: {
      class_name: `training.loss.${precond.toUpperCase()}Loss`,
      D: Number.isFinite(D) ? D : 'inf',
      pfgmpp: Number.isFinite(D),
    },
    optimizer_kwargs: {
      class_name: 'torch.optim.Adam',
      lr: positive(v.lr, 'lr', 1e-3),
      betas: [0.9, 0.999],
      eps: 1e-8,
    },
    ...(augment > 0 && { augment_kwargs: { ...AUGMENT_KWARGS, p: augment } }),
    total_kimg:
      v.kimg !== undefined ? positive(v.kimg, 'kimg', 1) : Math.max(Math.floor(duration * 1000), 1),
    ema_halflife_kimg: Math.floor(positive(v.ema, 'ema', 0.5, 0, false) * 1000),
    lr_rampup_kimg: positive(v['lr-rampup'], 'lr-rampup', 10000, 0, false),
    batch_size: batch,
    batch_gpu: batchGpu,
    loss_scaling: positive(v.ls, 'ls', 1),
    kimg_per_tick: positive(v.tick, 'tick', 50),
    snapshot_ticks: positive(v.snap, 'snap', 50, 0, false),
    state_dump_ticks: positive(v.dump, 'dump', 50, 0, false),
    seed,
    stf: v.stf === true,
    rbatch: v.stf ? ((v.rbatch as number | undefined) ?? 4096) : null,
    run_dir: runDir,
    D: Number.isFinite(D) ? D : 'inf',
    pfgmpp: Number.isFinite(D),
    ...(v.resume !== undefined && { resume_state_dump: v.resume as string }),
    ...(v.transfer !== undefined && { transfer: v.transfer as string }),
  };
  const config: TrainConfig = {
    runDir,
    dataset,
    datasetDescription: options.dataset_kwargs as JsonObject,
    className: spec.className,
    initKwargs: spec.kwargs as JsonObject,
    precond,
    D,
    totalKimg: options.total_kimg as number,
    batch,
    batchGpu,
    lr: (options.optimizer_kwargs as { lr: number }).lr,
    lrRampupKimg: options.lr_rampup_kimg as number,
    emaHalfLifeKimg: options.ema_halflife_kimg as number,
    emaRampup: v.transfer ? null : 0.05,
    lossScaling: options.loss_scaling as number,
    lsun: v.lsun === true,
    tickKimg: options.kimg_per_tick as number,
    snapTicks: options.snapshot_ticks as number,
    dumpTicks: options.state_dump_ticks as number,
    seed,
    augment,
    stfReference: v.stf ? positive(v.rbatch, 'rbatch', 4096) : 0,
    ...(v.resume !== undefined && { resume: v.resume as string }),
    ...(v.transfer !== undefined && { transfer: v.transfer as string }),
    ...(v['time-limit'] !== undefined && {
      maxSeconds: positive(v['time-limit'], 'time-limit', 0),
    }),
    options,
  };
  if (v.resume && v.transfer) throw new UsageError('--resume and --transfer are exclusive');
  if (v.stf && precond !== 'edm') throw new UsageError('--stf needs --precond=edm');
  if (v.rbatch !== undefined && !v.stf) throw new UsageError('--rbatch needs --stf');
  if (v.stf && config.stfReference <= batchGpu) {
    throw new UsageError(
      `--rbatch ${config.stfReference} must exceed the images per forward pass (${batchGpu})`,
    );
  }
  return { config, summary: options, devices };
}

const fmtTime = (s: number) =>
  !Number.isFinite(s)
    ? '?'
    : s >= 3600
      ? `${(s / 3600).toFixed(1)}h`
      : s >= 60
        ? `${(s / 60).toFixed(1)}m`
        : `${s.toFixed(0)}s`;

/** One updating line on a terminal, a line every ~10 s otherwise. */
export function trainProgress(io: Io) {
  let last = 0;
  return (p: TrainProgress) => {
    const now = Date.now();
    const text = `train: ${p.kimg.toFixed(3)}/${p.totalKimg} kimg  loss ${p.loss.toPrecision(4)}  ${p.imagesPerSecond.toFixed(1)} img/s  ETA ${fmtTime(p.etaSeconds)}`;
    if (io.isTTY) {
      if (now - last > 200) {
        io.err(`\r${text}\u001b[K`);
        last = now;
      }
    } else if (now - last > 10_000) {
      io.err(`${text}\n`);
      last = now;
    }
  };
}

async function run(v: OptionValues, io: Io): Promise<void> {
  const plan = await planTraining(v);
  io.out(`Training options:\n${JSON.stringify(plan.summary, null, 2)}\n`);
  if (v['dry-run']) {
    io.out('Dry run; exiting.\n');
    return;
  }
  const gpus = await openGpus(v, io, plan.devices.count, plan.devices.adapters);
  const progress = trainProgress(io);
  const result = await train(gpus, plan.config, {
    onStep: progress,
    log: (line) => io.err(`${io.isTTY ? '\r\u001b[K' : ''}${line}\n`),
  }).finally(() => {
    for (const g of gpus.slice(1)) g.destroy();
  });
  io.out(
    `Done: ${(result.nimg / 1000).toFixed(3)} kimg in ${fmtTime(result.seconds)}; ` +
      `snapshot ${result.lastSnapshot ?? '-'}; state ${result.lastState ?? '-'}\n`,
  );
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a PFGM++ or diffusion model (train.py)',
  usage: 'pfgmpp train --outdir DIR --data ZIP|DIR|mnist [options]',
  description:
    'Trains a network with the EDM (default), VE or VP preconditioning and loss; --pfgmpp uses the\n' +
    'PFGM++ perturbation kernel with D = --aug_dim. The run folder holds training_options.json,\n' +
    'log.txt, stats.jsonl, loss.png, network-snapshot-KIMG.safetensors and\n' +
    'training-state-KIMG.safetensors (resume with --resume). Official training-state .pt/.pkl files\n' +
    'are accepted by --resume and --transfer.',
  options,
  run,
};
