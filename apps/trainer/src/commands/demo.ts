/**
 * `pfgmpp demo` (`npm run demo`): the main job on the built-in MNIST digits, from a fresh clone.
 * (a) samples a grid and a trajectory strip from the shipped PFGM++ (D = 128) checkpoint and
 * measures them with the shipped digit classifier; (b) trains a fresh small PFGM++ model for a
 * few minutes with a progress line and samples from it; (c) writes the grids, the loss curve
 * and a report to the output folder and prints the report.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDatasetTool } from '@pfgmpp/io/node';
import { asDenoiser, type Precond } from '@pfgmpp/nn';
import { generate, type SamplerStep, toUint8 } from '@pfgmpp/pfgmpp';
import { loadNetwork } from '@pfgmpp/pfgmpp/node';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import { ADAPTER_OPTION, openGpu } from '../device.ts';
import { type Io, progress } from '../io.ts';
import { imageGrid, trajectoryStrip } from '../pictures.ts';
import { classify, confidence } from '../quality/classifier.ts';
import { floorVerdict, GATE_SAMPLES, GATE_STEPS } from '../quality/floors.ts';
import { train } from '../training/loop.ts';
import type { Command } from './command.ts';
import { loadClassifier } from './quality.ts';
import { planTraining, trainProgress } from './train.ts';

const ASSETS = fileURLToPath(new URL('../../assets/', import.meta.url));
export const SHIPPED_NETWORK = join(ASSETS, 'mnist16-pfgmpp-d128-cond.safetensors');
export const SHIPPED_CLASSIFIER = join(ASSETS, 'mnist16-classifier.safetensors');
export const SHIPPED_RESULTS = join(ASSETS, 'mnist16-pfgmpp-d128-cond.json');
export const SHIPPED_UNCONDITIONAL = join(ASSETS, 'mnist16-pfgmpp-d128.safetensors');

const options: OptionSpec[] = [
  ADAPTER_OPTION,
  { name: 'out', kind: 'string', value: 'DIR', help: 'output folder (default demo-output)' },
  {
    name: 'minutes',
    kind: 'float',
    value: 'MIN',
    help: 'training time for the fresh model (default 3)',
  },
  {
    name: 'samples',
    kind: 'int',
    value: 'N',
    help: 'images in the grid of the shipped model (default 80: 8 of each digit)',
  },
  { name: 'steps', kind: 'int', value: 'N', help: 'sampler steps (default 18)' },
];

/** Samples `n` images (seeds 0..n-1) with the EDM Heun sampler from the PFGM++ prior of the stored D. */
async function sampleGrid(
  net: Precond,
  D: number,
  n: number,
  steps: number,
  io: Io,
  label: string,
  trajectory?: Float64Array[],
  classes?: number[],
): Promise<Float64Array> {
  const line = progress(io, label);
  const seeds = Array.from({ length: n }, (_, i) => i);
  const plane = net.imgChannels * net.imgResolution ** 2;
  let done = 0;
  const denoiser = asDenoiser(net);
  await denoiser.tune(n); // the kernel rows for this batch (cached per adapter)
  const x = await generate(denoiser, seeds, {
    D,
    ...(classes && { classes }),
    sampler: 'edm',
    config: { numSteps: steps },
    onStep: (s: SamplerStep) => {
      trajectory?.push(s.x.slice(0, 8 * plane));
      done = Math.round(((s.i + 1) / s.numSteps) * n);
      line.update(done, n);
    },
  });
  line.end();
  return x;
}

/**
 * Samples seeds 0..n-1 of an MNIST checkpoint (image k asks for digit k % 10 when the model is
 * class-conditional: one digit per grid column) and scores them with the digit classifier: the
 * figures the demo prints and the quality gate (test/shipped-quality.test.ts) holds to the floors.
 */
export async function sampleAndScore(
  network: string,
  classifierFile: string,
  o: { n?: number; steps: number; io: Io; label?: string; trajectory?: Float64Array[] },
) {
  const { net, D } = await loadNetwork(network);
  const conditional = net.labelDim === 10;
  const n = o.n ?? (conditional ? 80 : 64);
  const classes = conditional ? Array.from({ length: n }, (_, k) => k % 10) : undefined;
  const samples = await sampleGrid(
    net,
    D,
    n,
    o.steps,
    o.io,
    o.label ?? 'sampled',
    o.trajectory,
    classes,
  );
  net.dispose();
  const classifier = await loadClassifier(classifierFile);
  const { probs } = await classify(classifier, Float32Array.from(samples), n);
  classifier.dispose();
  return { samples, n, D, conditional, score: confidence(probs, n, 0.9, classes) };
}

async function run(v: OptionValues, io: Io): Promise<void> {
  const started = Date.now();
  const out = (v.out as string | undefined) ?? 'demo-output';
  const minutes = (v.minutes as number | undefined) ?? 3;
  if (!(minutes > 0)) throw new UsageError('--minutes must be > 0');
  const steps = (v.steps as number | undefined) ?? 18;
  await mkdir(out, { recursive: true });
  const gpu = await openGpu(v, io);
  io.err(`demo: writing to ${out}/\n`);

  // The built-in digits at 16x16, as `pfgmpp dataset --source mnist --resolution 16x16` makes them.
  const data = join(out, 'mnist16.zip');
  await runDatasetTool({ source: 'mnist', dest: data, resolution: [16, 16] });

  // (a) The shipped checkpoint.
  const traj: Float64Array[] = [];
  const {
    samples: shipped,
    n,
    D,
    conditional,
    score: c,
  } = await sampleAndScore(SHIPPED_NETWORK, SHIPPED_CLASSIFIER, {
    ...(v.samples !== undefined && { n: v.samples as number }),
    steps,
    io,
    label: '(a) shipped model: sampled',
    trajectory: traj,
  });
  const cols = conditional ? Math.min(n, 10) : Math.ceil(Math.sqrt(n));
  await writeFile(
    join(out, 'shipped-samples.png'),
    imageGrid(toUint8(shipped), [n, 1, 16, 16], cols, 3),
  );
  await writeFile(join(out, 'shipped-trajectory.png'), trajectoryStrip(traj, [1, 16], 3));
  const recorded = JSON.parse(await readFile(SHIPPED_RESULTS, 'utf8').catch(() => '{}')) as Record<
    string,
    unknown
  >;
  const asked = recorded.requested as { accuracy?: number } | undefined;

  // (b) A fresh model, trained for a few minutes.
  const plan = await planTraining({
    outdir: out,
    data,
    name: 'fresh-run',
    pfgmpp: true,
    aug_dim: 128,
    cbase: 16,
    cres: '1,2,2',
    nblock: 1,
    attn: 'none',
    dropout: 0,
    batch: 32,
    lr: 2e-3,
    'lr-rampup': 1,
    ema: 0.002,
    duration: 1,
    tick: 1,
    snap: 1000,
    dump: 1000,
    seed: 0,
    'time-limit': minutes * 60,
  });
  io.err(`(b) training a fresh PFGM++ model (D = 128) for ${minutes} minutes\n`);
  const result = await train(gpu, plan.config, {
    onStep: trainProgress(io),
    log: (line) => io.err(`${io.isTTY ? '\r\u001b[K' : ''}  ${line}\n`),
  });
  const fresh = await loadNetwork(result.lastSnapshot as string);
  const freshSamples = await sampleGrid(
    fresh.net,
    fresh.D,
    16,
    steps,
    io,
    '(b) fresh model: sampled',
  );
  await writeFile(
    join(out, 'fresh-samples.png'),
    imageGrid(toUint8(freshSamples), [16, 1, 16, 16], 4, 3),
  );
  fresh.net.dispose();

  // (c) The report.
  const rel = (p: string) => relative(out, p);
  const pct = (x: unknown) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : 'n/a');
  const report = [
    '# PFGM++ on WebGPU: MNIST demo',
    '',
    `Adapter: ${gpu.adapterInfo.description || gpu.adapterInfo.vendor}. Total time ${((Date.now() - started) / 60000).toFixed(1)} minutes.`,
    '',
    `## (a) Shipped checkpoint (PFGM++, D = ${D}, 16x16 digits${conditional ? ', class-conditional' : ''})`,
    '',
    `- ${n} samples, EDM Heun sampler, ${steps} steps: shipped-samples.png; every step of 8 images: shipped-trajectory.png`,
    `- these ${n} samples: ${pct(c.confidentShare)} classified with confidence > 0.9; classes 0-9: ${c.histogram.join(' ')}`,
    ...(conditional
      ? [
          `- class-conditional: image k asks for digit k % 10 (one digit per column); ${pct(c.accuracy)} classified as the digit asked for, ${pct(c.confidentCorrectShare)} as it with confidence > 0.9`,
        ]
      : []),
    // Fewer samples or steps than the gate's would judge noise or an unfinished sampler.
    n >= GATE_SAMPLES && steps >= GATE_STEPS
      ? `- ${floorVerdict(c, conditional)}`
      : `- quality floor: not judged on fewer than ${GATE_SAMPLES} samples or ${GATE_STEPS} steps`,
    `- recorded for 1,000 samples (docs/results.md): ${pct(recorded.confidentShare)} confident, Frechet distance ${typeof recorded.frechet === 'number' ? recorded.frechet.toFixed(2) : 'n/a'} (real-vs-real floor ${typeof recorded.frechetRealFloor === 'number' ? recorded.frechetRealFloor.toFixed(2) : 'n/a'})` +
      (asked ? `; ${pct(asked.accuracy)} classified as the digit asked for` : ''),
    '',
    `## (b) Fresh model trained here for ${(result.seconds / 60).toFixed(1)} minutes`,
    '',
    `- ${(result.nimg / 1000).toFixed(2)} kimg in ${result.steps} steps (${(result.nimg / result.seconds).toFixed(1)} img/s); loss ${result.losses[0]?.toFixed(3)} -> ${result.losses[result.losses.length - 1]?.toFixed(3)}`,
    `- loss curve: ${rel(join(plan.config.runDir, 'loss.png'))}; samples: fresh-samples.png (a few minutes of training on a software GPU gives blobs, not digits)`,
    `- run folder: ${rel(plan.config.runDir)} (log.txt, stats.jsonl, snapshot, training state)`,
    '',
  ].join('\n');
  await writeFile(join(out, 'report.md'), report);
  io.out(`${report}\nWrote ${out}/report.md\n`);
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the MNIST demo: sample the shipped model, train a fresh one, write a report',
  usage: 'pfgmpp demo [--out DIR] [--minutes 3]',
  description:
    'Samples a grid from the shipped PFGM++ (D = 128) MNIST checkpoint, trains a fresh small model for\n' +
    'a few minutes on the built-in digits and samples it, then writes grids, the loss curve and a\n' +
    'report (report.md) to the output folder.',
  options,
  run,
};
