/**
 * Image datasets in the official format (a ZIP or folder of images plus an optional
 * dataset.json), with the official `Dataset` options: `maxSize` (a random subset drawn as
 * NumPy's RandomState does), `xflip` (indices n..2n-1 are mirrored copies), label loading and
 * a cache of decoded images (uint8 CHW). Sources say where encoded images come from; this file
 * holds the format rules and a ZIP source (bytes in memory, so it also runs in a browser).
 */
import { FormatError } from '../errors.ts';
import { readZipEntries, readZipEntry, type ZipEntry } from '../zip.ts';
import { checkImage, channelName, flipChw, type Image, type ImageDecoder, toChw } from './image.ts';
import {
  type Labels,
  parseDatasetJson,
  type RawLabel,
  resolveLabels,
  writeLabel,
} from './labels.ts';
import { compareCodePoints, isImageName, isUnsafeName } from './names.ts';
import { Mt19937 } from './random.ts';

/** Where a dataset's images come from. */
export interface DatasetSource {
  /** Dataset name: the archive or folder name without extension. */
  readonly name: string;
  /** The file or folder, for error messages. */
  readonly location: string;
  /** Image names (relative, '/'-separated) in index order. */
  readonly names: readonly string[];
  /** dataset.json labels (name -> label), or null when there are none. */
  readonly labels: ReadonlyMap<string, RawLabel> | null;
  /** Decodes image i; errors name the image. */
  load(i: number): Promise<Image>;
}

/** Runs `fn`, prefixing FormatError messages with `where: ` (once). */
export async function naming<T>(where: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof FormatError && !e.message.startsWith(where)) {
      const err = new FormatError(`${where}: ${e.message}`, { cause: e });
      err.file = e.file ?? where;
      throw err;
    }
    throw e;
  }
}

function namingSync<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(`${where}: ${e.message}`, { cause: e });
    throw e;
  }
}

export function baseName(path: string): string {
  const file =
    path
      .replace(/[/\\]+$/, '')
      .split(/[/\\]/)
      .pop() ?? path;
  const dot = file.lastIndexOf('.');
  return dot > 0 ? file.slice(0, dot) : file;
}

/**
 * A ZIP dataset held in memory. Images are the members with an image extension, sorted by
 * name; a root `dataset.json` supplies labels. Members named with '..' or an absolute path are
 * refused (a hostile archive), as are encrypted or corrupt ones when read.
 */
export function zipSource(bytes: Uint8Array, location: string, decode: ImageDecoder) {
  const entries = namingSync(location, () => readZipEntries(bytes));
  const images: ZipEntry[] = [];
  let meta: ZipEntry | undefined;
  for (const e of entries) {
    if (e.name === 'dataset.json') meta = e;
    else if (isImageName(e.name)) {
      if (isUnsafeName(e.name)) {
        throw new FormatError(
          `${location}: unsafe member name '${e.name}' ('..' or absolute path)`,
        );
      }
      images.push(e);
    }
  }
  images.sort((a, b) => compareCodePoints(a.name, b.name));
  const labels = meta
    ? namingSync(`${location}: dataset.json`, () =>
        parseDatasetJson(readZipEntry(bytes, meta as ZipEntry)),
      )
    : null;
  const source: DatasetSource = {
    name: baseName(location),
    location,
    names: images.map((e) => e.name),
    labels,
    load: (i) => {
      const entry = images[i] as ZipEntry;
      return naming(`${location}: ${entry.name}`, () =>
        decode(readZipEntry(bytes, entry), entry.name),
      );
    },
  };
  return source;
}

/** Images already decoded (MNIST, tests); `labels` maps names to labels. */
export function memorySource(
  name: string,
  names: readonly string[],
  image: (i: number) => Image,
  labels: ReadonlyMap<string, RawLabel> | null = null,
): DatasetSource {
  return { name, location: name, names, labels, load: async (i) => image(i) };
}

export interface DatasetOptions {
  /** Keep a random subset of at most this many images (NumPy RandomState(randomSeed % 2^31)). */
  maxSize?: number;
  /** Seed of the subset (default 0). */
  randomSeed?: number;
  /** Double the dataset with left-right mirrored copies (indices n..2n-1). */
  xflip?: boolean;
  /** Keep decoded images in memory (default true). */
  cache?: boolean;
  /** Load labels from dataset.json (default true); without, labelDim is 0. */
  useLabels?: boolean;
  /** Number of classes: class ids must be below it, and one-hot vectors have this width. */
  numClasses?: number;
  /** Expected resolution; a dataset of another size is an error. */
  resolution?: number;
}

export class ImageDataset {
  /** [channels, height, width] shared by every image. */
  readonly shape: readonly [number, number, number];
  /** Raw image index of each dataset index below `length / (xflip ? 2 : 1)`. */
  readonly rawIndex: Int32Array;
  readonly length: number;
  readonly labels: Labels | null;
  private readonly cache = new Map<number, Uint8Array>();
  private readonly pending = new Map<number, Promise<Uint8Array>>();

  private constructor(
    readonly source: DatasetSource,
    first: Uint8Array,
    shape: [number, number, number],
    rawIndex: Int32Array,
    labels: Labels | null,
    private readonly options: DatasetOptions,
  ) {
    this.shape = shape;
    this.rawIndex = rawIndex;
    this.labels = labels;
    this.length = rawIndex.length * (options.xflip ? 2 : 1);
    if (options.cache !== false) this.cache.set(0, first);
  }

  static async open(source: DatasetSource, options: DatasetOptions = {}): Promise<ImageDataset> {
    const n = source.names.length;
    if (n === 0) throw new FormatError(`${source.location}: no image files found`);
    // The first raw image fixes the shape, as in the official code (even if the subset omits it).
    const img = checkImage(await source.load(0), `${source.location}: ${source.names[0]}`);
    const shape: [number, number, number] = [img.channels, img.height, img.width];
    if (img.width !== img.height) {
      throw new FormatError(
        `${source.location}: images must be square; ${source.names[0]} is ${img.width}x${img.height}`,
      );
    }
    const { resolution, maxSize, randomSeed = 0 } = options;
    if (resolution !== undefined && img.width !== resolution) {
      throw new FormatError(
        `${source.location}: images are ${img.width}x${img.height}, expected ${resolution}x${resolution}`,
      );
    }
    let rawIndex = Int32Array.from({ length: n }, (_, i) => i);
    if (maxSize !== undefined && n > maxSize) {
      if (!Number.isInteger(maxSize) || maxSize < 1) {
        throw new RangeError(`maxSize must be a positive integer, got ${maxSize}`);
      }
      // Official: RandomState(random_seed % (1 << 31)).shuffle(idx); sort(idx[:max_size]).
      new Mt19937(((randomSeed % 2 ** 31) + 2 ** 31) % 2 ** 31).shuffle(rawIndex);
      rawIndex = rawIndex.slice(0, maxSize).sort();
    }
    let labels: Labels | null = null;
    if (options.useLabels !== false && source.labels) {
      const map = source.labels;
      labels = namingSync(`${source.location}: dataset.json`, () => {
        const all = resolveLabels(source.names, map, options.numClasses);
        return subsetLabels(all, rawIndex);
      });
    }
    return new ImageDataset(source, toChw(img), shape, rawIndex, labels, options);
  }

  get name(): string {
    return this.source.name;
  }

  get resolution(): number {
    return this.shape[2];
  }

  get channels(): number {
    return this.shape[0];
  }

  /** Width of a label vector (0 without labels). */
  get labelDim(): number {
    return this.labels?.dim ?? 0;
  }

  /** Number of images before x-flip doubling. */
  get size(): number {
    return this.rawIndex.length;
  }

  /** Image name of dataset index i (flipped copies share their original's name). */
  nameOf(i: number): string {
    return this.source.names[this.rawIndex[i % this.size] as number] as string;
  }

  /** Decoded uint8 CHW pixels of raw image `raw`, cached; shared, do not modify. */
  async raw(raw: number): Promise<Uint8Array> {
    const hit = this.cache.get(raw);
    if (hit) return hit;
    let p = this.pending.get(raw);
    if (!p) {
      p = this.decode(raw);
      this.pending.set(raw, p);
      p.finally(() => this.pending.delete(raw)).catch(() => {});
    }
    return p;
  }

  private async decode(raw: number): Promise<Uint8Array> {
    const name = this.source.names[raw] as string;
    const where = `${this.source.location}: ${name}`;
    const img = checkImage(await this.source.load(raw), where);
    const [c, h, w] = this.shape;
    if (img.channels !== c || img.height !== h || img.width !== w) {
      throw new FormatError(
        `${where}: image is ${img.width}x${img.height} ${channelName(img.channels)}, but the dataset's images are ${w}x${h} ${channelName(c)} (from ${this.source.names[0]})`,
      );
    }
    const chw = toChw(img);
    if (this.options.cache !== false) this.cache.set(raw, chw);
    return chw;
  }

  /** Image i as a new uint8 CHW array (mirrored for i >= size when xflip is on). */
  async image(i: number): Promise<Uint8Array> {
    if (!(Number.isInteger(i) && i >= 0 && i < this.length)) {
      throw new RangeError(`image index ${i} out of range [0, ${this.length})`);
    }
    const chw = await this.raw(this.rawIndex[i % this.size] as number);
    const [c, h, w] = this.shape;
    return i >= this.size ? flipChw(chw, c, h, w) : chw.slice();
  }

  /** Label i as a float vector of `labelDim` values (one-hot for class ids). */
  label(i: number): Float32Array {
    const out = new Float32Array(this.labelDim);
    if (this.labels) writeLabel(this.labels, i % this.size, out, 0);
    return out;
  }

  /** Decodes every image into the cache (checks the whole dataset). */
  async preload(onProgress?: (done: number, total: number) => void): Promise<void> {
    for (let i = 0; i < this.size; i++) {
      await this.raw(this.rawIndex[i] as number);
      onProgress?.(i + 1, this.size);
    }
  }
}

function subsetLabels(all: Labels, index: Int32Array): Labels {
  if (all.kind === 'class') {
    const ids = all.ids as Int32Array;
    return { ...all, ids: Int32Array.from(index, (r) => ids[r] as number) };
  }
  const v = all.vectors as Float32Array;
  const out = new Float32Array(index.length * all.dim);
  index.forEach((r, i) => out.set(v.subarray(r * all.dim, (r + 1) * all.dim), i * all.dim));
  return { ...all, vectors: out };
}
