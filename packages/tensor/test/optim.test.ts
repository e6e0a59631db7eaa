/** Fused Adam and EMA updates against their float64 references. */
import { adamStep, emaUpdate, tensor } from '@pfgmpp/tensor/node';
import { adamRef, emaRef } from '@pfgmpp/tensor/reference';
import { expectClose, f32, GPU_SKIP_REASON, testGpu, uniformValues } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';

const r32 = (a: Float64Array) => Float64Array.from(f32(a));

describe.skipIf(GPU_SKIP_REASON)('optimiser kernels', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('adamStep equals the float64 Adam reference (adamRef) over several steps (odd size)', async () => {
    const n = 1001;
    let p: Float64Array = r32(uniformValues(n, -1, 1, 1));
    let m: Float64Array = new Float64Array(n);
    let v: Float64Array = new Float64Array(n);
    const P = tensor(f32(p));
    const M = tensor(new Float32Array(n));
    const V = tensor(new Float32Array(n));
    for (let step = 1; step <= 5; step++) {
      const g = r32(uniformValues(n, -2, 2, 10 + step));
      const G = tensor(f32(g));
      adamStep(P, G, M, V, { lr: 0.01, step });
      const ref = adamRef(p, g, m, v, {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        step,
        sanitize: false,
      });
      ({ param: p, m, v } = ref);
      G.dispose();
    }
    // Five f32 updates of size ~lr: rounding stays near 1e-7 relative.
    expectClose(await P.read(), p, { atol: 1e-6, rtol: 1e-5 }, 'param');
    expectClose(await M.read(), m, { atol: 1e-7, rtol: 1e-5 }, 'm');
    expectClose(await V.read(), v, { atol: 1e-8, rtol: 1e-5 }, 'v');
    for (const t of [P, M, V]) t.dispose();
  });

  it('sanitises NaN and +-inf gradients when asked (NaN -> 0, inf -> 1e5), and propagates them otherwise', async () => {
    const g = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.5];
    const p0 = new Float64Array([0.1, 0.2, 0.3, 0.4]);
    const P = tensor(f32(p0));
    const M = tensor(new Float32Array(4));
    const V = tensor(new Float32Array(4));
    adamStep(P, tensor(g), M, V, { lr: 0.1, step: 1, sanitize: true });
    const ref = adamRef(p0, Float64Array.from(g), new Float64Array(4), new Float64Array(4), {
      lr: 0.1,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      step: 1,
      sanitize: true,
    });
    expectClose(await P.read(), ref.param, { atol: 1e-6, rtol: 1e-5 }, 'sanitised');
    expect(Array.from(await P.read()).every(Number.isFinite)).toBe(true);
    const Q = tensor(f32(p0));
    adamStep(Q, tensor(g), tensor(new Float32Array(4)), tensor(new Float32Array(4)), {
      lr: 0.1,
      step: 1,
    });
    expect(Number.isNaN((await Q.read())[0])).toBe(true);
  });

  it('emaUpdate is param.lerp(ema, beta)', async () => {
    const e = r32(uniformValues(130, -1, 1, 3));
    const p = r32(uniformValues(130, -1, 1, 4));
    const E = tensor(f32(e));
    emaUpdate(E, tensor(f32(p)), 0.999);
    expectClose(await E.read(), emaRef(e, p, 0.999), { atol: 1e-7, rtol: 1e-6 }, 'ema');
  });

  it('rejects mismatched shapes and bad steps', () => {
    const a = tensor([1, 2]);
    expect(() => adamStep(a, tensor([1, 2, 3]), a, a, { lr: 1, step: 1 })).toThrow(/shapes differ/);
    expect(() =>
      adamStep(a, tensor([0, 0]), tensor([0, 0]), tensor([0, 0]), { lr: 1, step: 0 }),
    ).toThrow(/step/);
    expect(() => emaUpdate(a, tensor([1]), 0.5)).toThrow(/shapes differ/);
    expect(() => emaUpdate(a, a.view(), 0.5)).toThrow(/must not share storage/);
  });
});
