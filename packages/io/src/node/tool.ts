/**
 * The dataset tool on files (dataset_tool.py): sources are an image folder (recursive), a ZIP,
 * a CIFAR-10 python tarball, MNIST's `train-images-idx3-ubyte.gz` or the built-in MNIST digits
 * (`mnist`); the destination is a `.zip` (stored members) or a folder that must be empty or
 * absent. Output is atomic: everything is written under a temporary sibling name and renamed
 * at the end, so a failure leaves no partial dataset behind.
 */
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'fflate';
import { readCifar10 } from '../dataset/cifar.ts';
import { naming, zipSource } from '../dataset/dataset.ts';
import { fromChw, type Image, pad } from '../dataset/image.ts';
import { parseDatasetJson, type RawLabel } from '../dataset/labels.ts';
import { compareCodePoints, comparePathParts, isImageName } from '../dataset/names.ts';
import {
  convertDataset,
  parseResolution,
  type ToolOptions,
  type ToolResult,
  type ToolSource,
  type Transform,
} from '../dataset/tool.ts';
import { FormatError } from '../errors.ts';
import { writeZip, type ZipInput } from '../zip.ts';
import { decodeImage, loadMnist } from './dataset.ts';
import { listFiles, readBytes, tempSibling } from './files.ts';

export interface DatasetToolOptions {
  /** Image folder, `.zip`, CIFAR-10 `.tar.gz`, `train-images-idx3-ubyte.gz`, or `mnist`. */
  source: string;
  /** `.zip` file or folder (empty or absent). */
  dest: string;
  /** `WxH` / `W,H` or [W, H]. */
  resolution?: string | readonly [number, number];
  transform?: Transform;
  maxImages?: number;
  onProgress?: (done: number, total: number) => void;
}

/** An image folder: every image file below it in pathlib order; labels as the official tool. */
async function folderToolSource(root: string): Promise<ToolSource> {
  const files = await listFiles(root);
  const names = files.filter(isImageName).sort(comparePathParts);
  let labels: ReadonlyMap<string, RawLabel> | null = null;
  if (files.includes('dataset.json')) {
    const file = join(root, 'dataset.json');
    labels = await naming(file, async () => parseDatasetJson(await readBytes(file)));
  }
  if (!labels || labels.size === 0) {
    // No labels: the index of the top-level folder name, when there are at least two.
    const top = names.map((n) => (n.includes('/') ? (n.split('/')[0] as string) : ''));
    const distinct = [...new Set(top)].sort(compareCodePoints);
    labels =
      distinct.length > 1
        ? new Map(names.map((n, i) => [n, distinct.indexOf(top[i] as string)]))
        : null;
  }
  const map = labels;
  return {
    description: root,
    count: names.length,
    item: (i) => {
      const name = names[i] as string;
      const file = join(root, name);
      return {
        name: file,
        label: map?.get(name) ?? null,
        load: () => naming(file, async () => decodeImage(await readBytes(file), name)),
      };
    },
  };
}

async function zipToolSource(path: string): Promise<ToolSource> {
  const src = zipSource(await readBytes(path), path, decodeImage);
  return {
    description: path,
    count: src.names.length,
    item: (i) => {
      const name = src.names[i] as string;
      return {
        name: `${path}: ${name}`,
        label: src.labels?.get(name) ?? null,
        load: () => src.load(i),
      };
    },
  };
}

/** Images stored as uint8 CHW planes, one after another (CIFAR, MNIST). */
function planesSource(
  description: string,
  pixels: Uint8Array,
  labels: ArrayLike<number>,
  channels: number,
  size: number,
  post: (img: Image) => Image = (img) => img,
): ToolSource {
  const n = channels * size * size;
  return {
    description,
    count: labels.length,
    item: (i) => ({
      name: `${description}: image ${i}`,
      label: labels[i] as number,
      load: () => post(fromChw(pixels.subarray(i * n, (i + 1) * n), channels, size, size)),
    }),
  };
}

/** MNIST's idx files: 16-byte header, then 28x28 uint8 images; labels from the sibling file. */
async function idxToolSource(path: string): Promise<ToolSource> {
  const unzip = (b: Uint8Array, file: string) => {
    try {
      return gunzipSync(b);
    } catch (e) {
      throw new FormatError(`${file}: corrupt gzip data (${(e as Error).message})`);
    }
  };
  const images = unzip(await readBytes(path), path).subarray(16);
  const labelFile = join(dirname(path), 'train-labels-idx1-ubyte.gz');
  const labels = unzip(await readBytes(labelFile), labelFile).subarray(8);
  if (images.length !== labels.length * 784) {
    throw new FormatError(`${path}: ${images.length} pixel bytes for ${labels.length} labels`);
  }
  return planesSource(path, images, labels, 1, 28, (img) => pad(img, 2));
}

/** Picks the reader for `source` as the official tool does (by name and type). */
export async function openToolSource(source: string): Promise<ToolSource> {
  if (source === 'mnist') {
    const m = loadMnist('pad');
    return planesSource('mnist', m.pixels, m.labels, 1, m.size);
  }
  const s = await stat(source).catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      `${source}: cannot open (${e.code === 'ENOENT' ? 'no such file or folder' : e.message})`,
    );
  });
  const name = basename(source);
  if (s.isDirectory()) {
    if (name.endsWith('_lmdb')) throw new FormatError(`${source}: LMDB sources are not supported`);
    return folderToolSource(source);
  }
  if (name === 'train-images-idx3-ubyte.gz') return idxToolSource(source);
  if (/\.zip$/i.test(name)) return zipToolSource(source);
  if (/\.(tar\.gz|tgz|tar)$/i.test(name)) {
    const c = await naming(source, async () => readCifar10(await readBytes(source)));
    return planesSource(source, c.images, c.labels, 3, 32);
  }
  throw new FormatError(
    `${source}: unknown source type (expected a folder, .zip, CIFAR-10 .tar.gz, train-images-idx3-ubyte.gz or 'mnist')`,
  );
}

/** Refuses a destination folder that exists and is not empty (as the official tool). */
async function checkDest(dest: string): Promise<void> {
  if (dest === '') throw new FormatError('--dest must not be empty');
  const s = await stat(dest).catch(() => undefined);
  if (/\.zip$/i.test(dest)) {
    if (s?.isDirectory()) throw new FormatError(`${dest}: is a folder, cannot write a ZIP there`);
    return;
  }
  if (s && !s.isDirectory()) throw new FormatError(`${dest}: exists and is not a folder`);
  if (s && (await readdir(dest)).length > 0) {
    throw new FormatError(`${dest}: destination folder must be empty`);
  }
}

/** Converts `source` into a dataset at `dest`; see DatasetToolOptions. */
export async function runDatasetTool(options: DatasetToolOptions): Promise<ToolResult> {
  const { dest } = options;
  const resolution =
    typeof options.resolution === 'string'
      ? parseResolution(options.resolution)
      : options.resolution;
  const toolOptions: ToolOptions = {
    transform: options.transform,
    maxImages: options.maxImages,
    onProgress: options.onProgress,
  };
  if (resolution) toolOptions.resolution = resolution;
  await checkDest(dest);
  const source = await openToolSource(options.source);
  await mkdir(dirname(dest) || '.', { recursive: true });
  const tmp = tempSibling(dest);
  try {
    if (/\.zip$/i.test(dest)) {
      const files: ZipInput[] = [];
      const result = await convertDataset(
        source,
        { write: (name, data) => void files.push({ name, data }) },
        toolOptions,
      );
      await writeFile(tmp, writeZip(files, false), { flush: true });
      await rename(tmp, dest);
      return result;
    }
    const made = new Set<string>();
    const result = await convertDataset(
      source,
      {
        write: async (name, data) => {
          const dir = dirname(join(tmp, name));
          if (!made.has(dir)) {
            await mkdir(dir, { recursive: true });
            made.add(dir);
          }
          await writeFile(join(tmp, name), data);
        },
      },
      toolOptions,
    );
    // An empty destination folder is replaced (rename cannot overwrite a folder everywhere).
    await rmdir(dest).catch(() => {});
    await rename(tmp, dest);
    return result;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
