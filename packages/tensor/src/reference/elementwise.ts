/**
 * CPU references for the elementwise kernels, in float64. Readable first: these are what the
 * WGSL kernels are tested against. Semantics follow PyTorch (NaN propagates; relu(NaN) = NaN;
 * maximum/minimum propagate NaN; comparisons with NaN are false except `ne`).
 */
import { broadcastShapes, type NDArray, stridesOf } from './ndarray.ts';

export type UnaryName =
  | 'neg'
  | 'abs'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'square'
  | 'reciprocal'
  | 'sin'
  | 'cos'
  | 'tanh'
  | 'sigmoid'
  | 'silu'
  | 'relu'
  | 'erf'
  | 'affine'
  | 'powScalar'
  | 'clamp'
  | 'sign'
  | 'step'
  | 'nanToNum';

export type BinaryName =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'eq'
  | 'ne'
  | 'lt'
  | 'le'
  | 'gt'
  | 'ge';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** erf to double precision (Abramowitz & Stegun 7.1.26 is not enough for a reference). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  if (!Number.isFinite(x)) return Math.sign(x);
  // Taylor series near 0, continued fraction of erfc beyond.
  const a = Math.abs(x);
  if (a < 2.5) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 80; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return (Math.sign(x) * 2 * sum) / Math.sqrt(Math.PI);
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (a + f);
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
  return Math.sign(x) * (1 - erfc);
}

/** y = f(x; alpha, beta) for each unary op. */
export const UNARY_REF: Record<UnaryName, (x: number, alpha: number, beta: number) => number> = {
  neg: (x) => -x,
  abs: (x) => Math.abs(x),
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  rsqrt: (x) => 1 / Math.sqrt(x),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  sin: (x) => Math.sin(x),
  cos: (x) => Math.cos(x),
  tanh: (x) => Math.tanh(x),
  sigmoid,
  silu: (x) => x * sigmoid(x),
  relu: (x) => (x < 0 ? 0 : x),
  erf,
  affine: (x, a, b) => a * x + b,
  powScalar: (x, a) => Math.pow(x, a),
  clamp: (x, lo, hi) => (Number.isNaN(x) ? x : Math.min(Math.max(x, lo), hi)),
  sign: (x) => (Number.isNaN(x) ? x : Math.sign(x)),
  step: (x) => (x > 0 ? 1 : 0),
  nanToNum: (x, nan, inf) =>
    Number.isNaN(x) ? nan : x === Infinity ? inf : x === -Infinity ? -inf : x,
};

/** dy/dx for the differentiable unary ops (null: no gradient flows). */
export const UNARY_DERIV_REF: Record<
  UnaryName,
  ((x: number, a: number, b: number) => number) | null
> = {
  neg: () => -1,
  abs: (x) => Math.sign(x),
  exp: (x) => Math.exp(x),
  log: (x) => 1 / x,
  sqrt: (x) => 0.5 / Math.sqrt(x),
  rsqrt: (x) => -0.5 * x ** -1.5,
  square: (x) => 2 * x,
  reciprocal: (x) => -1 / (x * x),
  sin: (x) => Math.cos(x),
  cos: (x) => -Math.sin(x),
  tanh: (x) => 1 - Math.tanh(x) ** 2,
  sigmoid: (x) => sigmoid(x) * (1 - sigmoid(x)),
  silu: (x) => sigmoid(x) * (1 + x * (1 - sigmoid(x))),
  relu: (x) => (x > 0 ? 1 : 0),
  erf: (x) => (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x),
  affine: (_x, a) => a,
  powScalar: (x, a) => (a === 0 ? 0 : a * Math.pow(x, a - 1)),
  clamp: (x, lo, hi) => (x >= lo && x <= hi ? 1 : 0),
  sign: null,
  step: null,
  nanToNum: () => 1,
};

export const BINARY_REF: Record<BinaryName, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => Math.pow(a, b),
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  minimum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
};

/** Partial derivatives (d/da, d/db) of the differentiable binary ops. Ties split evenly. */
export const BINARY_DERIV_REF: Partial<
  Record<BinaryName, (a: number, b: number) => [number, number]>
> = {
  add: () => [1, 1],
  sub: () => [1, -1],
  mul: (a, b) => [b, a],
  div: (a, b) => [1 / b, -a / (b * b)],
  pow: (a, b) => [b * Math.pow(a, b - 1), Math.pow(a, b) * Math.log(a)],
  maximum: (a, b) => (a > b ? [1, 0] : a < b ? [0, 1] : [0.5, 0.5]),
  minimum: (a, b) => (a < b ? [1, 0] : a > b ? [0, 1] : [0.5, 0.5]),
};

export function unaryRef(name: UnaryName, x: NDArray, alpha = 0, beta = 0): NDArray {
  const f = UNARY_REF[name];
  return { shape: x.shape, data: Float64Array.from(x.data, (v) => f(v, alpha, beta)) };
}

/** Index of `out`'s element i in an operand of `shape` broadcast to `outShape`. */
function broadcastIndexer(shape: readonly number[], outShape: readonly number[]) {
  const rank = outShape.length;
  const padded = [...Array(rank - shape.length).fill(1), ...shape];
  const strides = stridesOf(padded).map((s, d) => (padded[d] === 1 ? 0 : s));
  const outStrides = stridesOf(outShape);
  return (i: number) => {
    let idx = 0;
    for (let d = 0; d < rank; d++) {
      const coord = Math.floor(i / (outStrides[d] as number)) % (outShape[d] as number);
      idx += coord * (strides[d] as number);
    }
    return idx;
  };
}

export function binaryRef(name: BinaryName, a: NDArray, b: NDArray): NDArray {
  const shape = broadcastShapes(a.shape, b.shape);
  const ia = broadcastIndexer(a.shape, shape);
  const ib = broadcastIndexer(b.shape, shape);
  const f = BINARY_REF[name];
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = f(a.data[ia(i)] as number, b.data[ib(i)] as number);
  return { shape, data };
}

export function whereRef(cond: NDArray, a: NDArray, b: NDArray): NDArray {
  const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape), b.shape);
  const ic = broadcastIndexer(cond.shape, shape);
  const ia = broadcastIndexer(a.shape, shape);
  const ib = broadcastIndexer(b.shape, shape);
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    data[i] =
      (cond.data[ic(i)] as number) !== 0 ? (a.data[ia(i)] as number) : (b.data[ib(i)] as number);
  }
  return { shape, data };
}

/** Sums `g` (shape `from`) down to `to` along broadcast axes: the gradient of broadcasting. */
export function sumToRef(g: NDArray, to: readonly number[]): NDArray {
  const ig = broadcastIndexer(to, g.shape);
  const n = to.reduce((p, d) => p * d, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < g.data.length; i++) {
    const o = ig(i);
    data[o] = (data[o] as number) + (g.data[i] as number);
  }
  return { shape: [...to], data };
}
