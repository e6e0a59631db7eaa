/**
 * Elementwise ops: unary (unary.wgsl), binary with broadcasting (binary.wgsl), where
 * (where.wgsl). The tables below are the single definition of each op: kernel code, reference,
 * backward rule, test domain and tolerance. Tests and the public functions iterate over them.
 */
import { needsGrad, record, save } from '../autograd.ts';
import { K } from '../kernels.ts';
import type { BinaryName, UnaryName } from '../reference/elementwise.ts';
import { Tensor } from '../tensor.ts';
import { sumTo } from './reduce.ts';
import {
  broadcastShapes,
  broadcastStrides,
  checkRank,
  collapseAxes,
  gpuOf,
  RUN,
  runWorkgroups,
  sameShape,
  stridesOf,
  workgroupsFor,
} from './util.ts';

export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface UnaryRow {
  /** OP constant of unary.wgsl. */
  code: number;
  /** Gradient from the input x, output y and incoming gradient g (null: not differentiable). */
  grad: ((x: Tensor, y: Tensor, g: Tensor, alpha: number, beta: number) => Tensor) | null;
  /** The one tensor `grad` reads, kept alive until backward (omitted: neither). */
  saves?: 'x' | 'y';
  /** Test inputs are drawn uniformly from this interval. */
  domain: readonly [number, number];
  /** alpha/beta used by the generated tests for parametric ops. */
  testParams?: readonly [number, number];
  tol: Tolerance;
  /** Largest |x| with a specified result: WGSL defines sin/cos accuracy only on [-pi, pi]. */
  maxAbsInput?: number;
}

// f32 transcendental functions on GPUs are accurate to a few ulp; 2e-6 relative covers lavapipe
// and SwiftShader with margin while still catching any formula mistake.
const T_EXACT: Tolerance = { atol: 0, rtol: 0 };
const T_ROUND: Tolerance = { atol: 1e-7, rtol: 2e-7 };
const T_TRANS: Tolerance = { atol: 1e-6, rtol: 4e-6 };

export const UNARY: Record<UnaryName, UnaryRow> = {
  neg: { code: 0, grad: (_x, _y, g) => neg(g), domain: [-10, 10], tol: T_EXACT },
  abs: {
    code: 1,
    saves: 'x',
    grad: (x, _y, g) => mul(g, sign(x)),
    domain: [-10, 10],
    tol: T_EXACT,
  },
  exp: { code: 2, saves: 'y', grad: (_x, y, g) => mul(g, y), domain: [-20, 20], tol: T_TRANS },
  log: { code: 3, saves: 'x', grad: (x, _y, g) => div(g, x), domain: [0.01, 100], tol: T_TRANS },
  sqrt: {
    code: 4,
    saves: 'y',
    grad: (_x, y, g) => div(g, affine(y, 2, 0)),
    domain: [0, 100],
    tol: T_TRANS,
  },
  rsqrt: {
    code: 5,
    saves: 'y',
    grad: (_x, y, g) => mul(g, affine(powScalar(y, 3), -0.5, 0)),
    domain: [0.01, 100],
    tol: T_TRANS,
  },
  square: {
    code: 6,
    saves: 'x',
    grad: (x, _y, g) => mul(g, affine(x, 2, 0)),
    domain: [-10, 10],
    tol: T_ROUND,
  },
  reciprocal: {
    code: 7,
    saves: 'y',
    grad: (_x, y, g) => mul(g, neg(square(y))),
    domain: [0.1, 10],
    tol: T_TRANS,
  },
  sin: {
    code: 8,
    saves: 'x',
    grad: (x, _y, g) => mul(g, cos(x)),
    domain: [-6, 6],
    tol: T_TRANS,
    maxAbsInput: 1e4,
  },
  cos: {
    code: 9,
    saves: 'x',
    grad: (x, _y, g) => neg(mul(g, sin(x))),
    domain: [-6, 6],
    tol: T_TRANS,
    maxAbsInput: 1e4,
  },
  tanh: {
    code: 10,
    saves: 'y',
    grad: (_x, y, g) => mul(g, affine(square(y), -1, 1)),
    domain: [-8, 8],
    tol: T_TRANS,
  },
  sigmoid: {
    code: 11,
    saves: 'y',
    grad: (_x, y, g) => mul(g, mul(y, affine(y, -1, 1))),
    domain: [-20, 20],
    tol: T_TRANS,
  },
  silu: {
    code: 12,
    // d/dx x*s(x) = s(x) * (1 + x * (1 - s(x)))
    saves: 'x',
    grad: (x, _y, g) => {
      const s = sigmoid(x);
      return mul(g, mul(s, affine(mul(x, affine(s, -1, 1)), 1, 1)));
    },
    domain: [-20, 20],
    tol: T_TRANS,
  },
  relu: {
    code: 13,
    saves: 'x',
    grad: (x, _y, g) => mul(g, step(x)),
    domain: [-10, 10],
    tol: T_EXACT,
  },
  erf: {
    code: 14,
    saves: 'x',
    grad: (x, _y, g) => mul(g, affine(exp(neg(square(x))), 2 / Math.sqrt(Math.PI), 0)),
    domain: [-4, 4],
    // erf is evaluated with the A&S 7.1.26 approximation (|error| < 1.5e-7) in f32.
    tol: { atol: 4e-7, rtol: 1e-6 },
  },
  affine: {
    code: 15,
    grad: (_x, _y, g, a) => affine(g, a, 0),
    domain: [-10, 10],
    testParams: [-1.5, 0.25],
    tol: T_ROUND,
  },
  powScalar: {
    code: 16,
    saves: 'x',
    grad: (x, _y, g, a) => (a === 0 ? affine(g, 0, 0) : mul(g, affine(powScalar(x, a - 1), a, 0))),
    domain: [0.1, 4],
    testParams: [2.5, 0],
    tol: T_TRANS,
  },
  clamp: {
    code: 17,
    saves: 'x',
    grad: (x, _y, g, lo, hi) => mul(g, mul(step(affine(x, 1, -lo)), step(affine(x, -1, hi)))),
    domain: [-3, 3],
    testParams: [-1, 1.5],
    tol: T_EXACT,
  },
  sign: { code: 18, grad: null, domain: [-3, 3], tol: T_EXACT },
  step: { code: 19, grad: null, domain: [-3, 3], tol: T_EXACT },
  nanToNum: {
    code: 20,
    grad: (_x, _y, g) => g,
    domain: [-3, 3],
    testParams: [0, 1e5],
    tol: T_EXACT,
  },
};

export interface BinaryRow {
  code: number;
  /** Gradients for (a, b) before reduction to their shapes (null: not differentiable). */
  grad: ((a: Tensor, b: Tensor, y: Tensor, g: Tensor) => [Tensor | null, Tensor | null]) | null;
  /** The tensors `grad` reads, kept alive until backward. */
  saves: readonly ('a' | 'b' | 'y')[];
  domainA: readonly [number, number];
  domainB: readonly [number, number];
  tol: Tolerance;
}

/** Gradient split of maximum/minimum: 1 where `a` wins, 0.5 on ties (as PyTorch). */
function winnerMask(a: Tensor, b: Tensor, wins: (a: Tensor, b: Tensor) => Tensor): Tensor {
  return add(wins(a, b), affine(eq(a, b), 0.5, 0));
}

export const BINARY: Record<BinaryName, BinaryRow> = {
  add: {
    code: 0,
    saves: [],
    grad: (_a, _b, _y, g) => [g, g],
    domainA: [-10, 10],
    domainB: [-10, 10],
    tol: T_EXACT,
  },
  sub: {
    code: 1,
    saves: [],
    grad: (_a, _b, _y, g) => [g, neg(g)],
    domainA: [-10, 10],
    domainB: [-10, 10],
    tol: T_EXACT,
  },
  mul: {
    code: 2,
    saves: ['a', 'b'],
    grad: (a, b, _y, g) => [mul(g, b), mul(g, a)],
    domainA: [-10, 10],
    domainB: [-10, 10],
    tol: T_EXACT,
  },
  div: {
    code: 3,
    saves: ['b', 'y'],
    grad: (_a, b, y, g) => {
      const ga = div(g, b);
      return [ga, neg(mul(ga, y))];
    },
    domainA: [-10, 10],
    domainB: [0.5, 10],
    // WGSL allows division at 2.5 ulp.
    tol: { atol: 0, rtol: 4e-7 },
  },
  pow: {
    code: 4,
    saves: ['a', 'b', 'y'],
    grad: (a, b, y, g) => [
      mul(g, mul(b, pow(a, sub(b, full([1], 1, a.gpu))))),
      mul(g, mul(y, log(a))),
    ],
    domainA: [0.1, 4],
    domainB: [-2, 2],
    tol: T_TRANS,
  },
  maximum: {
    code: 5,
    saves: ['a', 'b'],
    grad: (a, b, _y, g) => [mul(g, winnerMask(a, b, gt)), mul(g, winnerMask(b, a, gt))],
    domainA: [-3, 3],
    domainB: [-3, 3],
    tol: T_EXACT,
  },
  minimum: {
    code: 6,
    saves: ['a', 'b'],
    grad: (a, b, _y, g) => [mul(g, winnerMask(a, b, lt)), mul(g, winnerMask(b, a, lt))],
    domainA: [-3, 3],
    domainB: [-3, 3],
    tol: T_EXACT,
  },
  eq: { code: 7, saves: [], grad: null, domainA: [-2, 2], domainB: [-2, 2], tol: T_EXACT },
  ne: { code: 8, saves: [], grad: null, domainA: [-2, 2], domainB: [-2, 2], tol: T_EXACT },
  lt: { code: 9, saves: [], grad: null, domainA: [-2, 2], domainB: [-2, 2], tol: T_EXACT },
  le: { code: 10, saves: [], grad: null, domainA: [-2, 2], domainB: [-2, 2], tol: T_EXACT },
  gt: { code: 11, saves: [], grad: null, domainA: [-2, 2], domainB: [-2, 2], tol: T_EXACT },
  ge: { code: 12, saves: [], grad: null, domainA: [-2, 2], domainB: [-2, 2], tol: T_EXACT },
};

/** y = f(x; alpha, beta) through unary.wgsl. */
export function unary(name: UnaryName, x: Tensor, alpha = 0, beta = 0): Tensor {
  const row = UNARY[name];
  const gpu = gpuOf(x);
  const y = Tensor.empty(gpu, x.shape);
  // Sizes that are multiples of 4 go through the vec4 entry point (a quarter of the accesses).
  const vec4 = x.size % 4 === 0;
  const n = vec4 ? x.size / 4 : x.size;
  const params = { n, alpha, beta };
  gpu.dispatch(
    vec4 ? K.unary4 : K.unary,
    { OP: row.code },
    [x.buffer, y.buffer],
    params,
    workgroupsFor(n),
  );
  const grad = row.grad;
  if (grad && needsGrad([x])) {
    // Only the tensor the rule reads stays alive; the generated gradient tests would fail on a
    // row whose `saves` does not match its rule.
    const xs = row.saves === 'x' ? save(x) : null;
    const ys = row.saves === 'y' ? save(y) : null;
    record(
      y,
      [x],
      (g) => [grad(xs as Tensor, ys as Tensor, g, alpha, beta)],
      [xs, ys].filter((t) => t !== null),
    );
  }
  return y;
}

export const neg = (x: Tensor) => unary('neg', x);
export const abs = (x: Tensor) => unary('abs', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const square = (x: Tensor) => unary('square', x);
export const reciprocal = (x: Tensor) => unary('reciprocal', x);
export const sin = (x: Tensor) => unary('sin', x);
export const cos = (x: Tensor) => unary('cos', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const silu = (x: Tensor) => unary('silu', x);
export const relu = (x: Tensor) => unary('relu', x);
export const erf = (x: Tensor) => unary('erf', x);
/** alpha * x + beta. */
export const affine = (x: Tensor, alpha: number, beta: number) => unary('affine', x, alpha, beta);
export const powScalar = (x: Tensor, exponent: number) => unary('powScalar', x, exponent);
export const clamp = (x: Tensor, lo: number, hi: number) => unary('clamp', x, lo, hi);
export const sign = (x: Tensor) => unary('sign', x);
/** 1 where x > 0, else 0 (Heaviside; NaN gives 0). */
export const step = (x: Tensor) => unary('step', x);
/** NaN -> nan, +-inf -> +-inf (defaults 0 and 1e5: the gradient sanitising of EDM). */
export const nanToNum = (x: Tensor, nan = 0, inf = 1e5) => unary('nanToNum', x, nan, inf);

/** z = f(a, b) with broadcasting through binary.wgsl. */
export function binary(name: BinaryName, a: Tensor, b: Tensor): Tensor {
  const row = BINARY[name];
  const gpu = gpuOf(a, b);
  const shape = broadcastShapes(a.shape, b.shape);
  const z = Tensor.empty(gpu, shape);
  const n = z.size;
  const direct = sameShape(a.shape, shape) && sameShape(b.shape, shape);
  if (direct) {
    const vec4 = n % 4 === 0;
    const count = vec4 ? n / 4 : n;
    const params = { n: count, rank: 0, shape: [], a_strides: [], b_strides: [] };
    gpu.dispatch(
      vec4 ? K.binary4 : K.binary,
      { OP: row.code, BROADCAST: 0, CH: RUN },
      [a.buffer, b.buffer, z.buffer],
      params,
      workgroupsFor(count),
    );
  } else if (n > 0) {
    const c = collapseAxes(shape, [
      broadcastStrides(a.shape, shape),
      broadcastStrides(b.shape, shape),
      stridesOf(shape),
    ]);
    const params = {
      n,
      rank: checkRank(c.shape),
      shape: c.shape,
      a_strides: c.strides[0] as number[],
      b_strides: c.strides[1] as number[],
    };
    gpu.dispatch(
      K.binary,
      { OP: row.code, BROADCAST: 1, CH: RUN },
      [a.buffer, b.buffer, z.buffer],
      params,
      runWorkgroups(c.shape),
    );
  }
  const grad = row.grad;
  if (grad && needsGrad([a, b])) {
    const as = row.saves.includes('a') ? save(a) : null;
    const bs = row.saves.includes('b') ? save(b) : null;
    const zs = row.saves.includes('y') ? save(z) : null;
    const [shapeA, shapeB] = [a.shape, b.shape];
    record(
      z,
      [a, b],
      (g) => {
        const [ga, gb] = grad(as as Tensor, bs as Tensor, zs as Tensor, g);
        return [ga && sumTo(ga, shapeA), gb && sumTo(gb, shapeB)];
      },
      [as, bs, zs].filter((t) => t !== null),
    );
  }
  return z;
}

type Operand = Tensor | number;

function operands(a: Operand, b: Operand): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number')
    throw new TypeError('one operand must be a tensor');
  const ref = (typeof a === 'number' ? b : a) as Tensor;
  return [
    typeof a === 'number' ? full([1], a, ref.gpu) : a,
    typeof b === 'number' ? full([1], b, ref.gpu) : b,
  ];
}

/** a + b; a number operand uses the scalar kernel (no upload). */
export function add(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number' && typeof a !== 'number') return affine(a, 1, b);
  if (typeof a === 'number' && typeof b !== 'number') return affine(b, 1, a);
  return binary('add', ...operands(a, b));
}
export function sub(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number' && typeof a !== 'number') return affine(a, 1, -b);
  if (typeof a === 'number' && typeof b !== 'number') return affine(b, -1, a);
  return binary('sub', ...operands(a, b));
}
export function mul(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number' && typeof a !== 'number') return affine(a, b, 0);
  if (typeof a === 'number' && typeof b !== 'number') return affine(b, a, 0);
  return binary('mul', ...operands(a, b));
}
export function div(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number' && typeof a !== 'number') return affine(a, 1 / b, 0);
  return binary('div', ...operands(a, b));
}
export function pow(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number' && typeof a !== 'number') return powScalar(a, b);
  return binary('pow', ...operands(a, b));
}
export const maximum = (a: Operand, b: Operand) => binary('maximum', ...operands(a, b));
export const minimum = (a: Operand, b: Operand) => binary('minimum', ...operands(a, b));
export const eq = (a: Operand, b: Operand) => binary('eq', ...operands(a, b));
export const ne = (a: Operand, b: Operand) => binary('ne', ...operands(a, b));
export const lt = (a: Operand, b: Operand) => binary('lt', ...operands(a, b));
export const le = (a: Operand, b: Operand) => binary('le', ...operands(a, b));
export const gt = (a: Operand, b: Operand) => binary('gt', ...operands(a, b));
export const ge = (a: Operand, b: Operand) => binary('ge', ...operands(a, b));

/** cond != 0 ? a : b, all three broadcast together. Gradients flow to a and b. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const gpu = gpuOf(cond);
  const ta = typeof a === 'number' ? full([1], a, gpu) : a;
  const tb = typeof b === 'number' ? full([1], b, gpu) : b;
  const shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape), tb.shape);
  const z = Tensor.empty(gpu, shape);
  if (z.size > 0) {
    const c = collapseAxes(shape, [
      broadcastStrides(cond.shape, shape),
      broadcastStrides(ta.shape, shape),
      broadcastStrides(tb.shape, shape),
      stridesOf(shape),
    ]);
    const params = {
      n: z.size,
      rank: checkRank(c.shape),
      shape: c.shape,
      c_strides: c.strides[0] as number[],
      a_strides: c.strides[1] as number[],
      b_strides: c.strides[2] as number[],
    };
    gpu.dispatch(
      K.where,
      { CH: RUN },
      [cond.buffer, ta.buffer, tb.buffer, z.buffer],
      params,
      runWorkgroups(c.shape),
    );
  }
  if (needsGrad([ta, tb])) {
    const cs = save(cond);
    const [sa, sb] = [ta.shape, tb.shape];
    record(
      z,
      [cond, ta, tb],
      (g) => [null, sumTo(where(cs, g, 0), sa), sumTo(where(cs, 0, g), sb)],
      [cs],
    );
  }
  return z;
}

/** A tensor of `shape` filled with `value` (fill.wgsl). */
export function full(shape: readonly number[], value: number, gpu = gpuOf()): Tensor {
  const t = Tensor.empty(gpu, shape);
  const vec4 = t.size % 4 === 0;
  const n = vec4 ? t.size / 4 : t.size;
  gpu.dispatch(vec4 ? K.fill4 : K.fill, {}, [t.buffer], { n, value }, workgroupsFor(n));
  return t;
}
