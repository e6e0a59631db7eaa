/**
 * Batched matmul against the float64 reference, every row of the matmul table forced in turn:
 * odd shapes, transposes, broadcasting, an inner size of 1000, empty sizes, operands read in
 * place through offsets and strides (as attention reads q, k, v), more than 65,535 workgroups,
 * gradients.
 */
import {
  type Gpu,
  MATMUL_ROWS,
  matmul,
  matmulProblem,
  runMatmul,
  scope,
  Tensor,
  tensor,
} from '@pfgmpp/tensor/node';
import { matmulRef } from '@pfgmpp/tensor/reference';
import {
  expectClose,
  f32,
  GPU_SKIP_REASON,
  gpuGrads,
  numericGrad,
  randomNd,
  testGpu,
  toGpu,
  uniformValues,
} from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// f32 accumulation over K terms of size ~1: error ~ sqrt(K) * 6e-8; 1e-5 covers K up to ~1e4.
const TOL = { atol: 1e-5, rtol: 1e-5 };

const SHAPES: [number[], number[]][] = [
  [
    [1, 1],
    [1, 1],
  ],
  [
    [7, 13],
    [13, 5],
  ],
  [
    [8, 16],
    [16, 8],
  ],
  [
    [33, 1],
    [1, 17],
  ],
  [
    [3, 9, 31],
    [3, 31, 12],
  ],
  [
    [2, 3, 5, 4],
    [4, 6],
  ],
  [
    [4, 6],
    [2, 1, 6, 9],
  ],
  [
    [2, 1, 5, 4],
    [1, 3, 4, 7],
  ],
  [
    [1, 5, 3],
    [4, 3, 2],
  ],
];

describe.skipIf(GPU_SKIP_REASON)('matmul', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => {
    gpu.kernels.restrict(null);
  });
  for (const row of MATMUL_ROWS) {
    describe(`row ${row.name}`, () => {
      beforeAll(() => {
        gpu.kernels.restrict([row.name]);
        gpu.kernels.clearUsed();
      });
      rowSuite(() => gpu, row.name);
    });
  }
  it('rejects mismatched inner sizes with both shapes', () => {
    expect(() =>
      matmul(tensor(new Float32Array(6), [2, 3]), tensor(new Float32Array(8), [4, 2])),
    ).toThrow(/inner sizes differ/);
  });
});

/** The whole suite with one row forced (`gpu()` is set when the suite runs). */
function rowSuite(gpu: () => Gpu, name: string): void {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`matches the reference (transA ${transA}, transB ${transB}) on odd, batched and broadcast shapes`, async () => {
        for (const [k, [sa, sb]] of SHAPES.entries()) {
          // Store operands transposed when asked, so op(a) has the listed shape.
          const A = randomNd(transA ? [...sa.slice(0, -2), sa.at(-1)!, sa.at(-2)!] : sa, k);
          const B = randomNd(transB ? [...sb.slice(0, -2), sb.at(-1)!, sb.at(-2)!] : sb, 100 + k);
          const c = scope(() => matmul(toGpu(A), toGpu(B), { transA, transB }));
          const ref = matmulRef(A, B, transA, transB);
          expect(c.shape).toEqual(ref.shape);
          expectClose(await c.read(), f32(ref.data), TOL, `[${sa}] @ [${sb}]`);
          c.dispose();
        }
      });
    }
  }
  it('handles a large square product (256^3) and an inner size of 1000', async () => {
    const A = randomNd([256, 256], 1);
    const B = randomNd([256, 256], 2);
    const c = scope(() => matmul(toGpu(A), toGpu(B)));
    expectClose(await c.read(), f32(matmulRef(A, B).data), TOL, '256^3');
    const A2 = randomNd([3, 1000], 3);
    const B2 = randomNd([1000, 5], 4);
    const c2 = scope(() => matmul(toGpu(A2), toGpu(B2)));
    expectClose(await c2.read(), f32(matmulRef(A2, B2).data), { atol: 5e-5, rtol: 1e-5 }, 'K=1000');
  });
  it('an empty inner dimension gives zeros; empty outer dimensions give empty results', async () => {
    const z = scope(() => matmul(tensor([], [3, 0]), tensor([], [0, 5])));
    expect(z.shape).toEqual([3, 5]);
    expect(Array.from(await z.read())).toEqual(new Array(15).fill(0));
    const e = scope(() => matmul(tensor([], [0, 4]), tensor(new Float32Array(20), [4, 5])));
    expect(e.shape).toEqual([0, 5]);
    expect((await e.read()).length).toBe(0);
  });
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`gradients (transA ${transA}, transB ${transB}, broadcast batch) match finite differences`, async () => {
        const A = randomNd(transA ? [2, 1, 4, 3] : [2, 1, 3, 4], 5);
        const B = randomNd(transB ? [3, 5, 4] : [3, 4, 5], 6);
        const G = uniformValues(2 * 3 * 3 * 5, -1, 1, 7);
        const [fa, fb] = numericGrad((xs) => matmulRef(xs[0]!, xs[1]!, transA, transB), [A, B], G);
        const [ga, gb] = await gpuGrads((t) => matmul(t[0]!, t[1]!, { transA, transB }), [A, B], G);
        expectClose(ga!, fa!, { atol: 1e-5, rtol: 1e-4 }, 'dA');
        expectClose(gb!, fb!, { atol: 1e-5, rtol: 1e-4 }, 'dB');
      });
    }
  }
  it("reads operands in place through offsets and strides (attention's q, k, v)", async () => {
    // q, k, v interleaved as [B, C, 3, L]: slot j of head b at j*L + c*3L + l.
    const [B, C, L] = [3, 8, 12];
    const QKV = randomNd([B, C, 3, L], 50);
    const qkv = toGpu(QKV);
    const at = (b: number, c: number, j: number, l: number) =>
      QKV.data[((b * C + c) * 3 + j) * L + l] as number;
    const batch = 3 * C * L;
    // sT = k^T q [B, L, L]: A = k^T read in place (column-major), B = q rows (stride 3L).
    const sT = Tensor.empty(qkv.gpu, [B, L, L]);
    runMatmul(
      {
        batch: B,
        M: L,
        N: L,
        K: C,
        a: { t: qkv, off: L, batch, row: 1, col: 3 * L },
        b: { t: qkv, off: 0, batch, row: 3 * L, col: 1 },
      },
      sT,
    );
    const want = new Float64Array(B * L * L);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < L; i++)
        for (let j = 0; j < L; j++) {
          let acc = 0;
          for (let c = 0; c < C; c++) acc += at(b, c, 1, i) * at(b, c, 0, j);
          want[(b * L + i) * L + j] = acc;
        }
    expectClose(await sT.read(), f32(Array.from(want)), TOL, 'k^T q in place');
    const p = { batch: B, M: L, N: L, K: C, a: { t: qkv, off: L, batch, row: 1, col: 3 * L } };
    const key = matmulProblem(
      { ...p, b: { t: qkv, off: 0, batch, row: 3 * L, col: 1 } },
      gpu(),
    ).key;
    expect(gpu().kernels.usedRows()[key]).toBe(name);
    sT.dispose();
    qkv.dispose();
  });
  it('folds more than 65,535 workgroups (70,000 products of 2x3 by 3x5)', async () => {
    const A = randomNd([70_000, 2, 3], 60);
    const B = randomNd([70_000, 3, 5], 61);
    gpu().counters.largestDispatch = 0;
    const c = scope(() => matmul(toGpu(A), toGpu(B)));
    expectClose(await c.read(), f32(matmulRef(A, B).data), TOL, '70,000 batches');
    expect(gpu().counters.largestDispatch).toBeGreaterThan(65_535);
    c.dispose();
  });
  it('ran every product through the forced row', () => {
    const used = new Set(Object.values(gpu().kernels.usedRows()));
    expect(used).toEqual(new Set([name]));
  });
}
