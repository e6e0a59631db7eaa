/**
 * The augmentation resampling kernels (augmentUpsample, affineGridSample, augmentDownsample)
 * against their float64 references: size 1, odd and prime sizes, margins up to size - 1, mixed
 * per-image flips, samples far outside the image (zero padding), NaN, and one case of each with
 * more than 65,535 workgroups (1-channel large planes).
 */
import {
  affineGridSample,
  augmentDownsample,
  augmentUpsample,
  noGrad,
  tensor,
} from '@pfgmpp/tensor/node';
import {
  affineGridSampleRef,
  augmentDownsampleRef,
  augmentUpsampleRef,
  type NDArray,
  SYM6_TAPS,
} from '@pfgmpp/tensor/reference';
import { expectClose, f32, GPU_SKIP_REASON, randomNd, testGpu, toGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';

// Sums of 36 (upsample) or 144 (downsample) float32 products of values in [-1, 1] with taps
// whose absolute sum per axis is 2.0: rounding is a few ulp of 4, well under 1e-5.
const FILTER_TOL = { atol: 1e-5, rtol: 1e-6 };
// Source coordinates in float32 (up to ~2^-24 * 200 px off) times neighbour differences up to 2.
const SAMPLE_TOL = { atol: 4e-5, rtol: 1e-6 };

const WG_LIMIT = 65535 * 64;

function rotation(angle: number, scale: number, tx: number, ty: number): number[] {
  const c = Math.cos(angle) * scale;
  const s = Math.sin(angle) * scale;
  return [c, -s, tx, s, c, ty];
}

describe.skipIf(GPU_SKIP_REASON)('augmentation resampling kernels', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('the sym6 taps are the orthonormal low-pass (sum sqrt 2, unit energy)', () => {
    expect(SYM6_TAPS.reduce((a, b) => a + b, 0)).toBeCloseTo(Math.SQRT2, 12);
    expect(SYM6_TAPS.reduce((a, b) => a + b * b, 0)).toBeCloseTo(1, 10);
  });

  it('augmentUpsample matches the reference: size 1, odd sizes, margins up to size - 1, flips', async () => {
    const cases: [number[], [number, number, number, number], number[] | undefined][] = [
      [[1, 1, 1, 1], [0, 0, 0, 0], undefined],
      [
        [1, 1, 1, 5],
        [3, 4, 0, 0],
        [1, 1],
      ],
      [
        [2, 3, 5, 7],
        [4, 2, 3, 1],
        [1, 0, 0, 1],
      ],
      [
        [1, 2, 13, 11],
        [10, 0, 12, 5],
        [1, 1],
      ],
      [
        [3, 1, 16, 16],
        [15, 15, 15, 15],
        [0, 1, 1, 0, 1, 1],
      ],
      [
        [2, 3, 8, 8],
        [0, 0, 0, 0],
        [0, 0, 1, 0],
      ],
    ];
    for (const [i, [s, [left, right, top, bottom], flips]] of cases.entries()) {
      const X = randomNd(s, 500 + i);
      const margins = { left, right, top, bottom };
      const y = augmentUpsample(toGpu(X), margins, flips);
      const ref = augmentUpsampleRef(X, margins, flips);
      expect(y.shape).toEqual(ref.shape);
      expectClose(
        await y.read(),
        f32(ref.data),
        FILTER_TOL,
        `upsample [${s}] ${[left, right, top, bottom]}`,
      );
      y.dispose();
    }
  });

  it('augmentUpsample spreads a NaN to exactly the reference footprint', async () => {
    const X = randomNd([1, 1, 6, 5], 7);
    X.data[2 * 5 + 3] = Number.NaN;
    const margins = { left: 2, right: 1, top: 0, bottom: 3 };
    const got = await augmentUpsample(toGpu(X), margins, [1, 0]).read();
    const ref = augmentUpsampleRef(X, margins, [1, 0]);
    expect(got.filter(Number.isNaN).length).toBe(ref.data.filter(Number.isNaN).length);
    expect(ref.data.filter(Number.isNaN).length).toBeGreaterThan(0);
    expectClose(got, f32(ref.data), FILTER_TOL, 'upsample NaN');
  });

  it('affineGridSample matches the reference: identity, rotations, far outside, size 1', async () => {
    const cases: [number[], [number, number], number[]][] = [
      [
        [1, 1, 1, 1],
        [3, 2],
        [1, 0, 0, 0, 1, 0],
      ],
      [
        [1, 1, 4, 4],
        [4, 4],
        [1, 0, 0, 0, 1, 0],
      ], // identity: exact copy
      [
        [2, 3, 7, 5],
        [9, 11],
        [...rotation(0.7, 1.3, 0.1, -0.2), ...rotation(-2.5, 0.8, 0.4, 0.3)],
      ],
      [
        [3, 2, 13, 17],
        [13, 17],
        [
          ...rotation(3.0, 1, 0, 0),
          ...rotation(0.2, 2.5, 1.5, -1.2), // mostly outside: zero padding
          ...[1.1, 0.3, -0.05, -0.2, 0.9, 0.02],
        ],
      ],
      [
        [1, 1, 3, 1],
        [5, 1],
        [0.5, 0, 0, 0, 0.5, 0],
      ],
    ];
    for (const [i, [s, size, theta]] of cases.entries()) {
      const X = randomNd(s, 600 + i);
      const y = affineGridSample(toGpu(X), theta, size);
      const ref = affineGridSampleRef(X, theta, size);
      expect(y.shape).toEqual(ref.shape);
      const tol = i === 1 ? { atol: 0, rtol: 0 } : SAMPLE_TOL;
      expectClose(await y.read(), f32(ref.data), tol, `grid sample [${s}] -> [${size}]`);
      y.dispose();
    }
  });

  it('affineGridSample: a NaN pixel spreads to its bilinear footprint; NaN theta gives NaN', async () => {
    const X = randomNd([2, 1, 5, 6], 9);
    X.data[2 * 6 + 2] = Number.NaN;
    const theta = [...rotation(0.3, 1, 0.05, 0), Number.NaN, 0, 0, 0, 1, 0];
    const got = await affineGridSample(toGpu(X), theta, [5, 6]).read();
    const ref = affineGridSampleRef(X, theta, [5, 6]);
    expect(got.slice(0, 30).filter(Number.isNaN).length).toBe(
      ref.data.slice(0, 30).filter(Number.isNaN).length,
    );
    expect(got.slice(30).every(Number.isNaN)).toBe(true);
    expectClose(got, f32(ref.data), SAMPLE_TOL, 'grid sample NaN');
  });

  it('augmentDownsample matches the reference: smallest input, odd halves, wide planes', async () => {
    for (const [i, s] of [
      [1, 1, 14, 14],
      [2, 3, 26, 30],
      [1, 2, 16, 40],
      [3, 1, 44, 44],
    ].entries()) {
      const X = randomNd(s, 700 + i);
      const y = augmentDownsample(toGpu(X));
      const ref = augmentDownsampleRef(X);
      expect(y.shape).toEqual(ref.shape);
      expectClose(await y.read(), f32(ref.data), FILTER_TOL, `downsample [${s}]`);
      y.dispose();
    }
    const X = randomNd([1, 1, 14, 16], 9);
    X.data[5 * 16 + 7] = Number.NaN;
    const got = await augmentDownsample(toGpu(X)).read();
    const ref = augmentDownsampleRef(X);
    expect(got.filter(Number.isNaN).length).toBe(ref.data.filter(Number.isNaN).length);
    expectClose(got, f32(ref.data), FILTER_TOL, 'downsample NaN');
  });

  it('more than 65,535 workgroups: each kernel on a large 1-channel plane', async () => {
    const check = async (label: string, got: Float32Array, ref: NDArray) => {
      expect(ref.data.length).toBeGreaterThan(WG_LIMIT);
      expectClose(got, f32(ref.data), label === 'grid' ? SAMPLE_TOL : FILTER_TOL, label);
    };
    const U = randomNd([1, 1, 1030, 1024], 800);
    const margins = { left: 3, right: 0, top: 1, bottom: 2 };
    await check(
      'upsample',
      await augmentUpsample(toGpu(U), margins, [1, 1]).read(),
      augmentUpsampleRef(U, margins, [1, 1]),
    );
    const G = randomNd([1, 1, 40, 40], 801);
    const theta = rotation(0.4, 0.9, 0.1, 0);
    await check(
      'grid',
      await affineGridSample(toGpu(G), theta, [2060, 2048]).read(),
      affineGridSampleRef(G, theta, [2060, 2048]),
    );
    const D = randomNd([1, 1, 4132, 4108], 802);
    await check('downsample', await augmentDownsample(toGpu(D)).read(), augmentDownsampleRef(D));
  });

  it('refuses bad shapes, margins and inputs that require grad', () => {
    const x = tensor(new Float32Array(2 * 3 * 4), [1, 2, 3, 4]);
    expect(() => augmentUpsample(x, { left: 4, right: 0, top: 0, bottom: 0 })).toThrow(
      /margin left/,
    );
    expect(() => augmentUpsample(x, { left: 0, right: 0, top: 0, bottom: 0 }, [1])).toThrow(
      /flips/,
    );
    expect(() => affineGridSample(x, [1, 0, 0], [2, 2])).toThrow(/theta/);
    expect(() => augmentDownsample(x)).toThrow(/even and at least 14/);
    expect(() => augmentDownsample(tensor([1, 2], [2]))).toThrow(/4-D/);
    const g = tensor(new Float32Array(14 * 14), [1, 1, 14, 14]).requireGrad();
    expect(() => augmentDownsample(g)).toThrow(/forward only/);
    expect(noGrad(() => augmentDownsample(g)).shape).toEqual([1, 1, 1, 1]);
  });
});
