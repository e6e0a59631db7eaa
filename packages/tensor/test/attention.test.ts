/**
 * attention(q, k, v) (fused column softmax, attention_softmax*.wgsl) against the float64
 * reference (EDM's UNetBlock attention) and against the composite of existing ops it replaces
 * (scale k, matmul transA, softmax, matmul transB) on edge shapes; gradients for q, k, v:
 * central differences of the reference, then GPU backward vs those and vs the composite's.
 */
import {
  attention,
  attentionQKV,
  matmul,
  mul,
  reshape,
  scope,
  slice,
  softmax,
  type Tensor,
  tensor,
} from '@pfgmpp/tensor/node';
import { attentionRef, type NDArray, nd } from '@pfgmpp/tensor/reference';
import {
  expectClose,
  GPU_SKIP_REASON,
  gpuGrads,
  numericGrad,
  randomNd,
  testGpu,
  toGpu,
  uniformValues,
} from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';

const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
// Scores are sums of C products of values in [-2, 2] scaled by 1/sqrt(C); softmax weights and
// the output (a convex combination of v) are O(1); f32 rounding over C + Lk terms stays ~1e-6.
const FWD_TOL = { atol: 1e-5, rtol: 1e-4 };
// Finite differences (h = 1e-6) vs f32 backward through softmax and two matmuls.
const GRAD_TOL = { atol: 5e-5, rtol: 1e-3 };

/** The reference composite: EDM's einsums from existing ops (k scaled first, as EDM). */
function composite(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const C = q.shape[1] as number;
  const w = softmax(matmul(q, mul(k, 1 / Math.sqrt(C)), { transA: true }), -1); // [B, Lq, Lk]
  return matmul(v, w, { transB: true }); // [B, C, Lq]
}

/** [B, C, Lq, Lk] */
const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 1], // one token, one channel: w = 1, out = v
  [1, 1, 5, 5], // C = 1
  [2, 4, 1, 1], // L = 1
  [3, 5, 7, 7], // odd C and L, B > 1
  [2, 8, 16, 16], // multiples of 4
  [1, 3, 6, 11], // Lq != Lk
  [2, 64, 33, 33], // a head of 64 channels, L not a multiple of 4
];

function inputs(s: [number, number, number, number], seed: number): [NDArray, NDArray, NDArray] {
  const [B, C, Lq, Lk] = s;
  return [
    randomNd([B, C, Lq], seed, -2, 2),
    randomNd([B, C, Lk], seed + 1, -2, 2),
    randomNd([B, C, Lk], seed + 2, -2, 2),
  ];
}

describe.skipIf(GPU_SKIP_REASON)('attention', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('matches the float64 reference and the composite on edge shapes (vec4 and scalar)', async () => {
    for (const [i, s] of SHAPES.entries()) {
      const [Q, Kx, V] = inputs(s, 10 * i);
      const [y, c] = scope(() => {
        const [q, k, v] = [toGpu(Q), toGpu(Kx), toGpu(V)];
        return [attention(q, k, v), composite(q, k, v)];
      });
      const ref = attentionRef(Q, Kx, V);
      expect(y.shape).toEqual(ref.shape);
      expectClose(await y.read(), f32(ref.data), FWD_TOL, `[${s}]`);
      expectClose(await y.read(), await c.read(), FWD_TOL, `[${s}] vs composite`);
      y.dispose();
      c.dispose();
    }
  });

  it('one key gives out = v for every query; large scores stay finite (max shift)', async () => {
    const [Q, , V] = inputs([2, 3, 5, 1], 70);
    const Kx = randomNd([2, 3, 1], 71, -2, 2);
    const y = await scope(() => attention(toGpu(Q), toGpu(Kx), toGpu(V))).read();
    const v = f32(V.data);
    const want = new Float32Array(30);
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 3; c++)
        want.fill(v[b * 3 + c] as number, (b * 3 + c) * 5, (b * 3 + c + 1) * 5);
    expectClose(y, want, { atol: 1e-6, rtol: 1e-6 }, 'Lk = 1');
    const [Q2, K2, V2] = inputs([1, 4, 6, 6], 80);
    for (const a of [Q2, K2])
      for (let i = 0; i < a.data.length; i++) a.data[i] = (a.data[i] as number) * 30;
    const y2 = await scope(() => attention(toGpu(Q2), toGpu(K2), toGpu(V2))).read();
    expect(y2.every(Number.isFinite)).toBe(true);
    expectClose(y2, f32(attentionRef(Q2, K2, V2).data), { atol: 1e-4, rtol: 1e-3 }, 'scores ~1e3');
  });

  it('gradients for q, k, v match central differences of the reference', async () => {
    const cases: [number, number, number, number][] = [
      [1, 1, 1, 1],
      [2, 3, 5, 5],
      [1, 4, 1, 3],
      [2, 5, 4, 7],
      [2, 3, 8, 4], // Lq a multiple of 4: the vec4 backward entry point
    ];
    for (const [i, s] of cases.entries()) {
      const ins = inputs(s, 200 + 10 * i);
      const [B, C, Lq] = s;
      const G = uniformValues(B * C * Lq, -1, 1, 300 + i);
      const want = numericGrad(([q, k, v]) => attentionRef(q!, k!, v!), ins, G);
      const got = await gpuGrads(([q, k, v]) => attention(q!, k!, v!), ins, G);
      const viaOps = await gpuGrads(([q, k, v]) => composite(q!, k!, v!), ins, G);
      ['dq', 'dk', 'dv'].forEach((name, j) => {
        expectClose(got[j]!, f32(want[j]!), GRAD_TOL, `[${s}] ${name}`);
        expectClose(got[j]!, viaOps[j]!, GRAD_TOL, `[${s}] ${name} vs composite`);
      });
    }
  });

  it('GPU backward agrees with the composite at a UNet-like size (vec4 and scalar columns)', async () => {
    for (const [i, s] of [
      [2, 64, 64, 64],
      [3, 16, 21, 21],
    ].entries()) {
      const ins = inputs(s as [number, number, number, number], 400 + 10 * i);
      const G = uniformValues(s[0]! * s[1]! * s[2]!, -1, 1, 500 + i);
      const got = await gpuGrads(([q, k, v]) => attention(q!, k!, v!), ins, G);
      const viaOps = await gpuGrads(([q, k, v]) => composite(q!, k!, v!), ins, G);
      ['dq', 'dk', 'dv'].forEach((name, j) => {
        expectClose(got[j]!, viaOps[j]!, { atol: 1e-4, rtol: 1e-3 }, `[${s}] ${name}`);
      });
    }
  });

  // attentionQKV: q, k, v read in place from [B, C, 3, L] (C and L multiples of 4), else through
  // slices and attention().
  /** Slot j of qkv [B, C, 3, L] as [B, C, L] (float64). */
  function slot(qkv: NDArray, j: number): NDArray {
    const [B, C, , L] = qkv.shape as [number, number, number, number];
    const out = new Float64Array(B * C * L);
    for (let bc = 0; bc < B * C; bc++) {
      for (let l = 0; l < L; l++) out[bc * L + l] = qkv.data[(bc * 3 + j) * L + l] as number;
    }
    return nd([B, C, L], out);
  }
  const qkvRef = (qkv: NDArray) => attentionRef(slot(qkv, 0), slot(qkv, 1), slot(qkv, 2));
  /** attention() on slices of qkv: the path attentionQKV replaces. */
  function viaSlices(qkv: Tensor): Tensor {
    const [B, C, , L] = qkv.shape as [number, number, number, number];
    const part = (j: number) => reshape(slice(qkv, [0, 0, j, 0], [B, C, 1, L]), [B, C, L]);
    return attention(part(0), part(1), part(2));
  }
  const QKV_SHAPES: [number, number, number][] = [
    [2, 8, 16], // in place
    [1, 4, 4], // in place, one vec4 of channels and of tokens
    [2, 4, 8], // in place, two heads (checked by central differences too)
    [3, 64, 64], // in place, a UNet head
    [2, 5, 7], // through slices (C and L not multiples of 4)
    [1, 8, 6], // through slices (L)
  ];
  it('attentionQKV matches the reference and attention() on the slices, with gradients', async () => {
    for (const [i, [B, C, L]] of QKV_SHAPES.entries()) {
      const X = randomNd([B, C, 3, L], 600 + i, -2, 2);
      const [y, s] = scope(() => {
        const x = toGpu(X);
        return [attentionQKV(x), viaSlices(x)];
      });
      const ref = qkvRef(X);
      expect(y.shape).toEqual(ref.shape);
      expectClose(await y.read(), f32(ref.data), FWD_TOL, `qkv [${B}, ${C}, 3, ${L}]`);
      // The same matmul and softmax arithmetic in the same order: identical results.
      expect(Array.from(await y.read())).toEqual(Array.from(await s.read()));
      y.dispose();
      s.dispose();
      const G = uniformValues(B * C * L, -1, 1, 700 + i);
      const got = await gpuGrads(([x]) => attentionQKV(x!), [X], G);
      const slices = await gpuGrads(([x]) => viaSlices(x!), [X], G);
      if (C * L <= 64) {
        const want = numericGrad(([x]) => qkvRef(x!), [X], G);
        expectClose(got[0]!, f32(want[0]!), GRAD_TOL, `qkv [${B}, ${C}, 3, ${L}] dqkv`);
      }
      expectClose(
        got[0]!,
        slices[0]!,
        { atol: 1e-5, rtol: 1e-4 },
        `[${B}, ${C}, 3, ${L}] vs slices`,
      );
    }
    const t = (...s: number[]) => tensor(new Float32Array(s.reduce((p, d) => p * d, 1)), s);
    expect(() => attentionQKV(t(1, 4, 2, 4))).toThrow(/\[B, C, 3, L\]/);
    expect(() => attentionQKV(t(1, 0, 3, 4))).toThrow(/empty/);
  });

  it('rejects shapes that do not fit, naming them', () => {
    const t = (...s: number[]) => tensor(new Float32Array(s.reduce((p, d) => p * d, 1)), s);
    expect(() => attention(t(2, 3), t(2, 3), t(2, 3))).toThrow(/\[B, C, L\]/);
    expect(() => attention(t(1, 2, 3), t(1, 3, 3), t(1, 2, 3))).toThrow(/same B and C/);
    expect(() => attention(t(1, 2, 3), t(1, 2, 4), t(1, 2, 3))).toThrow(/same length/);
    expect(() => attention(t(1, 2, 0), t(1, 2, 3), t(1, 2, 3))).toThrow(/empty/);
  });
});
