/**
 * A seeded, shuffling, infinite batch sampler with background prefetch. Batch contents are
 * drawn synchronously when a batch is queued (so they depend only on the seed), then decoded
 * asynchronously: `prefetch` batches are prepared ahead, yielding to the event loop every few
 * milliseconds so a training loop's GPU submissions are not held up. When decoding keeps up,
 * `next()` resolves with a batch that is already complete (`waits` counts the times it was not).
 *
 * Orders: 'epoch' (default) walks a fresh permutation every epoch, so each image appears once
 * per epoch (epoch 0 is NumPy's RandomState(seed).permutation(n)); 'edm' reproduces the official
 * InfiniteSampler exactly (one permutation, then after every position a swap with one of the
 * previous round(n/2) positions), a stream without epochs.
 */
import type { ImageDataset } from './dataset.ts';
import { writeLabel } from './labels.ts';
import { Mt19937, roundHalfEven } from './random.ts';

export interface SamplerOptions {
  batchSize: number;
  /** Seed of the order (default 0), an integer in [0, 2^32). */
  seed?: number;
  /** Shuffle (default true); false walks 0, 1, 2, ... */
  shuffle?: boolean;
  order?: 'epoch' | 'edm';
  /** 'edm' order: window as a fraction of the dataset (default 0.5, as the official code). */
  windowSize?: number;
  /** Batches decoded ahead of the consumer (default 2). */
  prefetch?: number;
  /** Items to skip first (resuming after that many images). */
  start?: number;
}

export interface Batch {
  /** [N, C, H, W] in [-1, 1]: uint8 / 127.5 - 1 rounded to float32 as PyTorch computes it. */
  images: Float32Array;
  shape: [number, number, number, number];
  /** [N, labelDim]: one-hot class labels or label vectors; empty without labels. */
  labels: Float32Array;
  labelDim: number;
  /** Dataset index of each item (>= dataset.size means a mirrored copy). */
  indices: Int32Array;
}

export interface IndexStream {
  next(): number;
}

/** A new permutation of 0..n-1 every epoch, drawn from one MT19937 stream. */
export class EpochOrder implements IndexStream {
  private readonly order: Int32Array;
  private readonly rng: Mt19937;
  private at: number;

  constructor(
    n: number,
    seed: number,
    private readonly shuffle = true,
  ) {
    this.order = new Int32Array(n);
    this.rng = new Mt19937(seed);
    this.at = n;
  }

  next(): number {
    const n = this.order.length;
    if (this.at === n) {
      for (let i = 0; i < n; i++) this.order[i] = i;
      if (this.shuffle) this.rng.shuffle(this.order);
      this.at = 0;
    }
    return this.order[this.at++] as number;
  }
}

/** The official InfiniteSampler (one rank): yields order[i], then swaps it with a recent slot. */
export class EdmOrder implements IndexStream {
  private readonly order: Int32Array;
  private readonly rng: Mt19937;
  private readonly window: number;
  private idx = 0;

  constructor(n: number, seed: number, shuffle = true, windowSize = 0.5) {
    this.order = Int32Array.from({ length: n }, (_, i) => i);
    this.rng = new Mt19937(seed);
    this.window = 0;
    if (shuffle) {
      this.rng.shuffle(this.order);
      this.window = roundHalfEven(n * windowSize);
    }
  }

  next(): number {
    const n = this.order.length;
    const i = this.idx % n;
    const value = this.order[i] as number;
    if (this.window >= 2) {
      const j = (((i - this.rng.randint(this.window)) % n) + n) % n;
      this.order[i] = this.order[j] as number;
      this.order[j] = value;
    }
    this.idx++;
    return value;
  }
}

/** uint8 -> float32 exactly as `x.to(torch.float32) / 127.5 - 1` (float32 at each step). */
const TO_FLOAT = Float32Array.from({ length: 256 }, (_, v) =>
  Math.fround(Math.fround(v / 127.5) - 1),
);

let channel: MessageChannel | null = null;
const waiting: (() => void)[] = [];

/** Lets other tasks run (setImmediate in Node; a MessageChannel, which is not clamped, elsewhere). */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => void };
  if (g.setImmediate) return new Promise((r) => g.setImmediate?.(r));
  if (typeof MessageChannel === 'undefined') return new Promise((r) => setTimeout(r, 0));
  if (!channel) {
    const mc = new MessageChannel();
    mc.port1.onmessage = () => waiting.shift()?.();
    channel = mc;
  }
  return new Promise((resolve) => {
    waiting.push(resolve);
    channel?.port2.postMessage(0);
  });
}

/** Work slice between yields, in milliseconds. */
const SLICE_MS = 4;

export class BatchSampler implements AsyncIterable<Batch> {
  /** Calls of `next()` that found their batch still decoding. */
  waits = 0;
  /** Batches handed out. */
  delivered = 0;
  private readonly queue: { promise: Promise<Batch>; done: boolean }[] = [];
  private readonly stream: IndexStream;
  private readonly batchSize: number;
  private readonly prefetch: number;
  private closed = false;

  constructor(
    readonly dataset: ImageDataset,
    options: SamplerOptions,
  ) {
    const {
      batchSize,
      seed = 0,
      shuffle = true,
      order = 'epoch',
      prefetch = 2,
      start = 0,
    } = options;
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    if (!(Number.isInteger(prefetch) && prefetch >= 1)) {
      throw new RangeError(`prefetch must be a positive integer, got ${prefetch}`);
    }
    this.batchSize = batchSize;
    this.prefetch = prefetch;
    const n = dataset.length;
    this.stream =
      order === 'edm'
        ? new EdmOrder(n, seed, shuffle, options.windowSize)
        : new EpochOrder(n, seed, shuffle);
    for (let i = 0; i < start; i++) this.stream.next();
    this.fill();
  }

  private fill(): void {
    while (!this.closed && this.queue.length < this.prefetch) {
      const indices = new Int32Array(this.batchSize);
      for (let i = 0; i < this.batchSize; i++) indices[i] = this.stream.next();
      const entry = { promise: this.assemble(indices), done: false };
      entry.promise.then(
        () => {
          entry.done = true;
        },
        () => {
          entry.done = true;
        },
      );
      this.queue.push(entry);
    }
  }

  private async assemble(indices: Int32Array): Promise<Batch> {
    const ds = this.dataset;
    const [c, h, w] = ds.shape;
    const plane = c * h * w;
    const images = new Float32Array(indices.length * plane);
    const labelDim = ds.labelDim;
    const labels = new Float32Array(indices.length * labelDim);
    let sliceStart = performance.now();
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k] as number;
      const chw = await ds.raw(ds.rawIndex[i % ds.size] as number);
      const at = k * plane;
      if (i >= ds.size) {
        for (let row = 0; row < c * h; row++) {
          const r = row * w;
          for (let x = 0; x < w; x++)
            images[at + r + x] = TO_FLOAT[chw[r + w - 1 - x] as number] as number;
        }
      } else {
        for (let p = 0; p < plane; p++) images[at + p] = TO_FLOAT[chw[p] as number] as number;
      }
      if (ds.labels) writeLabel(ds.labels, i % ds.size, labels, k * labelDim);
      if (performance.now() - sliceStart > SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
    return { images, shape: [indices.length, c, h, w], labels, labelDim, indices };
  }

  /** The next batch (already decoded when prefetching keeps up). */
  async next(): Promise<Batch> {
    if (this.closed) throw new Error('BatchSampler is closed');
    const head = this.queue.shift() as { promise: Promise<Batch>; done: boolean };
    if (!head.done) this.waits++;
    this.fill();
    const batch = await head.promise;
    this.delivered++;
    return batch;
  }

  /** Stops prefetching; batches in flight finish and are dropped. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    while (!this.closed) yield await this.next();
  }
}
