/**
 * `pfgmpp denoise`: runs the preconditioned network once, in eval mode, on given inputs, so a
 * user can compare it number by number with another implementation (for example the official
 * PyTorch code on the same checkpoint).
 */
import { readFile } from 'node:fs/promises';
import { type NdArray, readNpy, toFloat32, writeNpy } from '@pfgmpp/io';
import { writeFileAtomic } from '@pfgmpp/io/node';
import { loadNetwork } from '@pfgmpp/pfgmpp/node';
import { noGrad, scope, tensor } from '@pfgmpp/tensor/node';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';
import { ADAPTER_OPTION, openGpu } from '../device.ts';
import type { Io } from '../io.ts';
import type { Command } from './command.ts';

const options: OptionSpec[] = [
  ADAPTER_OPTION,
  {
    name: 'network',
    kind: 'string',
    value: 'FILE',
    required: true,
    help: 'network snapshot or training state (ours, or official .pt/.pkl)',
  },
  {
    name: 'x',
    kind: 'string',
    value: 'NPY',
    required: true,
    help: 'noisy images, float32/64 [B, C, H, W]',
  },
  {
    name: 'sigma',
    kind: 'string',
    value: 'NPY',
    required: true,
    help: 'noise levels, [B] or one value',
  },
  {
    name: 'labels',
    kind: 'string',
    value: 'NPY',
    help: 'class labels [B, label_dim] (conditional nets)',
  },
  {
    name: 'augment-labels',
    kind: 'string',
    value: 'NPY',
    help: 'augmentation labels [B, augment_dim]',
  },
  {
    name: 'out',
    kind: 'string',
    value: 'NPY',
    required: true,
    help: 'D(x; sigma), float32 [B, C, H, W]',
  },
];

async function npy(path: string): Promise<NdArray> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(
      `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  try {
    return readNpy(bytes);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

async function run(v: OptionValues, io: Io): Promise<void> {
  await openGpu(v, io);
  const { net } = await loadNetwork(v.network as string);
  const x = await npy(v.x as string);
  const [B, C, H, W] = x.shape as [number, number, number, number];
  if (
    x.shape.length !== 4 ||
    C !== net.imgChannels ||
    H !== net.imgResolution ||
    W !== net.imgResolution
  ) {
    throw new UsageError(
      `--x must be [B, ${net.imgChannels}, ${net.imgResolution}, ${net.imgResolution}] for this network; got [${x.shape.join(', ')}]`,
    );
  }
  const sigma = toFloat32(await npy(v.sigma as string));
  if (sigma.length !== 1 && sigma.length !== B)
    throw new UsageError(`--sigma has ${sigma.length} values for ${B} images`);
  const labels = v.labels ? toFloat32(await npy(v.labels as string)) : null;
  if (labels && labels.length !== B * net.labelDim) {
    throw new UsageError(`--labels must be [${B}, ${net.labelDim}]; got ${labels.length} values`);
  }
  const aug = v['augment-labels'] ? toFloat32(await npy(v['augment-labels'] as string)) : null;
  const augDim = net.model.augmentDim;
  if (aug && (augDim === 0 || aug.length !== B * augDim)) {
    throw new UsageError(
      `--augment-labels must be [${B}, ${augDim}] for this network; got ${aug.length} values`,
    );
  }
  const out = scope(() =>
    noGrad(() =>
      net.forward(
        tensor(toFloat32(x), [B, C, H, W]),
        tensor(sigma, [sigma.length]),
        labels ? tensor(labels, [B, net.labelDim]) : null,
        aug ? tensor(aug, [B, augDim]) : null,
      ),
    ),
  );
  const values = await out.read();
  out.dispose();
  await writeFileAtomic(
    v.out as string,
    writeNpy({ dtype: 'float32', shape: [B, C, H, W], data: values }),
  );
  io.out(`wrote D(x; sigma) for ${B} images to ${v.out}\n`);
  net.dispose();
}

export const denoiseCommand: Command = {
  name: 'denoise',
  summary: 'run the network once on given inputs (for number-by-number comparisons)',
  usage: 'pfgmpp denoise --network FILE --x X.npy --sigma S.npy [--labels L.npy] --out OUT.npy',
  description:
    'Evaluates D(x; sigma) of the preconditioned network in eval mode and writes it as float32 .npy.',
  options,
  run,
};
