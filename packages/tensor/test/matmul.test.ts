/** Batched matmul against the float64 reference: odd shapes, transposes, broadcasting, gradients. */
import { matmul, scope, tensor } from '@pfgmpp/tensor/node';
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
import { beforeAll, describe, expect, it } from 'vitest';

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
  beforeAll(async () => {
    await testGpu();
  });
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
  it('the kernel without subgroups gives the same results', async () => {
    const gpu = await testGpu();
    gpu.subgroupsAllowed = false;
    try {
      for (const [k, [sa, sb]] of SHAPES.entries()) {
        const A = randomNd(sa, 300 + k);
        const B = randomNd(sb, 400 + k);
        const c = scope(() => matmul(toGpu(A), toGpu(B)));
        expectClose(await c.read(), f32(matmulRef(A, B).data), TOL, `plain [${sa}] @ [${sb}]`);
        c.dispose();
      }
    } finally {
      gpu.subgroupsAllowed = true;
    }
  });
  it('rejects mismatched inner sizes with both shapes', () => {
    expect(() =>
      matmul(tensor(new Float32Array(6), [2, 3]), tensor(new Float32Array(8), [4, 2])),
    ).toThrow(/inner sizes differ/);
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
});
