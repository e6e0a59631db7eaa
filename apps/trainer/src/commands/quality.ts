/**
 * `pfgmpp quality`: sample quality of an MNIST model without Inception weights, measured with
 * the project's digit classifier; and `pfgmpp quality --train-classifier` to train that
 * classifier. See docs/results.md for the shipped checkpoint's figures and the commands.
 */
import { readFile } from 'node:fs/promises';
import { readSafetensors, toFloat32, writeSafetensors } from '@pfgmpp/io';
import { writeFileAtomic } from '@pfgmpp/io/node';
import { asDenoiser } from '@pfgmpp/nn';
import { generate, seedClasses } from '@pfgmpp/pfgmpp';
import { loadNetwork } from '@pfgmpp/pfgmpp/node';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import { ADAPTER_OPTION, openGpu } from '../device.ts';
import { type Io, progress } from '../io.ts';
import { DigitClassifier } from '../quality/classifier.ts';
import { measureQuality, type QualityReport, trainClassifier } from '../quality/evaluate.ts';
import { openTrainingData } from './train.ts';
import { parseD, parseSeeds } from '../sampling/options.ts';
import type { Command } from './command.ts';

const options: OptionSpec[] = [
  ADAPTER_OPTION,
  {
    name: 'data',
    kind: 'string',
    value: 'ZIP|DIR|mnist',
    required: true,
    help: 'the labelled MNIST dataset the model was trained on',
  },
  {
    name: 'classifier',
    kind: 'string',
    value: 'FILE',
    required: true,
    help: 'classifier weights (read, or written with --train-classifier)',
  },
  { name: 'network', kind: 'string', value: 'FILE', help: 'the generator to measure' },
  { name: 'seeds', kind: 'string', value: 'LIST', help: 'seeds of the samples (default 0-999)' },
  { name: 'steps', kind: 'int', value: 'N', help: 'sampler steps (default 18)' },
  {
    name: 'aug_dim',
    kind: 'string',
    value: 'D|inf',
    help: "D of the prior (default: the checkpoint's)",
  },
  { name: 'batch', kind: 'int', value: 'N', help: 'images per network evaluation (default 250)' },
  { name: 'json', kind: 'flag', help: 'print one JSON object' },
  {
    name: 'train-classifier',
    kind: 'flag',
    help: 'train the classifier on the non-held-out digits and write it to --classifier',
  },
  {
    name: 'train-steps',
    kind: 'int',
    value: 'N',
    help: 'classifier training steps (default 2000, batch 64)',
  },
  {
    name: 'seed',
    kind: 'int',
    value: 'N',
    help: 'classifier initialisation and batch order (default 0)',
  },
];

export async function loadClassifier(path: string): Promise<DigitClassifier> {
  let st: ReturnType<typeof readSafetensors>;
  try {
    st = readSafetensors(new Uint8Array(await readFile(path)));
  } catch (e) {
    throw new Error(`${path}: cannot read the classifier (${(e as Error).message})`);
  }
  const R = Number(st.metadata.resolution);
  if (st.metadata.kind !== 'digit-classifier' || !(R > 0))
    throw new Error(`${path}: not a digit classifier file`);
  const net = new DigitClassifier(R);
  net.loadStateDict(
    new Map([...st.tensors].map(([k, a]) => [k, { shape: a.shape, data: toFloat32(a) }])),
  );
  return net;
}

export function formatQuality(q: QualityReport): string {
  return [
    `samples classified with confidence > 0.9: ${(100 * q.confidentShare).toFixed(1)}% of ${q.samples} ` +
      `(held-out real digits: ${(100 * q.realConfidentShare).toFixed(1)}%)`,
    `class histogram (0-9): ${q.histogram.join(' ')}`,
    `Frechet distance in classifier features: ${q.frechet.toFixed(3)} (real vs real floor ${q.frechetRealFloor.toFixed(3)})`,
    `classifier accuracy on held-out digits: ${(100 * q.heldOutAccuracy).toFixed(2)}%`,
    ...(q.requested
      ? [
          `conditional: ${(100 * q.requested.accuracy).toFixed(1)}% classified as the requested digit, ` +
            `${(100 * q.requested.confidentCorrectShare).toFixed(1)}% as it with confidence > 0.9 ` +
            `(requested 0-9: ${q.requested.histogram.join(' ')})`,
        ]
      : []),
  ].join('\n');
}

async function run(v: OptionValues, io: Io): Promise<void> {
  const gpu = await openGpu(v, io);
  const ds = await openTrainingData(v.data as string, {
    xflip: false,
    cache: true,
    cond: true,
    seed: 0,
  });
  if (v['train-classifier']) {
    const steps = (v['train-steps'] as number | undefined) ?? 2000;
    const line = progress(io, 'classifier: step');
    const { net, accuracy } = await trainClassifier(ds, {
      steps,
      batch: 64,
      lr: 2e-3,
      seed: (v.seed as number | undefined) ?? 0,
      onStep: (s) => line.update(s + 1, steps),
    });
    line.end();
    const sd = await net.stateDict();
    const bytes = writeSafetensors(
      new Map(
        [...sd].map(([k, t]) => [
          k,
          { dtype: 'float32' as const, shape: [...t.shape], data: t.data },
        ]),
      ),
      {
        kind: 'digit-classifier',
        resolution: String(net.resolution),
        held_out_accuracy: accuracy.toFixed(4),
      },
    );
    await writeFileAtomic(v.classifier as string, bytes);
    io.out(
      `classifier: held-out accuracy ${(100 * accuracy).toFixed(2)}%; wrote ${v.classifier}\n`,
    );
    return;
  }
  if (!v.network) throw new UsageError('give --network (or --train-classifier)');
  const classifier = await loadClassifier(v.classifier as string);
  if (classifier.resolution !== ds.shape[1]) {
    throw new UsageError(
      `the classifier is for ${classifier.resolution}x${classifier.resolution} digits, the data is ${ds.shape[1]}x${ds.shape[2]}`,
    );
  }
  const { net, D: defaultD } = await loadNetwork(v.network as string);
  if (net.imgResolution !== classifier.resolution || net.imgChannels !== 1) {
    throw new UsageError(
      `the network makes ${net.imgChannels}x${net.imgResolution}x${net.imgResolution} images; the classifier needs 1x${classifier.resolution}x${classifier.resolution}`,
    );
  }
  if (net.labelDim !== 0 && net.labelDim !== 10) {
    throw new UsageError(`the network has ${net.labelDim} class labels; digits need 10 (or none)`);
  }
  const D = parseD(v.aug_dim as string | undefined, defaultD);
  const seeds = parseSeeds((v.seeds as string | undefined) ?? '0-999');
  const batch = (v.batch as number | undefined) ?? 250;
  const samples = new Float32Array(seeds.length * net.imgResolution ** 2);
  const line = progress(io, 'quality: sampled');
  const denoiser = asDenoiser(net);
  for (let at = 0; at < seeds.length; at += batch) {
    const chunk = seeds.slice(at, at + batch);
    const x = await generate(denoiser, chunk, {
      D,
      sampler: 'edm',
      config: { numSteps: (v.steps as number | undefined) ?? 18 },
    });
    samples.set(x, at * net.imgResolution ** 2);
    line.update(at + chunk.length, seeds.length);
  }
  line.end();
  // A conditional network samples each seed's class as `generate` draws it; the report then
  // also says how often the classifier agrees with the requested digit.
  const requested = net.labelDim === 10 ? Int32Array.from(seedClasses(seeds, 10)) : undefined;
  const q = await measureQuality(classifier, ds, samples, seeds.length, requested);
  io.out(v.json ? `${JSON.stringify(q)}\n` : `${formatQuality(q)}\n`);
  net.dispose();
  classifier.dispose();
  void gpu;
}

export const qualityCommand: Command = {
  name: 'quality',
  summary: 'measure MNIST samples with the project digit classifier (or train it)',
  usage: 'pfgmpp quality --data ZIP --classifier FILE --network FILE [--seeds 0-999]',
  description:
    'Samples the network and reports the share of samples the digit classifier assigns a class with\n' +
    'confidence > 0.9, the class histogram, and the Frechet distance in the classifier feature space\n' +
    'to the held-out digits (every tenth image), next to the real-vs-real floor. For a class-conditional\n' +
    'network each seed asks for the digit `generate` draws for it, and the report adds how often the\n' +
    'classifier agrees (and agrees with confidence > 0.9).',
  options,
  run,
};
