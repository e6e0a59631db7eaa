/**
 * maxPool2d, avgPool2d, globalAvgPool and resizeBilinear against the float64 references: size 1,
 * odd and prime sizes, kernels larger than the stride, padding and windows hanging off the
 * edge, both avg divisors, NaN, and the FID resizes (32x32 and 64x64 to 299x299, both modes).
 */
import {
  avgPool2d,
  globalAvgPool,
  maxPool2d,
  noGrad,
  type Pool2dOptions,
  resizeBilinear,
  scope,
  tensor,
} from '@pfgmpp/tensor/node';
import {
  avgPool2dRef,
  globalAvgPoolRef,
  maxPool2dRef,
  nd,
  resizeBilinearRef,
} from '@pfgmpp/tensor/reference';
import { expectClose, f32, GPU_SKIP_REASON, randomNd, testGpu, toGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';

const EXACT = { atol: 0, rtol: 0 };
// A float32 sum of at most 64 values in [-1, 1], then one division.
const AVG_TOL = { atol: 1e-6, rtol: 1e-6 };
// Source coordinates in float32 (up to 64 * 2^-24 off) times neighbour differences up to 2.
const RESIZE_TOL = { atol: 2e-5, rtol: 1e-6 };

interface PoolCase extends Pool2dOptions {
  x: number[];
}

const POOL_CASES: PoolCase[] = [
  { x: [1, 1, 1, 1], kernel: 1 }, // everything 1
  { x: [2, 3, 7, 5], kernel: 3, stride: 2, padding: 1 }, // primes, windows off the edge
  { x: [1, 2, 8, 9], kernel: 2 }, // stride defaults to the kernel, odd width drops a column
  { x: [1, 3, 13, 11], kernel: 3, stride: 1, padding: 1 }, // Inception's pool branch
  { x: [1, 3, 17, 17], kernel: 3, stride: 2 }, // Inception's reductions
  { x: [1, 2, 5, 7], kernel: [3, 2], stride: [1, 2], padding: [1, 1] }, // asymmetric
  { x: [1, 1, 9, 9], kernel: 5, stride: 2, padding: 2 }, // kernel > stride, big padding
  { x: [2, 2, 8, 8], kernel: 8 }, // Inception's final 8x8 average
  { x: [1, 1, 1, 3], kernel: [1, 3], stride: 1, padding: [0, 1] }, // one row
];

async function checkPool(c: PoolCase, seed: number): Promise<void> {
  const X = randomNd(c.x, seed);
  const label = `x [${c.x}] kernel ${c.kernel} stride ${c.stride} padding ${c.padding}`;
  const x = toGpu(X);
  const yMax = maxPool2d(x, c);
  const yIn = avgPool2d(x, { ...c, countIncludePad: true });
  const yEx = avgPool2d(x, { ...c, countIncludePad: false });
  const refMax = maxPool2dRef(X, c);
  expect(yMax.shape).toEqual(refMax.shape);
  expectClose(await yMax.read(), f32(refMax.data), EXACT, `max ${label}`);
  const refIn = avgPool2dRef(X, { ...c, countIncludePad: true });
  expectClose(await yIn.read(), f32(refIn.data), AVG_TOL, `avg incl ${label}`);
  const refEx = avgPool2dRef(X, { ...c, countIncludePad: false });
  expectClose(await yEx.read(), f32(refEx.data), AVG_TOL, `avg excl ${label}`);
  for (const t of [x, yMax, yIn, yEx]) t.dispose();
}

describe.skipIf(GPU_SKIP_REASON)('pooling and resizing', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('maxPool2d and avgPool2d (both divisors) match the references on edge shapes', async () => {
    for (const [i, c] of POOL_CASES.entries()) await checkPool(c, 100 + i);
  });

  it('the two avg divisors differ exactly where windows hang over the padding', () => {
    const X = nd([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const inc = avgPool2dRef(X, { kernel: 3, stride: 1, padding: 1 });
    const exc = avgPool2dRef(X, { kernel: 3, stride: 1, padding: 1, countIncludePad: false });
    expect(inc.data[0]).toBeCloseTo((1 + 2 + 4 + 5) / 9, 12);
    expect(exc.data[0]).toBeCloseTo((1 + 2 + 4 + 5) / 4, 12);
    expect(inc.data[4]).toBe(exc.data[4]);
  });

  it('NaN propagates to exactly the windows that hold it', async () => {
    const X = randomNd([1, 2, 6, 7], 3);
    X.data[(1 * 6 + 2) * 7 + 3] = Number.NaN; // channel 1, row 2, column 3
    const opts = { kernel: 3, stride: 2, padding: 1 };
    const x = toGpu(X);
    const m = await scope(() => maxPool2d(x, opts)).read();
    const a = await scope(() => avgPool2d(x, { ...opts, countIncludePad: false })).read();
    const refM = maxPool2dRef(X, opts);
    const refA = avgPool2dRef(X, { ...opts, countIncludePad: false });
    expect(m.filter(Number.isNaN).length).toBe(refM.data.filter(Number.isNaN).length);
    expect(refM.data.filter(Number.isNaN).length).toBe(2); // output row 1, columns 1 and 2 of 3x4
    expectClose(m, f32(refM.data), EXACT, 'max NaN');
    expectClose(a, f32(refA.data), AVG_TOL, 'avg NaN');
    x.dispose();
  });

  it('globalAvgPool is the mean over H and W, [N, C, 1, 1]', async () => {
    for (const [i, s] of [
      [1, 1, 1, 1],
      [2, 3, 5, 7],
      [1, 5, 8, 8],
    ].entries()) {
      const X = randomNd(s, 200 + i);
      const y = scope(() => globalAvgPool(toGpu(X)));
      expect(y.shape).toEqual([s[0], s[1], 1, 1]);
      expectClose(await y.read(), f32(globalAvgPoolRef(X).data), AVG_TOL, `global [${s}]`);
      y.dispose();
    }
  });

  it('resizeBilinear matches the reference: up, down, size 1, both modes', async () => {
    const cases: [number[], [number, number]][] = [
      [
        [1, 1, 1, 1],
        [3, 2],
      ],
      [
        [1, 2, 5, 7],
        [11, 3],
      ],
      [
        [2, 1, 17, 13],
        [5, 4],
      ],
      [
        [1, 3, 4, 4],
        [8, 8],
      ],
      [
        [1, 1, 6, 9],
        [6, 9],
      ],
      [
        [1, 2, 9, 3],
        [1, 1],
      ],
    ];
    for (const [i, [s, out]] of cases.entries()) {
      const X = randomNd(s, 300 + i);
      const x = toGpu(X);
      for (const mode of ['half-pixel', 'tf1'] as const) {
        const y = resizeBilinear(x, out, { mode });
        expect(y.shape).toEqual([s[0], s[1], out[0], out[1]]);
        const ref = resizeBilinearRef(X, out, mode);
        expectClose(await y.read(), f32(ref.data), RESIZE_TOL, `${mode} [${s}] -> [${out}]`);
        y.dispose();
      }
      x.dispose();
    }
  });

  it('FID resizes: 32x32 and 64x64 to 299x299 in both modes; 299 -> 299 is the identity', async () => {
    for (const [i, s] of [
      [2, 3, 32, 32],
      [1, 3, 64, 64],
    ].entries()) {
      const X = randomNd(s, 400 + i);
      const x = toGpu(X);
      for (const mode of ['half-pixel', 'tf1'] as const) {
        const y = resizeBilinear(x, [299, 299], { mode });
        const ref = resizeBilinearRef(X, [299, 299], mode);
        expectClose(await y.read(), f32(ref.data), RESIZE_TOL, `${mode} [${s}] -> 299`);
        y.dispose();
      }
      x.dispose();
    }
    // The two mappings differ by ~0.45 source pixels at 32 -> 299: check they really differ.
    const X = randomNd([1, 1, 32, 32], 9);
    const a = resizeBilinearRef(X, [299, 299], 'half-pixel').data;
    const b = resizeBilinearRef(X, [299, 299], 'tf1').data;
    expect(a.some((v, j) => Math.abs(v - (b[j] as number)) > 1e-2)).toBe(true);
    // Pixel centres of the tf1 mapping: output 0 samples input 0 exactly.
    expect(b[0]).toBe(X.data[0]);
    const I = randomNd([1, 3, 299, 299], 10);
    const x = toGpu(I);
    for (const mode of ['half-pixel', 'tf1'] as const) {
      const y = resizeBilinear(x, [299, 299], { mode });
      expectClose(await y.read(), f32(I.data), EXACT, `${mode} identity`);
      y.dispose();
    }
    x.dispose();
  });

  it('rejects shapes and options that do not fit, naming them', () => {
    const x = tensor(new Float32Array(2 * 3 * 5 * 5), [2, 3, 5, 5]);
    expect(() => maxPool2d(x, { kernel: 3, padding: 2 })).toThrow(/half the kernel/);
    expect(() => maxPool2d(x, { kernel: 7 })).toThrow(/larger than the padded input/);
    expect(() => avgPool2d(x, { kernel: 2, stride: 0 })).toThrow(/positive integers/);
    expect(() => maxPool2d(tensor(new Float32Array(4), [4]), { kernel: 1 })).toThrow(/4-D/);
    expect(() => resizeBilinear(x, [0, 3])).toThrow(/positive integers/);
    expect(() => globalAvgPool(tensor(new Float32Array(4), [2, 2]))).toThrow(/4-D/);
    // Forward only: an input that wants gradients is refused, not silently cut off.
    x.requireGrad();
    expect(() => maxPool2d(x, { kernel: 2 })).toThrow(/forward only/);
    expect(() => avgPool2d(x, { kernel: 2 })).toThrow(/forward only/);
    expect(() => resizeBilinear(x, [7, 7])).toThrow(/forward only/);
    const y = noGrad(() => maxPool2d(x, { kernel: 2 }));
    expect(y.shape).toEqual([2, 3, 2, 2]);
    y.dispose();
    x.dispose();
  });
});
