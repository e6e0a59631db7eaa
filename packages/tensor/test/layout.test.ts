/** Data movement ops against their references, with gradients. */
import {
  broadcastTo,
  concat,
  gather,
  pad,
  permute,
  reshape,
  scope,
  slice,
  tensor,
  transpose,
} from '@pfgmpp/tensor/node';
import {
  broadcastToRef,
  concatRef,
  gatherRowsRef,
  type NDArray,
  nd,
  padRef,
  permuteRef,
  scatterAddRowsRef,
  sliceRef,
} from '@pfgmpp/tensor/reference';
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

const EXACT = { atol: 0, rtol: 0 };
const GTOL = { atol: 1e-6, rtol: 1e-5 };

describe.skipIf(GPU_SKIP_REASON)('layout ops', () => {
  beforeAll(async () => {
    await testGpu();
  });
  it('permute and transpose', async () => {
    const x = randomNd([2, 3, 5, 7], 1);
    for (const perm of [
      [0, 1, 2, 3],
      [3, 2, 1, 0],
      [1, 3, 0, 2],
      [0, 2, 1, 3],
    ]) {
      const y = scope(() => permute(toGpu(x), perm));
      const ref = permuteRef(x, perm);
      expect(y.shape).toEqual(ref.shape);
      expectClose(await y.read(), f32(ref.data), EXACT, `perm ${perm}`);
    }
    const wide = randomNd([33, 45], 12);
    const wt = scope(() => transpose(toGpu(wide)));
    expectClose(await wt.read(), f32(permuteRef(wide, [1, 0]).data), EXACT, 'transpose 33x45');
    const t = scope(() => transpose(toGpu(x)));
    expectClose(await t.read(), f32(permuteRef(x, [0, 1, 3, 2]).data), EXACT, 'transpose');
    expect(() => permute(toGpu(x), [0, 0, 1, 2])).toThrow(/not a permutation/);
  });
  it('reshape is a view and checks sizes', async () => {
    const x = toGpu(randomNd([6, 4], 2));
    const y = reshape(x, [2, -1, 3]);
    expect(y.shape).toEqual([2, 4, 3]);
    expect(y.buffer).toBe(x.buffer);
    expect(() => reshape(x, [5, 5])).toThrow(/cannot view/);
    x.dispose();
    expect((await y.read()).length).toBe(24); // the view keeps the storage alive
    y.dispose();
  });
  it('slice, concat, pad, broadcastTo', async () => {
    const x = randomNd([4, 5, 6], 3);
    const s = scope(() => slice(toGpu(x), [1, 0, 2], [2, -1, 3]));
    expectClose(await s.read(), f32(sliceRef(x, [1, 0, 2], [2, 5, 3]).data), EXACT, 'slice');
    expect(() => slice(toGpu(x), [3, 0, 0], [2, 1, 1])).toThrow(/outside/);
    const parts = [randomNd([4, 2, 6], 4), randomNd([4, 1, 6], 5), randomNd([4, 3, 6], 6)];
    const c = scope(() => concat(parts.map(toGpu), 1));
    expectClose(await c.read(), f32(concatRef(parts, 1).data), EXACT, 'concat');
    const pads = [
      [1, 0],
      [0, 2],
      [3, 1],
    ] as const;
    const p = scope(() => pad(toGpu(x), pads, -2));
    expectClose(await p.read(), f32(padRef(x, pads, -2).data), EXACT, 'pad');
    const b = randomNd([3, 1, 5], 7);
    const bt = scope(() => broadcastTo(toGpu(b), [2, 3, 4, 5]));
    expectClose(await bt.read(), f32(broadcastToRef(b, [2, 3, 4, 5]).data), EXACT, 'broadcastTo');
    expect(() => broadcastTo(toGpu(b), [2, 2, 5])).toThrow(/broadcast/);
  });
  it('copies of whole vec4 (copy.wgsl:main4): concat, slice, broadcast, > 65,535 workgroups; unaligned ones stay scalar', async () => {
    const parts = [
      randomNd([2, 3, 4, 8], 20),
      randomNd([2, 1, 4, 8], 21),
      randomNd([2, 2, 4, 8], 22),
    ];
    const c = scope(() => concat(parts.map(toGpu), 1));
    expectClose(await c.read(), f32(concatRef(parts, 1).data), EXACT, 'concat (vec4)');
    const x = randomNd([3, 4, 5, 40], 23);
    for (const [start, size] of [
      [
        [1, 1, 0, 4],
        [2, 2, 5, 36],
      ], // offset 1*800 + 200 + 4: whole vec4, runs of 9 vec4
      [
        [0, 1, 2, 2],
        [3, 3, 2, 8],
      ], // offset 2: scalar
      [
        [0, 0, 0, 0],
        [3, 4, 5, 6],
      ], // rows of 6: scalar
    ] as const) {
      const s = scope(() => slice(toGpu(x), start, size));
      expectClose(await s.read(), f32(sliceRef(x, start, size).data), EXACT, `slice ${start}`);
    }
    const b = randomNd([3, 1, 8], 24);
    const bt = scope(() => broadcastTo(toGpu(b), [2, 3, 4, 8]));
    expectClose(await bt.read(), f32(broadcastToRef(b, [2, 3, 4, 8]).data), EXACT, 'broadcast');
    // [2, R, 4] -> [R, 2, 4]: 2R rows of one vec4, 2R / 64 > 65,535 workgroups, folded into 2-D.
    const R = 2_097_200;
    const big = new Float32Array(2 * R * 4).map((_, i) => (i % 13) - 6);
    const moved = await scope(() => permute(tensor(big, [2, R, 4]), [1, 0, 2])).read();
    let wrong = 0;
    for (let r = 0; r < R; r++) {
      for (let h = 0; h < 2; h++) {
        for (let k = 0; k < 4; k++) {
          if (moved[(r * 2 + h) * 4 + k] !== big[(h * R + r) * 4 + k]) wrong++;
        }
      }
    }
    expect(wrong).toBe(0);
  });
  it('gather picks rows; out-of-range indices give NaN rows; the gradient sums repeats', async () => {
    const table = randomNd([6, 5], 8);
    const idx = [5, 0, 2, 2, 7, -1, 1.5];
    const y = scope(() => gather(toGpu(table), tensor(idx)));
    expect(y.shape).toEqual([7, 5]);
    expectClose(await y.read(), f32(gatherRowsRef(table, idx).data), EXACT, 'gather');
    const good = [5, 0, 2, 2];
    const G = uniformValues(20, -1, 1, 9);
    const [g] = await gpuGrads((t) => gather(t[0]!, tensor(good)), [table], G);
    expectClose(g!, f32(scatterAddRowsRef(nd([4, 5], G), good, 6).data), GTOL, 'gather grad');
  });
  it('gradients of permute, slice, concat, pad and broadcastTo match finite differences', async () => {
    const x = randomNd([2, 3, 4], 10);
    const cases: [
      string,
      (t: import('@pfgmpp/tensor').Tensor) => import('@pfgmpp/tensor').Tensor,
      (a: NDArray) => NDArray,
    ][] = [
      ['permute', (t) => permute(t, [2, 0, 1]), (a) => permuteRef(a, [2, 0, 1])],
      ['slice', (t) => slice(t, [0, 1, 1], [2, 2, 2]), (a) => sliceRef(a, [0, 1, 1], [2, 2, 2])],
      [
        'pad',
        (t) =>
          pad(t, [
            [0, 1],
            [2, 0],
            [1, 1],
          ]),
        (a) =>
          padRef(a, [
            [0, 1],
            [2, 0],
            [1, 1],
          ]),
      ],
      ['broadcastTo', (t) => broadcastTo(t, [3, 2, 3, 4]), (a) => broadcastToRef(a, [3, 2, 3, 4])],
      ['concat', (t) => concat([t, t], 2), (a) => concatRef([a, a], 2)],
    ];
    for (const [name, f, ref] of cases) {
      const G = uniformValues(ref(x).data.length, -1, 1, 11);
      const [fd] = numericGrad((xs) => ref(xs[0]!), [x], G);
      const [g] = await gpuGrads((t) => f(t[0]!), [x], G);
      expectClose(g!, fd!, GTOL, `${name} grad`);
    }
  });
});
