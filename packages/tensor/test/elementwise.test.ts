/**
 * Generated from the op tables: every unary and binary op against its float64 reference on edge
 * shapes, NaN/Inf propagation, broadcasting in every position, and gradients (finite
 * differences on the CPU reference, then GPU backward vs CPU backward).
 */
import { BINARY, binary, full, tensor, UNARY, unary, where, scope } from '@pfgmpp/tensor/node';
import {
  BINARY_DERIV_REF,
  type BinaryName,
  binaryRef,
  nd,
  UNARY_DERIV_REF,
  type UnaryName,
  unaryRef,
  UNARY_REF,
  whereRef,
} from '@pfgmpp/tensor/reference';
import {
  expectClose,
  GPU_SKIP_REASON,
  gpuGrads,
  numericGrad,
  testGpu,
  uniformValues,
} from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';

const SHAPES: number[][] = [[1], [7], [64], [257], [3, 5, 7], [2, 1, 131]];
const SPECIAL = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0,
  -0,
  1e30,
  -1e30,
  1e-30,
];

describe.skipIf(GPU_SKIP_REASON)('unary ops', () => {
  beforeAll(async () => {
    await testGpu();
  });
  const names = Object.keys(UNARY) as UnaryName[];
  for (const name of names) {
    const row = UNARY[name];
    const [alpha, beta] = row.testParams ?? [0, 0];
    it(`${name} matches its reference on edge shapes`, async () => {
      for (const [k, shape] of SHAPES.entries()) {
        const n = shape.reduce((p, d) => p * d, 1);
        const x = nd(shape, uniformValues(n, row.domain[0], row.domain[1], 100 + k));
        const y = unary(name, tensor(Float32Array.from(x.data), shape), alpha, beta);
        expect(y.shape).toEqual(shape);
        expectClose(
          await y.read(),
          Float32Array.from(unaryRef(name, x, alpha, beta).data),
          row.tol,
          `${name} [${shape}]`,
        );
        y.dispose();
      }
    });
    it(`${name} handles NaN, +-Inf, signed zero and extremes like the reference`, async () => {
      const specials = SPECIAL.filter(
        (v) => !(Math.abs(v) > (row.maxAbsInput ?? Infinity) && Number.isFinite(v)),
      );
      const x = nd([specials.length], specials);
      const y = await scope(() => unary(name, tensor(specials), alpha, beta)).read();
      const ref = unaryRef(name, x, alpha, beta).data;
      // Values that overflow f32 in the reference become +-Inf on the GPU.
      const refF32 = Float32Array.from(ref);
      expectClose(y, refF32, { atol: 1e-6, rtol: 1e-5 }, `${name} specials`);
    });
    if (row.grad) {
      it(`${name} gradient: finite differences on the reference, then GPU vs CPU backward`, async () => {
        const n = 23;
        const x = nd([n], uniformValues(n, row.domain[0], row.domain[1], 7));
        const G = uniformValues(n, -1, 1, 8);
        const deriv = UNARY_DERIV_REF[name] as (x: number, a: number, b: number) => number;
        const cpuBackward = Float64Array.from(
          x.data,
          (v, i) => deriv(v, alpha, beta) * (G[i] as number),
        );
        // Per-element central differences (the op is elementwise), so large values elsewhere do
        // not swamp the difference. Kinks (relu/abs/clamp) are avoided by the random inputs.
        const f = UNARY_REF[name];
        const h = 1e-5;
        const fd = x.data.map(
          (v, i) => ((f(v + h, alpha, beta) - f(v - h, alpha, beta)) / (2 * h)) * G[i]!,
        );
        expectClose(cpuBackward, fd, { atol: 1e-5, rtol: 1e-5 }, `${name} CPU backward vs FD`);
        const [gpu] = await gpuGrads((t) => unary(name, t[0]!, alpha, beta), [x], G);
        expectClose(gpu!, cpuBackward, { atol: 1e-5, rtol: 1e-4 }, `${name} GPU backward`);
      });
    }
  }
  it('every unary op has a reference', () => {
    for (const name of names) expect(typeof UNARY_REF[name]).toBe('function');
  });
});

/** Pairs of shapes covering broadcasting in every position, size 1 and scalars. */
const BROADCAST_PAIRS: [number[], number[]][] = [
  [[1], [1]],
  [[67], [67]],
  [
    [4, 16],
    [4, 16],
  ], // same shape, size a multiple of 4: the vec4 entry point
  [
    [4, 1, 3],
    [1, 5, 1],
  ],
  [[3], [2, 3]],
  [[2, 3], [3]],
  [[2, 3], [1]],
  [[1], [2, 3]],
  [
    [5, 1],
    [1, 4],
  ],
  [[], [3, 2]],
  [
    [2, 1, 3, 1],
    [7, 1, 5],
  ],
  [
    [6, 1, 1, 1, 1, 2],
    [1, 2, 1, 3, 1, 1],
  ],
];

describe.skipIf(GPU_SKIP_REASON)('binary ops', () => {
  beforeAll(async () => {
    await testGpu();
  });
  const names = Object.keys(BINARY) as BinaryName[];
  for (const name of names) {
    const row = BINARY[name];
    it(`${name} matches its reference with broadcasting in every position`, async () => {
      for (const [k, [sa, sb]] of BROADCAST_PAIRS.entries()) {
        const na = sa.reduce((p, d) => p * d, 1);
        const nb = sb.reduce((p, d) => p * d, 1);
        let a = nd(sa, uniformValues(na, row.domainA[0], row.domainA[1], 10 + k));
        let b = nd(sb, uniformValues(nb, row.domainB[0], row.domainB[1], 50 + k));
        if (row.grad === null || name === 'maximum' || name === 'minimum') {
          // Comparisons need ties: round to a coarse grid.
          a = nd(
            sa,
            a.data.map((v) => Math.round(v * 2) / 2),
          );
          b = nd(
            sb,
            b.data.map((v) => Math.round(v * 2) / 2),
          );
        }
        const z = scope(() =>
          binary(
            name,
            tensor(Float32Array.from(a.data), sa),
            tensor(Float32Array.from(b.data), sb),
          ),
        );
        const ref = binaryRef(name, a, b);
        expect(z.shape).toEqual(ref.shape);
        expectClose(
          await z.read(),
          Float32Array.from(ref.data),
          row.tol,
          `${name} [${sa}] vs [${sb}]`,
        );
        z.dispose();
      }
    });
    it(`${name} propagates NaN/Inf like the reference`, async () => {
      const a = [...SPECIAL, 1, 2, -3];
      const b = [...SPECIAL.slice().reverse(), Number.NaN, 0, Number.POSITIVE_INFINITY];
      const z = scope(() => binary(name, tensor(a), tensor(b)));
      const ref = binaryRef(name, nd([a.length], a), nd([b.length], b));
      expectClose(
        await z.read(),
        Float32Array.from(ref.data),
        { atol: 1e-6, rtol: 1e-5 },
        `${name} specials`,
      );
      z.dispose();
    });
    const deriv = BINARY_DERIV_REF[name];
    if (row.grad && deriv) {
      it(`${name} gradient with broadcasting: FD on the reference, then GPU vs CPU backward`, async () => {
        const sa = [3, 1, 4];
        const sb = [5, 1];
        const a = nd(sa, uniformValues(12, row.domainA[0], row.domainA[1], 3));
        const b = nd(sb, uniformValues(5, row.domainB[0], row.domainB[1], 4));
        const G = uniformValues(60, -1, 1, 5);
        const f = (xs: ReturnType<typeof nd>[]) => binaryRef(name, xs[0]!, xs[1]!);
        const [fdA, fdB] = numericGrad(f, [a, b], G, 1e-6);
        // CPU backward: partial derivatives times G, summed over broadcast positions.
        const cpuA = new Float64Array(12);
        const cpuB = new Float64Array(5);
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 5; j++)
            for (let k = 0; k < 4; k++) {
              const [da, db] = deriv(a.data[i * 4 + k]!, b.data[j]!);
              const g = G[(i * 5 + j) * 4 + k]!;
              cpuA[i * 4 + k] = cpuA[i * 4 + k]! + da * g;
              cpuB[j] = cpuB[j]! + db * g;
            }
        expectClose(cpuA, fdA!, { atol: 1e-5, rtol: 1e-5 }, `${name} CPU dA vs FD`);
        expectClose(cpuB, fdB!, { atol: 1e-5, rtol: 1e-5 }, `${name} CPU dB vs FD`);
        const [ga, gb] = await gpuGrads((t) => binary(name, t[0]!, t[1]!), [a, b], G);
        expectClose(ga!, cpuA, { atol: 1e-5, rtol: 1e-4 }, `${name} GPU dA`);
        expectClose(gb!, cpuB, { atol: 1e-5, rtol: 1e-4 }, `${name} GPU dB`);
      });
    }
  }
  it('maximum/minimum split the gradient on ties', async () => {
    const a = nd([3], [1, 2, 3]);
    const b = nd([3], [1, 5, 0]);
    const G = Float64Array.from([1, 1, 1]);
    const [ga, gb] = await gpuGrads((t) => binary('maximum', t[0]!, t[1]!), [a, b], G);
    expect(Array.from(ga!)).toEqual([0.5, 0, 1]);
    expect(Array.from(gb!)).toEqual([0.5, 1, 0]);
  });
  it('rejects shapes that do not broadcast, naming both', () => {
    expect(() => binary('add', full([2, 3], 1), full([4], 1))).toThrow(
      /\[2, 3\] and \[4\] do not broadcast/,
    );
  });
});

describe.skipIf(GPU_SKIP_REASON)('where', () => {
  beforeAll(async () => {
    await testGpu();
  });
  it('selects with broadcasting; NaN condition counts as true', async () => {
    const c = nd([2, 1, 3], [1, 0, Number.NaN, 0, 1, 0]);
    const a = nd([4, 1], [1, 2, 3, 4]);
    const b = nd([3], [-1, -2, -3]);
    const z = scope(() =>
      where(
        tensor(Float32Array.from(c.data), c.shape),
        tensor(Float32Array.from(a.data), a.shape),
        tensor(Float32Array.from(b.data), b.shape),
      ),
    );
    const ref = whereRef(c, a, b);
    expect(z.shape).toEqual(ref.shape);
    expectClose(await z.read(), ref.data, { atol: 0, rtol: 0 }, 'where');
  });
  it('routes gradients to the chosen branch', async () => {
    const c = [1, 0, 1, 0, 0];
    const a = nd([5], [1, 2, 3, 4, 5]);
    const b = nd([1], [7]);
    const G = Float64Array.from([1, 2, 3, 4, 5]);
    const [ga, gb] = await gpuGrads((t) => where(tensor(c), t[0]!, t[1]!), [a, b], G);
    expect(Array.from(ga!)).toEqual([1, 0, 3, 0, 0]);
    expect(Array.from(gb!)).toEqual([2 + 4 + 5]);
  });
});
