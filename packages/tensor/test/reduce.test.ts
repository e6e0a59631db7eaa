/** Reductions and their compositions against float64 references, with gradients. */
import {
  logsumexp,
  max,
  mean,
  min,
  scope,
  softmax,
  sum,
  tensor,
  variance,
} from '@pfgmpp/tensor/node';
import { type NDArray, nd, reduceRef } from '@pfgmpp/tensor/reference';
import {
  expectClose,
  f32,
  GPU_SKIP_REASON,
  gpuGrads,
  numericGrad,
  testGpu,
  toGpu,
  uniformValues,
} from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';

const SUM_TOL = { atol: 1e-5, rtol: 1e-5 };
const KINDS = ['sum', 'mean', 'max', 'min'] as const;

/** Every kind of reduction of x over `axes` against reduceRef (sums to SUM_TOL, max/min exact). */
async function checkKinds(x: NDArray, axes: number[], label: string): Promise<void> {
  for (const kind of KINDS) {
    const op = { sum, mean, max, min }[kind];
    const y = scope(() => op(toGpu(x), axes));
    const ref = reduceRef(kind, x, axes, false);
    expectClose(
      await y.read(),
      f32(ref.data),
      kind === 'sum' || kind === 'mean' ? SUM_TOL : { atol: 0, rtol: 0 },
      `${kind} ${label}`,
    );
    y.dispose();
  }
}

const CASES: { shape: number[]; axes?: number[] }[] = [
  { shape: [1] },
  { shape: [1], axes: [0] },
  { shape: [257] },
  { shape: [3, 5, 7], axes: [1] },
  { shape: [3, 5, 7], axes: [0, 2] },
  { shape: [3, 5, 7], axes: [2] },
  { shape: [3, 5, 7], axes: [0, 1] },
  { shape: [2, 3, 4, 5], axes: [0, 2, 3] },
  { shape: [4097, 3], axes: [0] },
  { shape: [2, 1, 3], axes: [1] },
];

describe.skipIf(GPU_SKIP_REASON)('reductions', () => {
  beforeAll(async () => {
    await testGpu();
  });
  for (const kind of KINDS) {
    const op = { sum, mean, max, min }[kind];
    it(`${kind} over any axes, keepDims both ways`, async () => {
      for (const [k, c] of CASES.entries()) {
        const n = c.shape.reduce((p, d) => p * d, 1);
        const x = nd(c.shape, uniformValues(n, -1, 1, k));
        for (const keep of [false, true]) {
          const y = scope(() => op(toGpu(x), c.axes, keep));
          const ref = reduceRef(kind, x, c.axes, keep);
          expect(y.shape).toEqual(ref.shape);
          expectClose(
            await y.read(),
            f32(ref.data),
            kind === 'sum' || kind === 'mean' ? SUM_TOL : { atol: 0, rtol: 0 },
            `${kind} [${c.shape}] axes ${c.axes}`,
          );
          y.dispose();
        }
      }
    });
  }
  it('sums a million values accurately (multi-pass) and propagates NaN in max/min', async () => {
    const n = 1_000_003;
    const x = nd([n], uniformValues(n, 0, 1, 42));
    const ref = reduceRef('sum', x).data[0]!;
    const got = await scope(() => sum(toGpu(x))).item();
    expect(Math.abs(got - ref) / ref).toBeLessThan(1e-6);
    const withNan = f32(uniformValues(1000, -1, 1, 1));
    withNan[517] = Number.NaN;
    expect(await scope(() => max(tensor(withNan))).item()).toBeNaN();
    expect(await scope(() => min(tensor(withNan))).item()).toBeNaN();
    expect(await scope(() => sum(tensor([1, Number.POSITIVE_INFINITY, 2]))).item()).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
  it('reductions along the contiguous axis read vec4 (main4): one vec4, partial last chunks, two passes, NaN', async () => {
    const shapes = [[4], [6, 64], [5, 148], [3, 4096], [2, 3, 8]];
    for (const [k, shape] of shapes.entries()) {
      const n = shape.reduce((p, d) => p * d, 1);
      const data = uniformValues(n, -1, 1, 90 + k);
      const axis = shape.length - 1;
      if (k === 2) {
        data[148 + 37] = Number.NaN; // row 1: max and min give NaN there, exactly
        data[3 * 148 + 146] = Number.POSITIVE_INFINITY; // row 3, in the short last chunk
      }
      await checkKinds(nd(shape, data), [axis], `[${shape}] along the last axis`);
    }
    // 65,537 workgroups of rows of 4 (one vec4 each), folded into 2-D: small integers, exact.
    const rows = 64 * 65_536 + 8;
    const flat = new Float32Array(rows * 4).map((_, i) => (i % 7) - 3);
    const rowSums = await scope(() => sum(tensor(flat, [rows, 4]), [1])).read();
    expect(rowSums.length).toBe(rows);
    let wrong = 0;
    for (let r = 0; r < rows; r++) {
      const e = ((4 * r) % 7) + (((4 * r + 1) % 7) + ((4 * r + 2) % 7) + ((4 * r + 3) % 7)) - 12;
      if (rowSums[r] !== e) wrong++;
    }
    expect(wrong).toBe(0);
    const big = nd([1_000_004], uniformValues(1_000_004, 0, 1, 99));
    const got = await scope(() => sum(toGpu(big))).item();
    const ref = reduceRef('sum', big).data[0]!;
    expect(Math.abs(got - ref) / ref).toBeLessThan(1e-6);
  });
  it('reductions over a middle axis with inner a multiple of 4 read vec4 (mid4): chunks, two passes, NaN per column', async () => {
    const cases: { shape: number[]; axes: number[] }[] = [
      { shape: [3, 5, 8], axes: [1] },
      { shape: [2, 37, 12], axes: [1] }, // two chunks, the last one short
      { shape: [4097, 4], axes: [0] }, // two passes
      { shape: [3, 1, 4], axes: [1] }, // K = 1
      { shape: [2, 3, 4, 4], axes: [0, 2] }, // two runs: inner 16, then inner 12
    ];
    for (const [k, c] of cases.entries()) {
      const n = c.shape.reduce((p, d) => p * d, 1);
      const data = uniformValues(n, -1, 1, 120 + k);
      if (k === 1) {
        data[5 * 12 + 7] = Number.NaN; // outer 0, column 7: max and min give NaN there only
        data[12 * 37 + 36 * 12 + 2] = Number.NEGATIVE_INFINITY; // outer 1, the short chunk
      }
      await checkKinds(nd(c.shape, data), c.axes, `[${c.shape}] axes ${c.axes}`);
    }
    // 65,537 workgroups of 64 vec4 columns, folded into 2-D (K = 1: two rows would pass the
    // 128 MiB binding limit): small integers, exact.
    const cols = 4 * (64 * 65_536 + 8);
    const flat = new Float32Array(cols).map((_, i) => (i % 7) - 3);
    const colSums = await scope(() => sum(tensor(flat, [1, cols]), [0])).read();
    let wrong = 0;
    for (let j = 0; j < cols; j++) {
      if (colSums[j] !== (j % 7) - 3) wrong++;
    }
    expect(wrong).toBe(0);
  });
  it('rejects bad axes with a message', () => {
    expect(() => sum(tensor([1, 2]), 3)).toThrow(/axis 3 is out of range/);
  });
  it('gradients of sum/mean/max over axes match finite differences', async () => {
    const x = nd([3, 4, 5], uniformValues(60, -1, 1, 9));
    for (const kind of ['sum', 'mean', 'max', 'min'] as const) {
      const op = { sum, mean, max, min }[kind];
      for (const axes of [[1], [0, 2]]) {
        const outN = reduceRef(kind, x, axes).data.length;
        const G = uniformValues(outN, -1, 1, 3);
        const [fd] = numericGrad((xs) => reduceRef(kind, xs[0]!, axes), [x], G);
        const [g] = await gpuGrads((t) => op(t[0]!, axes), [x], G);
        expectClose(g!, fd!, { atol: 1e-5, rtol: 1e-4 }, `${kind} grad axes ${axes}`);
      }
    }
  });
  it('max gradient is shared evenly between ties', async () => {
    const [g] = await gpuGrads((t) => max(t[0]!), [nd([4], [1, 3, 3, 2])], Float64Array.from([1]));
    expect(Array.from(g!)).toEqual([0, 0.5, 0.5, 0]);
  });
});

function varianceRef(x: NDArray, axis: number, correction: number): NDArray {
  const m = reduceRef('mean', x, [axis], true);
  const [outer, k, inner] = [
    x.shape.slice(0, axis).reduce((p, d) => p * d, 1),
    x.shape[axis]!,
    x.shape.slice(axis + 1).reduce((p, d) => p * d, 1),
  ];
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let j = 0; j < k; j++)
        s += (x.data[(o * k + j) * inner + i]! - m.data[o * inner + i]!) ** 2;
      out[o * inner + i] = s / (k - correction);
    }
  return { shape: x.shape.filter((_, d) => d !== axis), data: out };
}

function softmaxRef(x: NDArray): NDArray {
  const w = x.shape[x.shape.length - 1]!;
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / w; r++) {
    const row = x.data.subarray(r * w, (r + 1) * w);
    const m = Math.max(...row);
    const e = Array.from(row, (v) => Math.exp(v - m));
    const s = e.reduce((p, v) => p + v, 0);
    e.forEach((v, j) => {
      out[r * w + j] = v / s;
    });
  }
  return { shape: x.shape, data: out };
}

function logsumexpRef(x: NDArray): NDArray {
  const w = x.shape[x.shape.length - 1]!;
  const out = new Float64Array(x.data.length / w);
  for (let r = 0; r < out.length; r++) {
    const row = x.data.subarray(r * w, (r + 1) * w);
    const m = Math.max(...row);
    out[r] = m + Math.log(row.reduce((p, v) => p + Math.exp(v - m), 0));
  }
  return { shape: x.shape.slice(0, -1), data: out };
}

describe.skipIf(GPU_SKIP_REASON)('composites', () => {
  beforeAll(async () => {
    await testGpu();
  });
  it('variance (unbiased and population) and its gradient', async () => {
    const x = nd([4, 9, 3], uniformValues(108, -2, 2, 5));
    for (const correction of [0, 1]) {
      const y = scope(() => variance(toGpu(x), 1, false, correction));
      expectClose(
        await y.read(),
        f32(varianceRef(x, 1, correction).data),
        { atol: 1e-6, rtol: 1e-5 },
        `var c=${correction}`,
      );
      y.dispose();
    }
    const G = uniformValues(12, -1, 1, 6);
    const [fd] = numericGrad((xs) => varianceRef(xs[0]!, 1, 1), [x], G);
    const [g] = await gpuGrads((t) => variance(t[0]!, 1), [x], G);
    expectClose(g!, fd!, { atol: 1e-5, rtol: 1e-4 }, 'var grad');
  });
  it('softmax and logsumexp on rows with large values, and their gradients', async () => {
    const x = nd([5, 13], uniformValues(65, -30, 30, 11));
    const s = scope(() => softmax(toGpu(x)));
    expectClose(await s.read(), f32(softmaxRef(x).data), { atol: 1e-6, rtol: 1e-5 }, 'softmax');
    const l = scope(() => logsumexp(toGpu(x)));
    expect(l.shape).toEqual([5]);
    expectClose(await l.read(), f32(logsumexpRef(x).data), { atol: 1e-5, rtol: 1e-6 }, 'logsumexp');
    const xs = nd([3, 7], uniformValues(21, -3, 3, 12));
    const G = uniformValues(21, -1, 1, 13);
    const [fd] = numericGrad((a) => softmaxRef(a[0]!), [xs], G);
    const [g] = await gpuGrads((t) => softmax(t[0]!), [xs], G);
    expectClose(g!, fd!, { atol: 1e-5, rtol: 1e-4 }, 'softmax grad');
    const G2 = uniformValues(3, -1, 1, 14);
    const [fd2] = numericGrad((a) => logsumexpRef(a[0]!), [xs], G2);
    const [g2] = await gpuGrads((t) => logsumexp(t[0]!), [xs], G2);
    expectClose(g2!, fd2!, { atol: 1e-5, rtol: 1e-4 }, 'logsumexp grad');
  });
});
