/**
 * The training loop of SPEC 7: gradient accumulation, linear learning-rate ramp-up, gradient
 * sanitising (inside the fused Adam kernel), EMA with ramp-up, ticks with `log.txt`,
 * `stats.jsonl`, a loss-curve PNG, network snapshots and resumable training states.
 *
 * Reproducibility: the data order, the noise of every loss and the augmentation draws (seed,
 * step), and the dropout streams are functions of the seed and the images seen, and the training state stores all
 * three, so a resumed run computes the same losses as an uninterrupted one.
 *
 * Several devices (`--devices`, `--adapters`) share out the micro-batches of each step
 * (devices.ts); every draw above stays keyed by the micro-batch, so the run computes what
 * gradient accumulation over the same micro-batches on one device computes.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Batch, BatchSampler, type ImageDataset, type JsonObject } from '@pfgmpp/io';
import { readCheckpointFile, writeCheckpointFile, writeFileAtomic } from '@pfgmpp/io/node';
import { Adam, buildPrecond, emaBeta, type Precond, StreamCounter, updateEma } from '@pfgmpp/nn';
import { augmentPipe, edmLoss, loadWeights, tensorInputs, veLoss, vpLoss } from '@pfgmpp/pfgmpp';
import {
  backward,
  concat,
  type Gpu,
  mean,
  mul,
  reshape,
  scope,
  square,
  sum,
  type Tensor,
  tensor,
  withGpu,
} from '@pfgmpp/tensor/node';
import { DataParallel } from './devices.ts';
import { readKernelRecord, writeKernelRecord } from './kernels.ts';
import { lossCurve } from '../pictures.ts';
import { transferReport, writeSnapshot } from './network.ts';

export interface TrainConfig {
  runDir: string;
  dataset: ImageDataset;
  /** What `training_options.json` records about the data. */
  datasetDescription: JsonObject;
  className: string;
  initKwargs: JsonObject;
  precond: 'edm' | 've' | 'vp';
  /** PFGM++ D; Infinity for diffusion. */
  D: number;
  totalKimg: number;
  batch: number;
  batchGpu: number;
  lr: number;
  /** Learning-rate ramp-up length (official 10,000 kimg). */
  lrRampupKimg: number;
  emaHalfLifeKimg: number;
  /** EMA ramp-up ratio, null when off (--transfer). */
  emaRampup: number | null;
  lossScaling: number;
  lsun: boolean;
  tickKimg: number;
  snapTicks: number;
  dumpTicks: number;
  seed: number;
  /** EDM augmentation probability p (0 = off; > 0 needs a network with augment_dim 9). */
  augment: number;
  resume?: string;
  transfer?: string;
  /** Stable Target Field (EDM loss only): reference batch size per step (> batchGpu), or 0. */
  stfReference: number;
  /** Stop early after this many seconds (the demo's time budget); the state is saved. */
  maxSeconds?: number;
  options: JsonObject;
}

export interface TrainProgress {
  kimg: number;
  totalKimg: number;
  loss: number;
  imagesPerSecond: number;
  etaSeconds: number;
}

export interface TrainHooks {
  /** Called after every optimizer step (progress line). */
  onStep?: (p: TrainProgress) => void;
  /** Lines for the console and log.txt. */
  log: (line: string) => void;
}

export interface TrainResult {
  nimg: number;
  steps: number;
  losses: number[];
  kimgs: number[];
  lastSnapshot: string | null;
  lastState: string | null;
  seconds: number;
  stoppedEarly: boolean;
}

/** `{kimg:06d}` as the original names files; a `.NNN` image remainder keeps small-batch runs' ticks apart. */
const kimgName = (nimg: number) =>
  String(Math.floor(nimg / 1000)).padStart(6, '0') +
  (nimg % 1000 ? `.${String(nimg % 1000).padStart(3, '0')}` : '');

type Moments = { num: number; mean: number; std: number };

/**
 * The original's stats collector: per name, float64 sums of x and x^2 since the last tick,
 * turned into {num, mean, std}; names with nothing new keep their previous figures.
 */
class Stats {
  private sums = new Map<string, { n: number; s: number; s2: number }>();
  private last = new Map<string, Moments>();
  /** `n` values with mean `mean` and mean square `meanSq` (one value by default). */
  report(name: string, mean: number, n = 1, meanSq = mean * mean): void {
    const acc = this.sums.get(name) ?? { n: 0, s: 0, s2: 0 };
    acc.n += n;
    acc.s += mean * n;
    acc.s2 += meanSq * n;
    this.sums.set(name, acc);
  }
  flush(): Record<string, Moments> {
    for (const [name, { n, s, s2 }] of this.sums) {
      const m = s / n;
      this.last.set(name, { num: n, mean: m, std: Math.sqrt(Math.max(s2 / n - m * m, 0)) });
    }
    this.sums.clear();
    return Object.fromEntries(this.last);
  }
}

function lossFunction(c: TrainConfig) {
  return (
    net: Precond,
    images: Tensor,
    labels: Tensor | undefined,
    seed: number,
    step: number,
    /** STF: the reference images beyond the training batch (the reference is both together). */
    extras?: Tensor,
  ) => {
    const fn = (x: Tensor, sigma: Tensor, l?: Tensor, a?: Tensor) =>
      net.forward(x, sigma, l ?? null, a ?? null);
    let augmentLabels: Tensor | undefined;
    if (c.augment > 0) {
      // Runs in the caller's scope. STF (SPEC 3.5): the extra reference images get their own
      // augmentation call, numbered after the training images, and the reference starts with
      // the augmented training images.
      const rng = { seed, step };
      const aug = augmentPipe(images, c.augment, rng);
      if (extras) extras = augmentPipe(extras, c.augment, rng, images.shape[0] as number).images;
      images = aug.images;
      augmentLabels = aug.labels;
    }
    const reference = extras ? concat([images, extras], 0) : undefined;
    const batch = {
      images,
      ...(labels && { classLabels: labels }),
      ...(augmentLabels && { augmentLabels }),
      rng: { seed, step },
    };
    if (c.precond === 'edm') {
      return edmLoss(fn, batch, { D: c.D, lsun: c.lsun }, reference && { reference });
    }
    if (c.precond === 've') return veLoss(fn, batch, { D: c.D });
    return vpLoss(fn, batch, { D: c.D });
  };
}

/**
 * Trains on `gpus` (device 0 first: it keeps the training network, Adam, the EMA and writes
 * every file; the others compute their share of each step's micro-batches).
 */
export async function train(
  gpus: Gpu | readonly Gpu[],
  c: TrainConfig,
  hooks: TrainHooks,
): Promise<TrainResult> {
  const start = Date.now();
  const devices = Array.isArray(gpus) ? (gpus as readonly Gpu[]) : [gpus as Gpu];
  const gpu = devices[0] as Gpu;
  const rounds = c.batch / c.batchGpu;
  if (devices.length > rounds) {
    throw new Error(
      `${devices.length} devices but ${rounds} micro-batches per step: each device needs one (--batch / --batch-gpu)`,
    );
  }
  await mkdir(c.runDir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot create the run folder ${c.runDir} (${e.code ?? e.message})`, {
      cause: e,
    });
  });
  const log = async (line: string) => {
    hooks.log(line);
    const path = join(c.runDir, 'log.txt');
    await appendFile(path, `${line}\n`).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`${path}: cannot write (${e.code ?? e.message})`, { cause: e });
    });
  };
  const net = buildPrecond(c.className, c.initKwargs as never)
    .initialize(c.seed)
    .train();
  const ema = buildPrecond(c.className, c.initKwargs as never);
  ema.loadStateDict(await net.stateDict());
  ema.eval();
  const adam = new Adam(net);
  let nimg = 0;
  let rngState = { seed: (c.seed * 2654435761) >>> 0, counter: 0 };
  let emaRampup = c.emaRampup;
  const from = c.resume ?? c.transfer;
  if (from) {
    const ck = await readCheckpointFile(from, { require: ['net'] });
    if (!ck.net) throw new Error(`${from}: no training network in the file`);
    // --transfer into a network that differs only by missing tensors (e.g. an unconditional
    // model into a conditional one: map_label) copies what matches by name, as EDM's
    // copy_params_and_buffers(require_all=False) does, and starts a fresh run (step 0, new Adam
    // moments, LR ramp-up). A full match restores everything, as PFGM++'s --transfer does.
    const partial = c.transfer ? transferReport(net, ck.net, from) : null;
    if (partial) {
      // ema was built as a copy of net, so the tensors the file lacks start equal in both.
      net.loadStateDict(tensorInputs(ck.net), { strict: false });
      ema.loadStateDict(tensorInputs(ck.ema ?? ck.net), { strict: false });
    } else {
      loadWeights(net, ck.net, from);
      loadWeights(ema, ck.ema ?? ck.net, from);
      if (ck.optimizer) adam.loadState(ck.optimizer.tensors, Math.round((ck.step ?? 0) / c.batch));
      nimg = ck.step ?? 0;
      const r = ck.rng as { seed?: number; counter?: number } | undefined;
      if (r && typeof r.seed === 'number' && typeof r.counter === 'number')
        rngState = { seed: r.seed, counter: r.counter };
    }
    if (c.transfer) emaRampup = null;
    await log(
      `${c.resume ? 'Resuming' : 'Transferring'} from ${from} at ${(nimg / 1000).toFixed(3)} kimg`,
    );
    if (partial) {
      await log(
        `Transfer: copied ${partial.copied} tensors; left at their initial values: ${partial.missing.join(', ') || 'none'}` +
          (partial.unexpected.length
            ? `; not used from the file: ${partial.unexpected.join(', ')}`
            : ''),
      );
    }
  }
  net.model.rng = new StreamCounter(rngState.seed, rngState.counter);
  const N = c.dataset.shape.reduce((a, b) => a * b, 1);
  await log(
    `Network: ${c.className}, ${net.parameterCount().toLocaleString('en-US')} parameters; ` +
      `${Number.isFinite(c.D) ? `PFGM++ D=${c.D}` : 'diffusion (D = inf)'}, N=${N}; ` +
      `dataset ${c.dataset.length} images ${c.dataset.shape.join('x')}`,
  );
  await writeFile(
    join(c.runDir, 'training_options.json'),
    `${JSON.stringify(c.options, null, 2)}\n`,
  );

  const sampler = new BatchSampler(c.dataset, {
    batchSize: c.batchGpu,
    seed: c.seed,
    order: 'edm',
    start: nimg,
  });
  const computeLoss = lossFunction(c);
  // STF: the rest of each reference batch comes from a second stream over the data.
  const extras =
    c.stfReference > 0
      ? new BatchSampler(c.dataset, {
          batchSize: c.stfReference - c.batchGpu,
          seed: c.seed + 1,
          order: 'edm',
          start: (nimg / c.batchGpu) * (c.stfReference - c.batchGpu),
        })
      : null;
  // Kernel rows: a resumed run takes the rows its run recorded, so it computes what the
  // uninterrupted run computed; the shapes of a step are then tuned, seen on one micro-batch of
  // zeros (its gradients dropped and the dropout streams put back after).
  let rows: Record<string, string> = {};
  if (c.resume) {
    const recorded = await readKernelRecord(dirname(c.resume));
    if (recorded) {
      rows = recorded.rows;
      gpu.kernels.pin(recorded.rows);
      await log(`Kernel rows: ${Object.keys(recorded.rows).length} recorded by the resumed run`);
    } else {
      await log(
        `Kernel rows: no kernels.json beside ${c.resume}; chosen afresh (losses may differ from the original run in the last bits)`,
      );
    }
  }
  const tune = async (g: Gpu, model: Precond) => {
    const rngBefore = model.model.rng.counter;
    const tuned = await g.tuneKernels(() =>
      withGpu(g, () =>
        scope(() => {
          const zeros = (shape: number[]) =>
            tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
          const labelDim = c.dataset.labelDim;
          const more = c.stfReference - c.batchGpu;
          const loss = computeLoss(
            model,
            zeros([c.batchGpu, ...c.dataset.shape]),
            labelDim ? zeros([c.batchGpu, labelDim]) : undefined,
            c.seed,
            0,
            c.stfReference > 0 ? zeros([more, ...c.dataset.shape]) : undefined,
          );
          backward(sum(loss));
        }),
      ),
    );
    model.model.rng.counter = rngBefore;
    for (const [, slot] of model.namedParameters()) {
      slot.tensor.grad?.dispose();
      slot.tensor.grad = null;
    }
    if (tuned.length)
      await log(
        `Kernel rows: tuned ${tuned.length} shapes on ${g === gpu ? 'this adapter' : `device ${devices.indexOf(g)}'s adapter`}`,
      );
  };
  await tune(gpu, net);
  const parallel = await DataParallel.create(
    devices,
    net,
    c,
    { ...rows, ...gpu.kernels.usedRows() },
    tune,
  );
  if (parallel.size > 1) {
    await log(
      `Devices: ${parallel.size}; micro-batch k of a step runs on device k mod ${parallel.size}, gradients summed on the host`,
    );
  }
  /** One micro-batch on the network `model`: forward and backward recorded, the loss's moments returned. */
  const microBatch = (model: Precond, b: Batch, more: Batch | null, key: number) =>
    scope(() => {
      const images = tensor(b.images, b.shape);
      const labels = b.labelDim ? tensor(b.labels, [b.shape[0], b.labelDim]) : undefined;
      const extraImages = more ? tensor(more.images, more.shape) : undefined;
      const loss = computeLoss(model, images, labels, c.seed, key, extraImages);
      backward(mul(sum(loss), c.lossScaling / c.batch));
      // Mean and mean square in one readback (one sync per micro-batch).
      const moments = concat([reshape(mean(loss), [1]), reshape(mean(square(loss)), [1])]);
      return { moments, n: loss.size };
    });
  const stats = new Stats();
  const totalNimg = c.totalKimg * 1000;
  const losses: number[] = [];
  const kimgs: number[] = [];
  let tick = Math.floor(nimg / (c.tickKimg * 1000));
  let tickStartNimg = nimg;
  let tickStartTime = Date.now();
  let lastSnapshot: string | null = null;
  let lastState: string | null = null;
  let stoppedEarly = false;
  let stepIndex = Math.round(nimg / c.batch);
  const startNimg = nimg;
  const saveState = async () => {
    await writeKernelRecord(c.runDir, gpu);
    const path = join(c.runDir, `training-state-${kimgName(nimg)}.safetensors`);
    const opt = await adam.state();
    await writeCheckpointFile(path, {
      kind: 'training-state',
      className: c.className,
      initKwargs: c.initKwargs,
      net: tensorInputs(await net.stateDict()),
      ema: tensorInputs(await ema.stateDict()),
      optimizer: {
        tensors: tensorInputs(opt),
        paramGroups: [{ lr: c.lr, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 }],
      },
      step: nimg,
      rng: { seed: net.model.rng.seed, counter: net.model.rng.counter },
      extra: { options: JSON.stringify(c.options) },
    });
    lastState = path;
  };

  try {
    for (;;) {
      // One optimizer step: accumulate gradients over `rounds` micro-batches, recorded in waves
      // of one per device (micro-batch k on device k mod N, its draws keyed by k), then summed.
      let lossSum = 0;
      let lossSqSum = 0;
      let count = 0;
      for (let first = 0; first < rounds; first += parallel.size) {
        const wave: { moments: Tensor; n: number }[] = [];
        for (let k = first; k < Math.min(first + parallel.size, rounds); k++) {
          const b = await sampler.next();
          const more = extras ? await extras.next() : null;
          wave.push(
            parallel.on(k - first, (model) => microBatch(model, b, more, stepIndex * rounds + k)),
          );
        }
        parallel.flush();
        for (const { moments, n } of wave) {
          const [m, m2] = await moments.read();
          moments.dispose();
          lossSum += (m as number) * n;
          lossSqSum += (m2 as number) * n;
          count += n;
        }
      }
      await parallel.reduceGradients();
      const stepLoss = lossSum / count;
      if (!Number.isFinite(stepLoss)) {
        adam.zeroGrad();
        await saveState();
        throw new Error(
          `the loss became ${stepLoss} at ${(nimg / 1000).toFixed(3)} kimg; the last good state is ${lastState}` +
            ' (try a lower --lr)',
        );
      }
      stats.report('Loss/loss', stepLoss, count, lossSqSum / count);
      const lr = c.lr * Math.min(nimg / Math.max(c.lrRampupKimg * 1000, 1e-8), 1);
      adam.step(lr, true);
      await parallel.broadcastWeights();
      updateEma(
        ema,
        net,
        emaBeta({ batch: c.batch, nimg, halfLifeKimg: c.emaHalfLifeKimg, rampup: emaRampup }),
      );
      nimg += c.batch;
      stepIndex++;
      losses.push(stepLoss);
      kimgs.push(nimg / 1000);
      const elapsed = (Date.now() - start) / 1000;
      const ips = (nimg - startNimg) / Math.max(elapsed, 1e-9);
      hooks.onStep?.({
        kimg: nimg / 1000,
        totalKimg: c.totalKimg,
        loss: stepLoss,
        imagesPerSecond: ips,
        etaSeconds: (totalNimg - nimg) / Math.max(ips, 1e-9),
      });
      const done = nimg >= totalNimg;
      const outOfTime = c.maxSeconds !== undefined && elapsed >= c.maxSeconds;
      if (done || outOfTime || nimg >= tickStartNimg + c.tickKimg * 1000 || stepIndex === 1) {
        const now = Date.now();
        const secPerTick = (now - tickStartTime) / 1000;
        const kimgDone = (nimg - tickStartNimg) / 1000;
        stats.report('Progress/tick', tick);
        stats.report('Progress/kimg', nimg / 1000);
        stats.report('Timing/total_sec', elapsed);
        stats.report('Timing/sec_per_tick', secPerTick);
        stats.report('Timing/sec_per_kimg', secPerTick / Math.max(kimgDone, 1e-9));
        stats.report('Resources/cpu_mem_gb', process.memoryUsage().rss / 2 ** 30);
        stats.report('Resources/peak_gpu_mem_gb', gpu.pool.snapshot().peakBytes / 2 ** 30);
        const maintenanceStart = Date.now();
        await log(
          `tick ${tick} kimg ${(nimg / 1000).toFixed(3)} loss ${stepLoss.toPrecision(4)} ` +
            `time ${elapsed.toFixed(0)}s sec/tick ${secPerTick.toFixed(1)} ` +
            `sec/kimg ${(secPerTick / Math.max(kimgDone, 1e-9)).toFixed(2)} img/s ${ips.toFixed(1)} ` +
            `gpumem ${(gpu.pool.snapshot().peakBytes / 2 ** 30).toFixed(2)}GB`,
        );
        if (c.snapTicks > 0 && (tick % c.snapTicks === 0 || done || outOfTime)) {
          const path = join(c.runDir, `network-snapshot-${kimgName(nimg)}.safetensors`);
          await writeSnapshot(path, {
            className: c.className,
            initKwargs: c.initKwargs,
            ema: await ema.stateDict(),
            step: nimg,
          });
          lastSnapshot = path;
        }
        if (c.dumpTicks > 0 && ((tick % c.dumpTicks === 0 && tick !== 0) || done || outOfTime))
          await saveState();
        await writeFileAtomic(join(c.runDir, 'loss.png'), lossCurve(kimgs, losses));
        stats.report('Timing/maintenance_sec', (Date.now() - maintenanceStart) / 1000);
        const entry = { ...stats.flush(), timestamp: Date.now() / 1000 };
        await appendFile(join(c.runDir, 'stats.jsonl'), `${JSON.stringify(entry)}\n`);
        tick++;
        tickStartNimg = nimg;
        tickStartTime = Date.now();
      }
      if (done || outOfTime) {
        stoppedEarly = !done;
        break;
      }
    }
  } finally {
    sampler.close();
    extras?.close();
    parallel.dispose();
  }
  await log(stoppedEarly ? 'Time budget reached; state saved.' : 'Exiting...');
  const result: TrainResult = {
    nimg,
    steps: stepIndex,
    losses,
    kimgs,
    lastSnapshot,
    lastState,
    seconds: (Date.now() - start) / 1000,
    stoppedEarly,
  };
  adam.dispose();
  net.dispose();
  ema.dispose();
  return result;
}
