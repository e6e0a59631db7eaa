/**
 * Node entry: the weight file from disk, images from a folder or ZIP (recursive, sorted, as the
 * dataset readers of @pfgmpp/io) or an .npy of uint8 [n, C, H, W], features streamed through the
 * network in batches into float64 sums, reference-statistics files (.npz with mu and sigma,
 * float64, the EDM / pytorch-fid layout) and partial statistics of shards (partial.ts).
 */
import { readFile } from 'node:fs/promises';
import { Mt19937, type NdArray, readNpy } from '@pfgmpp/io';
import { openDataset, readNpz, writeNpz } from '@pfgmpp/io/node';
import { CLASSES, FEATURES } from './architecture.ts';
import type { Detector, InceptionV3 } from './inception.ts';
import { FeatureSums, type Stats } from './stats.ts';
import {
  type InceptionWeights,
  readInceptionWeights,
  WEIGHTS_HINT,
  WeightsError,
} from './weights.ts';

export * from './index.ts';
export * from './partial.ts';

/** Reads and checks the Inception weight file (torch legacy/zip or safetensors). */
export async function loadInceptionWeights(path: string): Promise<InceptionWeights> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new WeightsError(`${path}: cannot read the Inception weights (${why}); ${WEIGHTS_HINT}`, {
      cause: e,
    });
  }
  return readInceptionWeights(bytes, path);
}

/** A set of images read in batches: uint8 [n, 3, H, W] (grey images repeated to RGB). */
export interface ImageSet {
  location: string;
  count: number;
  /** [3, H, W] after grey-to-RGB. */
  shape: readonly [number, number, number];
  /** Images start .. start + n - 1 as uint8 NCHW. */
  read(start: number, n: number): Promise<Uint8Array>;
}

/** Repeats a 1-channel CHW image to 3 channels (EDM's fid.py does the same). */
export function rgb(chw: Uint8Array, c: number): Uint8Array {
  if (c === 3) return chw;
  const out = new Uint8Array(chw.length * 3);
  for (let k = 0; k < 3; k++) out.set(chw, k * chw.length);
  return out;
}

function checkChannels(c: number, location: string): void {
  if (c !== 1 && c !== 3) {
    throw new Error(
      `${location}: images have ${c} channels; the Inception takes 1 (grey) or 3 (RGB)`,
    );
  }
}

/**
 * uint8 [n, C, H, W] images in memory (C 1 or 3; an .npy's, or samples already made); with
 * `num` below n, a random subset drawn as the dataset reader draws one (NumPy
 * RandomState(seed) shuffle, first num, sorted).
 */
export function arrayImages(
  a: NdArray,
  location: string,
  options: OpenImagesOptions = {},
): ImageSet {
  if (a.dtype !== 'uint8' || a.shape.length !== 4) {
    throw new Error(
      `${location}: expected uint8 [n, C, H, W] images, got ${a.dtype} [${a.shape.join(', ')}]`,
    );
  }
  const [n, c, h, w] = a.shape as [number, number, number, number];
  checkChannels(c, location);
  const per = c * h * w;
  const data = a.data as Uint8Array;
  let index = Int32Array.from({ length: n }, (_, i) => i);
  const num = options.num;
  if (num !== undefined && num < n) {
    new Mt19937((options.seed ?? 0) % 2 ** 31).shuffle(index);
    index = index.slice(0, num).sort();
  }
  return {
    location,
    count: index.length,
    shape: [3, h, w],
    read: async (start, m) => {
      const out = new Uint8Array(m * 3 * h * w);
      for (let i = 0; i < m; i++) {
        const k = index[start + i] as number;
        out.set(rgb(data.subarray(k * per, (k + 1) * per), c), i * 3 * h * w);
      }
      return out;
    },
  };
}

export interface OpenImagesOptions {
  /** Use a random subset of this many images (EDM's dataset subset, NumPy RandomState). */
  num?: number;
  /** Seed of that subset (default 0). */
  seed?: number;
}

/** Opens a folder, a ZIP of images or an .npy of uint8 NCHW images. */
export async function openImages(path: string, options: OpenImagesOptions = {}): Promise<ImageSet> {
  if (path.toLowerCase().endsWith('.npy')) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (e) {
      throw new Error(`${path}: cannot read (${(e as Error).message})`, { cause: e });
    }
    let a: NdArray;
    try {
      a = readNpy(bytes);
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message}`, { cause: e });
    }
    return arrayImages(a, path, options);
  }
  const ds = await openDataset(path, {
    ...(options.num !== undefined && { maxSize: options.num }),
    randomSeed: options.seed ?? 0,
    cache: false,
    useLabels: false,
  });
  const [c, h, w] = ds.shape;
  checkChannels(c, path);
  return {
    location: path,
    count: ds.length,
    shape: [3, h, w],
    read: async (start, m) => {
      const out = new Uint8Array(m * 3 * h * w);
      for (let i = 0; i < m; i++) out.set(rgb(await ds.image(start + i), c), i * 3 * h * w);
      return out;
    },
  };
}

/** Images start .. end - 1 of `images` (one shard), as an image set of their own. */
export function sliceImages(images: ImageSet, start: number, end: number): ImageSet {
  if (start < 0 || end > images.count || start > end) {
    throw new RangeError(`${images.location}: images ${start}..${end - 1} of ${images.count}`);
  }
  return {
    location: images.location,
    count: end - start,
    shape: images.shape,
    read: (s, n) => images.read(start + s, n),
  };
}

export interface StreamOptions {
  detector?: Detector;
  /** Images per network call (default 64, EDM's --batch). */
  batch?: number;
  /** Keep every feature vector ([n, 2048], for KID or `fid features`). */
  keepFeatures?: boolean;
  /** Keep the logits ([n, 1008], for Inception Score). */
  logits?: boolean;
  /** Accumulate the float64 sums behind mu/sigma (default true). */
  stats?: boolean;
  /** Continue from a resume point: images 0 .. done - 1 are in `sums` (and `features`). */
  resume?: StreamState;
  /** Called after each batch with images done and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Awaited after each batch (checkpoints); the state is live, copy what is kept. */
  onBatch?: (state: StreamState) => void | Promise<void>;
}

/** How far a stream has come: images 0 .. done - 1 of the set. */
export interface StreamState {
  done: number;
  sums?: FeatureSums;
  /** [n, 2048] for the whole set; rows below `done` are filled. */
  features?: Float32Array;
}

export interface StreamResult {
  count: number;
  /** mu and sigma from `sums` (absent below 2 images). */
  stats?: Stats;
  sums?: FeatureSums;
  features?: Float32Array;
  logits?: Float32Array;
}

/**
 * Streams `images` through the network batch by batch: float64 sums of the features and their
 * outer products (image by image, so independent of the batching), and optionally all
 * features and logits. Batches start at `resume.done` and go up by `batch` from there.
 */
export async function streamImages(
  net: InceptionV3,
  images: ImageSet,
  options: StreamOptions = {},
): Promise<StreamResult> {
  const batch = Math.max(1, options.batch ?? 64);
  const [c, h, w] = images.shape;
  const n = images.count;
  const from = options.resume?.done ?? 0;
  if (from > n) throw new Error(`${images.location}: resume point ${from} is past ${n} images`);
  const sums =
    options.stats === false ? undefined : (options.resume?.sums ?? new FeatureSums(FEATURES));
  if (sums && sums.count !== from) {
    throw new Error(`${images.location}: resume sums hold ${sums.count} images, not ${from}`);
  }
  let features: Float32Array | undefined;
  if (options.keepFeatures) {
    features = new Float32Array(n * FEATURES);
    const kept = options.resume?.features;
    if (from > 0 && (!kept || kept.length < from * FEATURES)) {
      throw new Error(`${images.location}: the resume point lacks the features of ${from} images`);
    }
    if (kept) features.set(kept.subarray(0, from * FEATURES));
  }
  const logits = options.logits ? new Float32Array(n * CLASSES) : undefined;
  if (logits && from > 0) throw new Error('logits cannot be resumed');
  // Decoding (or sampling) the next batch overlaps the GPU work on this one.
  let next = from < n ? images.read(from, Math.min(batch, n - from)) : null;
  for (let s = from; s < n; s += batch) {
    const m = Math.min(batch, n - s);
    const data = await (next as Promise<Uint8Array>);
    next = s + batch < n ? images.read(s + batch, Math.min(batch, n - s - batch)) : null;
    const out = await net.embed(data, [m, c, h, w], {
      ...(options.detector && { detector: options.detector }),
      logits: options.logits === true,
    });
    sums?.add(out.features, m);
    features?.set(out.features, s * FEATURES);
    if (logits && out.logits) logits.set(out.logits, s * CLASSES);
    options.onProgress?.(s + m, n);
    await options.onBatch?.({
      done: s + m,
      ...(sums && { sums }),
      ...(features && { features }),
    });
  }
  return {
    count: n,
    ...(sums && { sums }),
    ...(sums && sums.count >= 2 && { stats: sums.result() }),
    ...(features && { features }),
    ...(logits && { logits }),
  };
}

/** Reference statistics: an .npz with mu [d] and sigma [d, d] (any float dtype; float64 kept). */
export async function readStats(path: string): Promise<Stats & { features?: Float32Array }> {
  const npz = await readNpz(path);
  const mu = npz.get('mu');
  const sigma = npz.get('sigma');
  if (!mu || !sigma) {
    const keys = [...npz.keys()].join(', ');
    throw new Error(
      `${path}: not a statistics file: needs arrays 'mu' and 'sigma' (it has: ${keys || 'none'})`,
    );
  }
  const d = mu.shape[0] ?? 0;
  if (
    mu.shape.length !== 1 ||
    sigma.shape.length !== 2 ||
    sigma.shape[0] !== d ||
    sigma.shape[1] !== d
  ) {
    throw new Error(
      `${path}: mu [${mu.shape.join(', ')}] and sigma [${sigma.shape.join(', ')}] are not [d] and [d, d]`,
    );
  }
  const toF64 = (a: NdArray) => Float64Array.from(a.data as ArrayLike<number>);
  const f = npz.get('features');
  return {
    mu: toF64(mu),
    sigma: toF64(sigma),
    count: 0,
    ...(f &&
      f.shape.length === 2 &&
      f.shape[1] === d && { features: Float32Array.from(f.data as ArrayLike<number>) }),
  };
}

/** Writes mu and sigma as float64 (np.savez layout, uncompressed), plus features when given. */
export async function writeStats(
  path: string,
  stats: Stats,
  features?: Float32Array,
): Promise<void> {
  const d = stats.mu.length;
  const arrays: Record<string, NdArray> = {
    mu: { dtype: 'float64', shape: [d], data: stats.mu },
    sigma: { dtype: 'float64', shape: [d, d], data: stats.sigma },
  };
  if (features)
    arrays.features = { dtype: 'float32', shape: [features.length / d, d], data: features };
  await writeNpz(path, arrays);
}
