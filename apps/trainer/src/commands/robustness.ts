/**
 * `pfgmpp robustness`: the PFGM++ paper's robustness result at MNIST scale, as one resumable
 * command. Trains one model per D (robustness/models.ts), samples each under alpha
 * perturbation, fewer steps and weight quantization on several seed ranges and scores the
 * samples with the digit classifier (robustness/measure.ts), then writes DIR/results.json,
 * DIR/robustness.png and DIR/report.md (robustness/results.ts, robustness/figure.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { runDatasetTool, writeFileAtomic } from '@pfgmpp/io/node';
import { toUint8 } from '@pfgmpp/pfgmpp';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import { ADAPTER_OPTION, openGpu } from '../device.ts';
import { duration, type Io } from '../io.ts';
import { digitReference, digitSplit, isHeldOut } from '../quality/evaluate.ts';
import { type FidMeasure, openFidMeasure } from '../robustness/fid.ts';
import { robustnessFigure } from '../robustness/figure.ts';
import { measureModels } from '../robustness/measure.ts';
import { trainingLine, trainModels } from '../robustness/models.ts';
import { formatD, makePlan, MIN_HELD_OUT, type Plan, settingsOf } from '../robustness/plan.ts';
import { curvesOf, degradations, tables, trendLines } from '../robustness/results.ts';
import type { Command } from './command.ts';
import { SHIPPED_CLASSIFIER } from './demo.ts';
import { loadClassifier } from './quality.ts';
import { openTrainingData } from './train.ts';
import { weightsPath } from './fid-options.ts';
import { WEIGHTS_FILE } from '@pfgmpp/fid';

const options: OptionSpec[] = [
  ADAPTER_OPTION,
  {
    name: 'outdir',
    kind: 'string',
    value: 'DIR',
    required: true,
    help: 'where models, scores and the results go (resumable)',
  },
  {
    name: 'data',
    kind: 'string',
    value: 'ZIP|DIR|mnist',
    help: 'labelled 1-channel digits (default mnist: the built-in digits at 16x16, written to DIR/mnist16.zip)',
  },
  {
    name: 'D',
    kind: 'string',
    value: 'LIST',
    help: 'D values, inf = diffusion (default 64,128,2048,inf)',
  },
  {
    name: 'kimg',
    kind: 'float',
    value: 'K',
    help: 'training budget per model, thousands of images (default 96)',
  },
  {
    name: 'samples',
    kind: 'int',
    value: 'N',
    help: 'images per seed range and point (default 256)',
  },
  {
    name: 'ranges',
    kind: 'int',
    value: 'K',
    help: 'disjoint seed ranges per point, >= 3 (default 3)',
  },
  {
    name: 'alphas',
    kind: 'string',
    value: 'LIST',
    help: 'alpha perturbations (default 0,0.05,0.1,0.2,0.3)',
  },
  {
    name: 'steps',
    kind: 'string',
    value: 'LIST',
    help: 'sampler steps, NFE = 2 steps - 1 (default 2,3,4,6,9,18)',
  },
  { name: 'bits', kind: 'string', value: 'LIST', help: 'weight bit widths (default 16,8,6,5,4,3)' },
  {
    name: 'classifier',
    kind: 'string',
    value: 'FILE',
    help: 'digit classifier of the measure (default: the shipped 16x16 one)',
  },
  {
    name: 'fid',
    kind: 'flag',
    help: 'also FID against the held-out digits (default: when the Inception weight file is present)',
  },
  {
    name: 'fid-ref',
    kind: 'int',
    value: 'N',
    help: 'held-out digits behind the FID reference (default: all of them)',
  },
  {
    name: 'weights',
    kind: 'string',
    value: 'FILE',
    help: `Inception weights (default: $PFGMPP_FID_WEIGHTS, else ~/.cache/pfgmpp/${WEIGHTS_FILE})`,
  },
  {
    name: 'quick',
    kind: 'flag',
    help: 'a check in under a minute: a tiny network, 256 training images, D = 64 and inf, alpha 0,0.1,0.3, steps 2,4,9, bits 8,4, 16 images per range',
  },
];

/** The command line that reproduces a run (for the report). */
function commandLine(v: OptionValues): string {
  const parts = ['pfgmpp robustness'];
  for (const o of options) {
    const value = v[o.name];
    if (value === undefined || o.name === 'adapter') continue;
    parts.push(value === true ? `--${o.name}` : `--${o.name} ${value}`);
  }
  return parts.join(' ');
}

/** Checks the data before anything is trained: labels, one channel, enough held-out digits. */
async function checkData(data: string, classifierResolution: number) {
  const noLabels = () =>
    new UsageError(
      `option --data: ${data} has no class labels (dataset.json); the digit measure needs them`,
    );
  const ds = await openTrainingData(data, { xflip: false, cache: true, cond: true, seed: 0 }).catch(
    (e) => {
      throw e instanceof UsageError ? noLabels() : e;
    },
  );
  if (!ds.labels?.ids) throw noLabels();
  const [C, H] = ds.shape;
  if (C !== 1)
    throw new UsageError(`option --data: ${data} has ${C} channels; the digit measure needs 1`);
  if (H !== classifierResolution)
    throw new UsageError(
      `option --data: ${data} is ${H}x${H}, the classifier is for ${classifierResolution}x${classifierResolution} digits (give --classifier, or train one with pfgmpp quality --train-classifier)`,
    );
  let held = 0;
  for (let i = 0; i < ds.size; i++) if (isHeldOut(i)) held++;
  if (held < MIN_HELD_OUT)
    throw new UsageError(
      `option --data: ${data} has ${held} held-out digits (every tenth image); the measure needs at least ${MIN_HELD_OUT}`,
    );
  return ds;
}

async function run(v: OptionValues, io: Io): Promise<void> {
  const started = performance.now();
  const plan: Plan = makePlan({
    ...(v.D !== undefined && { D: v.D as string }),
    ...(v.alphas !== undefined && { alphas: v.alphas as string }),
    ...(v.steps !== undefined && { steps: v.steps as string }),
    ...(v.bits !== undefined && { bits: v.bits as string }),
    ...(v.samples !== undefined && { samples: v.samples as number }),
    ...(v.ranges !== undefined && { ranges: v.ranges as number }),
    ...(v.kimg !== undefined && { kimg: v.kimg as number }),
    quick: v.quick === true,
  });
  const outdir = v.outdir as string;
  const weights = weightsPath(v);
  const fidOn = v.fid === undefined ? existsSync(weights) : v.fid === true;
  if (fidOn && !existsSync(weights))
    throw new UsageError(`option --fid: no Inception weights at ${weights} (give --weights FILE)`);
  const fidRef = v['fid-ref'] as number | undefined;
  if (fidRef !== undefined && !(fidRef >= 2))
    throw new UsageError(`option --fid-ref must be >= 2; got ${fidRef}`);
  const classifierFile = (v.classifier as string | undefined) ?? SHIPPED_CLASSIFIER;
  if (!existsSync(classifierFile))
    throw new UsageError(`option --classifier: ${classifierFile} does not exist`);
  const gpu = await openGpu(v, io);
  const classifier = await loadClassifier(classifierFile);
  await mkdir(outdir, { recursive: true });
  let data = (v.data as string | undefined) ?? 'mnist';
  if (data === 'mnist') {
    data = join(outdir, `mnist${classifier.resolution}.zip`);
    if (!existsSync(data)) {
      const R = classifier.resolution;
      await runDatasetTool({ source: 'mnist', dest: data, resolution: [R, R] });
    }
  } else if (!existsSync(data)) throw new UsageError(`option --data: ${data} does not exist`);
  const ds = await checkData(data, classifier.resolution);
  const settings = settingsOf(plan);
  io.err(
    `robustness: ${plan.D.length} models (D = ${plan.D.map(formatD).join(', ')}), ${plan.kimg} kimg each; ` +
      `${settings.length} settings x ${plan.ranges} seed ranges x ${plan.samples} images each\n`,
  );

  const models = await trainModels(gpu, plan, data, outdir, io);
  const held = await digitSplit(ds, isHeldOut);
  const reference = await digitReference(classifier, held);
  let fid: FidMeasure | undefined;
  if (fidOn) {
    const n = Math.min(fidRef ?? held.n, held.n);
    const R = classifier.resolution;
    const pixels = toUint8(held.images.subarray(0, n * R * R));
    fid = await openFidMeasure(gpu, weights, { pixels, n, R }, outdir, io);
  } else {
    io.err(`robustness: no Inception weights at ${weights}: FID left out (give --weights FILE)\n`);
  }
  const scores = await measureModels(models, plan, classifier, reference, outdir, io, fid);
  classifier.dispose();

  const curves = curvesOf(scores, plan);
  const degs = degradations(curves);
  const results = {
    command: commandLine(v),
    plan: { ...plan, D: plan.D.map(formatD) },
    measure: {
      classifier: relative(outdir, resolve(classifierFile)),
      reference: `${held.n} held-out digits of ${relative(outdir, resolve(data))} (every tenth image)`,
      frechet:
        'Frechet distance of the 64-d classifier features of the samples (8-bit pixels) to those of the held-out digits',
      confident: 'share of samples classified with probability > 0.9',
      fid: fid
        ? `FID of each seed range against ${fid.referenceCount} held-out digits (${relative(outdir, resolve(weights))})`
        : 'not measured (no Inception weight file)',
    },
    models: models.map((m) => ({
      D: formatD(m.D),
      snapshot: relative(outdir, m.snapshot),
      kimg: m.kimg,
      training: trainingLine(plan, m.D, data, outdir),
    })),
    points: scores.map((p) => ({
      ...p,
      snapshot: relative(outdir, p.snapshot),
      samplesPerRange: plan.samples,
    })),
    curves: curves.map((c) => ({ ...c, D: formatD(c.D) })),
    degradations: degs.map((d) => ({ ...d, D: formatD(d.D) })),
  };
  await writeFileAtomic(
    join(outdir, 'results.json'),
    new TextEncoder().encode(`${JSON.stringify(results, null, 1)}\n`),
  );
  await writeFileAtomic(join(outdir, 'robustness.png'), robustnessFigure(curves, plan.D));
  const trend = trendLines(degs, plan);
  const report = [
    '# Robustness of PFGM++ to modeling errors, by D',
    '',
    `Command: \`${results.command}\``,
    '',
    `Models: ${plan.D.map(formatD).join(', ')}, ${plan.kimg} kimg each, the same network, options and seed (only D differs; r = sigma sqrt(D)). ` +
      `Each point: ${plan.ranges} disjoint seed ranges of ${plan.samples} images (seeds 0-${plan.ranges * plan.samples - 1}), mean ± standard deviation over the ranges. ` +
      'Measure: Frechet distance in the digit classifier features to the held-out digits (lower is better) and, in brackets, the share classified with confidence > 0.9.',
    '',
    '![robustness](robustness.png)',
    '',
    '## Does smaller D degrade less?',
    '',
    ...trend,
    '',
    '## Tables',
    '',
    ...tables(curves, plan),
  ].join('\n');
  await writeFile(join(outdir, 'report.md'), report);
  io.out(
    `${trend.join('\n')}\nWrote ${join(outdir, 'results.json')}, robustness.png and report.md in ${duration((performance.now() - started) / 1000)}\n`,
  );
}

export const robustnessCommand: Command = {
  name: 'robustness',
  summary: "the paper's robustness result: D vs alpha perturbation, fewer steps, quantization",
  usage:
    'pfgmpp robustness --outdir DIR [--data ZIP|mnist] [--D 64,128,2048,inf] [--kimg K] [--samples N] [--quick]',
  description:
    'Trains one model per D (same network, budget and seed; only D differs), samples each with alpha\n' +
    'perturbation (x += alpha t eps before every step), with fewer sampler steps and with weights\n' +
    'quantized to fewer bits, and scores every sample set on several disjoint seed ranges with the\n' +
    'digit classifier. Writes DIR/results.json, DIR/robustness.png (one panel per sweep, a line per D)\n' +
    'and DIR/report.md. Every stage is resumable: rerun the same command after an interruption.',
  options,
  run,
};
