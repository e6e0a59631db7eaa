/**
 * `pfgmpp dataset`: the official dataset_tool.py. Converts an image folder, a ZIP, the CIFAR-10
 * python tarball, MNIST's idx file or the built-in MNIST digits into a dataset (a ZIP or folder
 * of PNGs plus dataset.json) that training reads.
 */
import { TRANSFORMS, type Transform } from '@pfgmpp/io';
import { runDatasetTool } from '@pfgmpp/io/node';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import { type Io, progress } from '../io.ts';
import type { Command } from './command.ts';

const options: OptionSpec[] = [
  {
    name: 'source',
    kind: 'string',
    value: 'PATH|mnist',
    required: true,
    help: "image folder, .zip, cifar-10-python.tar.gz, train-images-idx3-ubyte.gz, or 'mnist' (built in)",
  },
  {
    name: 'dest',
    kind: 'string',
    value: 'PATH',
    required: true,
    help: 'output .zip, or a folder that is empty or absent',
  },
  { name: 'resolution', kind: 'string', value: 'WxH', help: 'output size, e.g. 32x32 (also W,H)' },
  {
    name: 'transform',
    kind: 'string',
    value: 'NAME',
    choices: TRANSFORMS,
    help: 'center-crop or center-crop-wide (both need --resolution)',
  },
  { name: 'max-images', kind: 'int', value: 'N', help: 'stop after the first N source images' },
];

function parseResolution(text: string): [number, number] {
  const m = /^(\d+)[x,](\d+)$/.exec(text);
  const w = Number(m?.[1]);
  const h = Number(m?.[2]);
  if (!m || !(w > 0 && h > 0)) {
    throw new UsageError(
      `option --resolution must be WxH with positive integers, e.g. 32x32; got '${text}'`,
    );
  }
  return [w, h];
}

async function run(values: OptionValues, io: Io): Promise<void> {
  const resolution =
    values.resolution === undefined ? undefined : parseResolution(values.resolution as string);
  const transform = values.transform as Transform | undefined;
  if (transform && !resolution) {
    throw new UsageError(`option --transform=${transform} needs --resolution=WxH`);
  }
  const line = progress(io, 'dataset:');
  try {
    const r = await runDatasetTool({
      source: values.source as string,
      dest: values.dest as string,
      resolution,
      transform,
      maxImages: values['max-images'] as number | undefined,
      onProgress: line.update,
    });
    const kind = r.channels === 1 ? 'gray' : 'RGB';
    const dropped = r.dropped ? `, ${r.dropped} dropped by the transform` : '';
    io.out(
      `wrote ${r.images} images (${r.width}x${r.height} ${kind}, ${r.labeled ? 'with labels' : 'no labels'}${dropped}) to ${values.dest}\n`,
    );
  } finally {
    line.end();
  }
}

export const datasetCommand: Command = {
  name: 'dataset',
  aliases: ['dataset_tool'],
  summary: 'convert images into a training dataset (the official dataset_tool.py)',
  usage:
    'pfgmpp dataset --source PATH|mnist --dest PATH [--resolution WxH] [--transform NAME] [--max-images N]',
  description: [
    'Writes PNGs named 00000/img00000000.png, ... and dataset.json with the labels, as the official',
    'tool does: a .zip (stored) or a folder. Resizing is Pillow-exact Lanczos. Output is atomic: it',
    'is written under a temporary name and renamed at the end, so a failure leaves nothing behind.',
    '',
    'Examples:',
    '  pfgmpp dataset --source mnist --dest datasets/mnist-32x32.zip',
    '  pfgmpp dataset --source cifar-10-python.tar.gz --dest datasets/cifar10-32x32.zip',
    '  pfgmpp dataset --source photos/ --dest faces.zip --transform center-crop --resolution 64x64',
  ].join('\n'),
  options,
  run,
};
