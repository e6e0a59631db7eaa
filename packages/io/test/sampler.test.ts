import { describe, expect, it } from 'vitest';
import {
  type Batch,
  BatchSampler,
  EpochOrder,
  type Image,
  ImageDataset,
  memorySource,
} from '../src/index.ts';

/** n images of 2x2 gray whose pixels encode the index; labels i % 3. */
async function indexed(n: number, options: { xflip?: boolean } = {}) {
  const names = Array.from({ length: n }, (_, i) => `${String(i).padStart(5, '0')}.png`);
  const img = (i: number): Image => ({
    width: 2,
    height: 2,
    channels: 1,
    data: Uint8Array.of(i % 256, 255, 0, 100),
  });
  return ImageDataset.open(
    memorySource('idx', names, img, new Map(names.map((s, i) => [s, i % 3]))),
    options,
  );
}

async function take(s: BatchSampler, count: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < count; i++) out.push(await s.next());
  return out;
}

describe('BatchSampler', () => {
  it('is deterministic: the same seed gives the same batches, another seed others', async () => {
    const ds = await indexed(23);
    const run = async (seed: number, order: 'epoch' | 'edm') => {
      const s = new BatchSampler(ds, { batchSize: 5, seed, order });
      const b = await take(s, 12);
      s.close();
      return b.map((x) => Array.from(x.indices));
    };
    for (const order of ['epoch', 'edm'] as const) {
      expect(await run(7, order)).toEqual(await run(7, order));
      expect(await run(7, order)).not.toEqual(await run(8, order));
    }
  });

  it('covers every image exactly once per epoch, including x-flipped copies', async () => {
    const ds = await indexed(13, { xflip: true });
    expect(ds.length).toBe(26);
    const s = new BatchSampler(ds, { batchSize: 4, seed: 3 });
    const seen = (await take(s, 26)).flatMap((b) => Array.from(b.indices)); // 104 = 4 epochs
    for (let e = 0; e < 4; e++) {
      const epoch = seen.slice(e * 26, (e + 1) * 26);
      expect(new Set(epoch).size).toBe(26);
    }
    expect(seen.slice(0, 26)).not.toEqual(seen.slice(26, 52)); // reshuffled
    s.close();
  });

  it('delivers NCHW float32 in [-1, 1] (x / 127.5 - 1), one-hot labels, mirrored copies', async () => {
    const ds = await indexed(4, { xflip: true });
    const s = new BatchSampler(ds, { batchSize: 8, shuffle: false });
    const b = await s.next();
    expect(b.shape).toEqual([8, 1, 2, 2]);
    expect(b.labelDim).toBe(3);
    expect(Array.from(b.indices)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const f = (v: number) => Math.fround(Math.fround(v / 127.5) - 1);
    expect(Array.from(b.images.subarray(4, 8))).toEqual([f(1), 1, -1, f(100)]);
    // Index 5 is image 1 mirrored: rows [1, 255] [0, 100] -> [255, 1] [100, 0].
    expect(Array.from(b.images.subarray(20, 24))).toEqual([1, f(1), f(100), -1]);
    expect(Array.from(b.labels.subarray(3, 6))).toEqual([0, 1, 0]);
    expect(Array.from(b.labels.subarray(15, 18))).toEqual([0, 1, 0]);
    expect(f(0)).toBe(-1);
    expect(f(255)).toBe(1);
    s.close();
  });

  it("'start' resumes the stream where a previous sampler stopped", async () => {
    const ds = await indexed(10);
    const all = new BatchSampler(ds, { batchSize: 3, seed: 5 });
    const a = (await take(all, 6)).flatMap((b) => Array.from(b.indices));
    const resumed = new BatchSampler(ds, { batchSize: 3, seed: 5, start: 9 });
    const b = (await take(resumed, 3)).flatMap((x) => Array.from(x.indices));
    expect(b).toEqual(a.slice(9));
    all.close();
    resumed.close();
  });

  it('prefetches in the background: a consumer slower than decoding never waits', async () => {
    let decoding = 0;
    const names = Array.from({ length: 40 }, (_, i) => `${i}.png`);
    const src = memorySource('slow', names, (i) => {
      decoding++;
      const until = performance.now() + 0.3; // 0.3 ms of "decoding" per image
      while (performance.now() < until) {}
      return { width: 4, height: 4, channels: 3, data: new Uint8Array(48).fill(i) };
    });
    const ds = await ImageDataset.open(src, { cache: false });
    const s = new BatchSampler(ds, { batchSize: 4, seed: 1, prefetch: 3 });
    // Generous margins (decoding a batch takes ~1.2 ms) so a loaded machine does not flake.
    await new Promise((r) => setTimeout(r, 60)); // the first batches decode meanwhile
    for (let i = 0; i < 10; i++) {
      await s.next();
      await new Promise((r) => setTimeout(r, 25)); // the training step
    }
    expect(s.waits).toBe(0);
    expect(s.delivered).toBe(10);
    expect(decoding).toBeGreaterThanOrEqual(40);
    s.close();
    await expect(s.next()).rejects.toThrow(/closed/);
  });

  it('reports decoding errors from next() without stopping later batches', async () => {
    const names = ['a.png', 'b.png', 'c.png'];
    const src = memorySource('bad', names, (i) => ({
      width: 2,
      height: 2,
      channels: 1,
      data: new Uint8Array(i === 2 ? 3 : 4),
    }));
    const ds = await ImageDataset.open(src, { cache: false });
    const s = new BatchSampler(ds, { batchSize: 1, shuffle: false });
    await s.next();
    await s.next();
    await expect(s.next()).rejects.toThrow(/bad: c\.png: 3 bytes of pixels for 2x2x1/);
    expect(Array.from((await s.next()).indices)).toEqual([0]);
    s.close();
    expect(() => new BatchSampler(ds, { batchSize: 0 })).toThrow(/batchSize/);
  });

  it('EpochOrder without shuffling walks 0..n-1 repeatedly', () => {
    const o = new EpochOrder(3, 0, false);
    expect(Array.from({ length: 7 }, () => o.next())).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });
});
