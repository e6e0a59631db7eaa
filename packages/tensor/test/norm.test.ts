/**
 * Fused groupNorm (+ SiLU) against the float64 reference and against the composite of
 * primitive ops it replaces (mean, variance, sub, rsqrt, mul, add, silu), forward and
 * gradients: central differences of the reference on tiny shapes, GPU backward vs those and vs
 * the composite's backward. Edge shapes: size 1, odd/prime H and W (scalar paths), C not a
 * multiple of 4, groups = 1 and groups = C, a large mean (cancellation), chunked statistics,
 * NaN.
 */
import * as T from '@pfgmpp/tensor/node';
import {
  add,
  groupNorm,
  KERNELS,
  mean,
  mul,
  reshape,
  rsqrt,
  scope,
  silu,
  sub,
  type Tensor,
  tensor,
  variance,
} from '@pfgmpp/tensor/node';
import { groupNormCoefRef, groupNormRef, type NDArray } from '@pfgmpp/tensor/reference';
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

const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);
const rand = (shape: number[], seed: number, lo = -2, hi = 2) => randomNd(shape, seed, lo, hi);
// Normalised values are O(1); float32 means and variances over up to 8k values are good to
// a few ulps relative to the spread, and rstd amplifies by at most 1/std (inputs have std ~1).
const FWD_TOL = { atol: 2e-5, rtol: 1e-5 };
// Finite differences (h = 1e-6, error ~1e-8) vs float32 backward over a few hundred terms.
const GRAD_TOL = { atol: 5e-5, rtol: 1e-4 };

interface Case {
  x: number[];
  groups: number;
  silu: boolean;
  /** Added to x (a large mean tests the variance for cancellation). */
  offset?: number;
  eps?: number;
}

const CASES: Case[] = [
  { x: [1, 1, 1, 1], groups: 1, silu: false }, // one value: variance 0, y = bias
  { x: [2, 6, 5, 7], groups: 3, silu: true }, // primes: scalar paths
  { x: [2, 4, 4, 4], groups: 4, silu: true }, // groups = C, vec4 paths
  { x: [1, 5, 3, 3], groups: 1, silu: false }, // C = 5, groups = 1, hw = 9
  { x: [2, 8, 8, 8], groups: 2, silu: true, offset: 100 }, // large mean
  { x: [2, 6, 32, 32], groups: 2, silu: true }, // k = 3072: chunked statistics, merged
  { x: [1, 3, 17, 1], groups: 3, silu: false, eps: 1e-3 }, // prime height, width 1
  { x: [2, 6, 10], groups: 2, silu: true }, // 1-D spatial
  { x: [3, 2], groups: 2, silu: false }, // no spatial axes (k = 1)
];

const label = (c: Case) => `x [${c.x}] groups ${c.groups} silu ${c.silu} offset ${c.offset ?? 0}`;

function inputs(c: Case, seed: number): [NDArray, NDArray, NDArray] {
  const X = rand(c.x, seed);
  if (c.offset)
    for (let i = 0; i < X.data.length; i++)
      X.data[i] = Math.fround((X.data[i] as number) + c.offset);
  const C = c.x[1] as number;
  return [X, rand([C], seed + 1, 0.5, 1.5), rand([C], seed + 2, -0.5, 0.5)];
}

/** The same function from primitive ops (what a model would write without the fused kernel). */
function composite(x: Tensor, w: Tensor, b: Tensor, c: Case): Tensor {
  const [N, C] = c.x as [number, number];
  const k = x.size / (N * c.groups);
  const xg = reshape(x, [N, c.groups, k]);
  const m = mean(xg, 2, true);
  const v = variance(xg, 2, true, 0);
  const xhat = mul(sub(xg, m), rsqrt(add(v, c.eps ?? 1e-5)));
  const bshape = [1, C, ...c.x.slice(2).map(() => 1)];
  const z = add(mul(reshape(xhat, x.shape), reshape(w, bshape)), reshape(b, bshape));
  return c.silu ? silu(z) : z;
}

describe.skipIf(GPU_SKIP_REASON)('groupNorm', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('forward matches the float64 reference and the composite of primitive ops', async () => {
    for (const [i, c] of CASES.entries()) {
      const [X, W, B] = inputs(c, 10 * i);
      const opts = { groups: c.groups, silu: c.silu, eps: c.eps };
      const ref = groupNormRef(X, W, B, opts);
      const [fused, comp] = scope(() => {
        const x = toGpu(X);
        const w = toGpu(W);
        const b = toGpu(B);
        return [groupNorm(x, w, b, opts), composite(x, w, b, c)];
      });
      // With an offset of 100 the inputs are quantised to 2^-17 by float32, which the
      // reference sees too; the spread stays ~1, so the same tolerance holds.
      expectClose(await fused.read(), f32(ref.data), FWD_TOL, `fused ${label(c)}`);
      expectClose(await fused.read(), await comp.read(), FWD_TOL, `fused vs composite ${label(c)}`);
      fused.dispose();
      comp.dispose();
    }
  });

  it('gradients (x, weight, bias) match central differences of the reference and the composite', async () => {
    const gradCases: Case[] = [
      { x: [2, 6, 3, 5], groups: 3, silu: true }, // scalar paths
      { x: [1, 4, 2, 4], groups: 2, silu: false }, // vec4 paths
      { x: [2, 3, 2, 2], groups: 3, silu: true }, // groups = C
      { x: [1, 5, 1, 3], groups: 1, silu: true }, // groups = 1, C = 5
      { x: [1, 1, 1, 1], groups: 1, silu: true }, // one value: dx = 0
    ];
    for (const [i, c] of gradCases.entries()) {
      const ins = inputs(c, 500 + 10 * i);
      const opts = { groups: c.groups, silu: c.silu };
      const G = uniformValues(size(c.x), -1, 1, 600 + i);
      const expected = numericGrad(([x, w, b]) => groupNormRef(x!, w!, b!, opts), ins, G);
      const got = await gpuGrads(([x, w, b]) => groupNorm(x!, w!, b!, opts), ins, G);
      const viaOps = await gpuGrads(([x, w, b]) => composite(x!, w!, b!, c), ins, G);
      ['dx', 'dw', 'db'].forEach((name, k) => {
        expectClose(got[k]!, f32(expected[k]!), GRAD_TOL, `${label(c)} ${name}`);
        expectClose(got[k]!, viaOps[k]!, GRAD_TOL, `${label(c)} ${name} vs composite`);
      });
    }
  });

  it('GPU backward agrees with the composite on a larger chunked shape (vec4 and scalar)', async () => {
    for (const [i, c] of [
      { x: [2, 8, 16, 16], groups: 4, silu: true },
      { x: [2, 6, 9, 11], groups: 2, silu: true },
    ].entries()) {
      const ins = inputs(c, 700 + i);
      const opts = { groups: c.groups, silu: c.silu };
      const G = uniformValues(size(c.x), -1, 1, 800 + i);
      const got = await gpuGrads(([x, w, b]) => groupNorm(x!, w!, b!, opts), ins, G);
      const viaOps = await gpuGrads(([x, w, b]) => composite(x!, w!, b!, c), ins, G);
      // dw and db sum N*H*W terms: scale the absolute tolerance with that count.
      ['dx', 'dw', 'db'].forEach((name, k) => {
        expectClose(got[k]!, viaOps[k]!, { atol: 2e-4, rtol: 1e-4 }, `${label(c)} ${name}`);
      });
    }
  });

  it('the coefficient pass (groupnorm_coef.wgsl) matches its reference: odd sizes, NaN, > 65,535 workgroups', async () => {
    const gpu = await testGpu();
    // Dispatches the kernel as groupNorm's backward does, on given per-plane sums.
    const run = async (
      s1: Float32Array,
      s2: Float32Array,
      w: Float32Array,
      N: number,
      G: number,
      k: number,
    ) => {
      const C = w.length;
      const ab = T.zeros([2 * N * G]);
      const db = T.zeros([C]);
      const dw = T.zeros([C]);
      const ins = [tensor(s1, [N * C]), tensor(s2, [N * C]), tensor(w, [C])];
      const params = { n: N, c: C, g: G, cg: C / G, inv_k: 1 / k };
      gpu.dispatch(
        KERNELS.gnCoef,
        {},
        [...ins.map((t) => t.buffer), ab.buffer, db.buffer, dw.buffer],
        params,
        Math.ceil((N * G + C) / 64),
      );
      const out = { ab: await ab.read(), db: await db.read(), dw: await dw.read() };
      for (const t of [...ins, ab, db, dw]) t.dispose();
      return out;
    };
    const cases = [
      { N: 3, C: 6, G: 3, k: 10 }, // odd sizes
      { N: 1, C: 1, G: 1, k: 1 }, // size 1
      { N: 5, C: 7, G: 7, k: 9 }, // groups = C
      { N: 2, C: 12, G: 1, k: 48 }, // one group
      { N: 1, C: 2_100_000, G: 2_100_000, k: 4 }, // 4.2M invocations: 65,625 workgroups
    ];
    for (const [i, c] of cases.entries()) {
      const s1 = f32(uniformValues(c.N * c.C, -3, 3, 1000 + i));
      const s2 = f32(uniformValues(c.N * c.C, -3, 3, 1100 + i));
      const w = f32(uniformValues(c.C, 0.5, 1.5, 1200 + i));
      if (i === 0) s1[1 * c.C + 2] = Number.NaN; // image 1, channel 2 (group 1)
      const got = await run(s1, s2, w, c.N, c.G, c.k);
      const want = groupNormCoefRef(s1, s2, w, c);
      // Sums of at most max(N, C/G) float32 products of O(1) values.
      const tol = { atol: 1e-5 * Math.max(c.N, c.C / c.G), rtol: 1e-6 };
      expectClose(got.ab, f32(want.ab), tol, `ab ${JSON.stringify(c)}`);
      expectClose(got.db, f32(want.db), tol, `db ${JSON.stringify(c)}`);
      expectClose(got.dw, f32(want.dw), tol, `dw ${JSON.stringify(c)}`);
      if (i === 0) {
        // The NaN reaches its own group row's A (image 1, group 1) and its channel's db only.
        expect(Array.from(got.ab).map(Number.isNaN)).toEqual(Array.from(want.ab).map(Number.isNaN));
        expect(got.ab.filter(Number.isNaN).length).toBe(1);
        expect(got.db.filter(Number.isNaN).length).toBe(1);
        expect(got.dw.some(Number.isNaN)).toBe(false);
      }
    }
  });

  it('a NaN makes exactly its own (image, group) NaN', async () => {
    const c: Case = { x: [2, 4, 3, 4], groups: 2, silu: true };
    const [X, W, B] = inputs(c, 900);
    X.data[(1 * 4 + 2) * 12 + 5] = Number.NaN; // image 1, channel 2 (group 1)
    const y = await scope(() => groupNorm(toGpu(X), toGpu(W), toGpu(B), c)).read();
    const ref = groupNormRef(X, W, B, c);
    expect(y.filter(Number.isNaN).length).toBe(24); // 2 channels x 12 pixels
    expectClose(y, f32(ref.data), FWD_TOL, 'NaN');
  });

  it('rejects shapes and options that do not fit, naming them', () => {
    const x = tensor(new Float32Array(2 * 6 * 4), [2, 6, 2, 2]);
    const v = (n: number) => tensor(new Float32Array(n), [n]);
    expect(() => groupNorm(x, v(6), v(6), { groups: 4 })).toThrow(/groups must divide/);
    expect(() => groupNorm(x, v(5), v(6), { groups: 3 })).toThrow(/weight must be \[6\]/);
    expect(() => groupNorm(x, v(6), v(3), { groups: 3 })).toThrow(/bias must be \[6\]/);
    expect(() => groupNorm(v(6), v(6), v(6), { groups: 3 })).toThrow(/\[N, C, \.\.\.\]/);
    x.dispose();
  });
});
