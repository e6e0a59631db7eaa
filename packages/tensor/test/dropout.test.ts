/**
 * dropout(x, p, {seed, stream, offset}) (fused dropout.wgsl): the exact mask against
 * dropoutRef (randomRef's Philox stream) and against the composite of rand, comparison, mul
 * and scale it replaces; the drop rate statistically; NaN; p = 0 and p = 1; gradients (the
 * same mask and scale; central differences of the reference, linear in x for a fixed mask).
 */
import {
  affine,
  backward,
  dropout,
  mul,
  rand,
  scope,
  step,
  sum,
  type Tensor,
  tensor,
} from '@pfgmpp/tensor/node';
import { dropoutRef } from '@pfgmpp/tensor/reference';
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
// x * 0/1 is exact; the scale 1/(1-p) is rounded to f32 once, then one f32 product.
const TOL = { atol: 0, rtol: 2e-7 };

/** The composite the fused kernel replaces: keep = step(u - p) = (u > p), x * keep / (1 - p). */
function composite(x: Tensor, p: number, o: { seed: number; stream?: number; offset?: number }) {
  const keep = step(affine(rand(x.shape, o), 1, -p));
  return affine(mul(x, keep), 1 / (1 - p), 0);
}

describe.skipIf(GPU_SKIP_REASON)('dropout', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('the mask and scale equal the reference exactly (odd sizes, streams, offsets)', async () => {
    const cases = [
      { shape: [1], p: 0.5, o: { seed: 0 } },
      { shape: [7], p: 0.1, o: { seed: 123, stream: 5, offset: 3 } },
      { shape: [3, 5, 13], p: 0.3, o: { seed: 2 ** 40 + 17, stream: 100 } },
      { shape: [2, 4, 8, 8], p: 0.9, o: { seed: 9, offset: 1000 } },
    ];
    for (const [i, c] of cases.entries()) {
      const X = randomNd(c.shape, i, -2, 2);
      const y = scope(() => dropout(toGpu(X), c.p, c.o));
      expect(y.shape).toEqual(c.shape);
      const comp = scope(() => composite(toGpu(X), c.p, c.o));
      expectClose(await y.read(), f32(dropoutRef(X, c.p, c.o).data), TOL, JSON.stringify(c));
      expectClose(await y.read(), await comp.read(), TOL, `${JSON.stringify(c)} vs composite`);
      y.dispose();
      comp.dispose();
    }
  });

  it('drops each element with probability p (binomial test) and keeps the mean', async () => {
    const n = 100_003;
    const x = tensor(new Float32Array(n).fill(1), [n]);
    for (const [i, p] of [0.1, 0.5, 0.75].entries()) {
      const y = await scope(() => dropout(x, p, { seed: 42 + i })).read();
      const dropped = y.filter((v) => v === 0).length;
      const kept = y.filter((v) => Math.abs(v - 1 / (1 - p)) < 1e-6).length;
      expect(dropped + kept).toBe(n);
      // Within 5 standard deviations of the binomial count.
      expect(Math.abs(dropped - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    }
    // Another seed, stream or offset gives another mask; the same ones give the same mask.
    const a = await scope(() => dropout(x, 0.5, { seed: 1, stream: 2, offset: 3 })).read();
    const b = await scope(() => dropout(x, 0.5, { seed: 1, stream: 2, offset: 3 })).read();
    const c = await scope(() => dropout(x, 0.5, { seed: 1, stream: 3, offset: 3 })).read();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a.some((v, i) => v !== c[i])).toBe(true);
    x.dispose();
  });

  it('a dropped NaN or Inf gives NaN (x * 0, as torch); a kept one stays', async () => {
    const o = { seed: 5 };
    const X = randomNd([64], 3);
    for (let i = 0; i < 64; i += 3) X.data[i] = i % 2 ? Number.NaN : Number.POSITIVE_INFINITY;
    const y = await scope(() => dropout(toGpu(X), 0.5, o)).read();
    const ref = dropoutRef(X, 0.5, o);
    expectClose(y, f32(ref.data), TOL, 'NaN/Inf');
    expect(Array.from(ref.data).some((v, i) => Number.isNaN(v) && i % 6 === 0)).toBe(true);
  });

  it('p = 0 is the identity (a view, gradient passes through); p = 1 gives zeros', async () => {
    const X = randomNd([3, 5], 7);
    const x = toGpu(X);
    const y = dropout(x, 0, { seed: 1 });
    expect(Array.from(await y.read())).toEqual(Array.from(f32(X.data)));
    const z = scope(() => dropout(x, 1, { seed: 1 }));
    expect(Array.from(await z.read())).toEqual(new Array(15).fill(0));
    for (const t of [x, y, z]) t.dispose();
    const G = uniformValues(15, -1, 1, 8);
    const [g0] = await gpuGrads(([t]) => dropout(t!, 0, { seed: 1 }), [X], G);
    expectClose(g0!, f32(G), { atol: 0, rtol: 0 }, 'p = 0 grad');
    const [g1] = await gpuGrads(([t]) => dropout(t!, 1, { seed: 1 }), [X], G);
    expect(Array.from(g1!).every((v) => v === 0)).toBe(true);
  });

  it('gradients are the same mask and scale (central differences of the reference)', async () => {
    for (const [i, c] of [
      { shape: [2, 3, 5], p: 0.4, o: { seed: 11, stream: 1 } },
      { shape: [16], p: 0.25, o: { seed: 12, offset: 2 } },
    ].entries()) {
      const X = randomNd(c.shape, 20 + i);
      const G = uniformValues(X.data.length, -1, 1, 30 + i);
      const [want] = numericGrad(([x]) => dropoutRef(x!, c.p, c.o), [X], G);
      const [got] = await gpuGrads(([x]) => dropout(x!, c.p, c.o), [X], G);
      expectClose(got!, f32(want!), { atol: 1e-6, rtol: 1e-6 }, JSON.stringify(c));
    }
  });

  it('rejects p outside [0, 1]', () => {
    const x = tensor(new Float32Array(4), [4]);
    expect(() => dropout(x, -0.1, { seed: 1 })).toThrow(/p must be in \[0, 1\]/);
    expect(() => dropout(x, 1.5, { seed: 1 })).toThrow(/p must be in \[0, 1\]/);
    expect(() => dropout(x, Number.NaN, { seed: 1 })).toThrow(/p must be in \[0, 1\]/);
    x.dispose();
  });
});

describe.skipIf(GPU_SKIP_REASON)('dropout options', () => {
  it('backward redraws the forward mask even when the caller advances its options object', async () => {
    await testGpu();
    const o = { seed: 7, offset: 0 };
    const x = tensor(new Float32Array(16).fill(1)).requireGrad();
    const y = dropout(x, 0.5, o);
    o.offset += 4;
    backward(sum(y));
    expect(Array.from(await x.grad!.read())).toEqual(Array.from(await y.read()));
    x.dispose();
    y.dispose();
  });
  it('rejects stream and offset values that would wrap', () => {
    const x = tensor([1, 2, 3, 4]);
    expect(() => dropout(x, 0.5, { seed: 1, stream: -1 })).toThrow(/stream/);
    expect(() => dropout(x, 0.5, { seed: 1, offset: 1.5 })).toThrow(/offset/);
    expect(() => dropout(x, 0.5, { seed: 1, offset: 2 ** 32 })).toThrow(/offset/);
  });
});
