/**
 * What the convolution suites share: case descriptions, tolerances, and the checks of a
 * forward pass and of the gradients against the float64 references.
 */
import {
  type Conv2dOptions,
  type ConvGeometry,
  type ConvTranspose2dOptions,
  conv2d,
  convGeometry,
  convTranspose2d,
  scope,
} from '@pfgmpp/tensor/node';
import { conv2dRef, convTranspose2dRef, type NDArray } from '@pfgmpp/tensor/reference';
import {
  expectClose,
  f32,
  gpuGrads,
  numericGrad,
  randomNd,
  type Tol,
  toGpu,
  uniformValues,
} from '@pfgmpp/test-utils';
import { expect } from 'vitest';

export const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

/**
 * Each output is a float32 sum of K products of values in [-1, 1] (plus a bias). Every addition
 * rounds by at most 2^-24 times the running sum, and the running sums stay below
 * max(4, sqrt(K)) here (random signs: their spread grows like sqrt(K)/3), so K additions are
 * off by at most K * 2^-24 * max(4, sqrt(K)); rtol covers large outputs.
 */
export function convTol(k: number): Tol {
  return { atol: k * 2 ** -24 * Math.max(4, Math.sqrt(k)) + 1e-7, rtol: 1e-6 };
}
// Finite differences of the float64 reference (h = 1e-6: error ~1e-9) against float32 backward
// passes whose sums run over at most a few hundred products.
export const GRAD_TOL = { atol: 2e-5, rtol: 1e-4 };

export type Two = [number, number];
export interface Case {
  x: number[];
  /** conv2d: [Cout, Cin/groups, kh, kw]; convTranspose2d: [Cin, Cout/groups, kh, kw]. */
  w: number[];
  stride?: number | Two;
  padding?: number | Two;
  outputPadding?: number | Two;
  groups?: number;
  bias?: boolean;
}
export type Kind = 'conv' | 'convT';

export function label(kind: string, c: Case): string {
  return `${kind} x[${c.x}] w[${c.w}] s${c.stride ?? 1} p${c.padding ?? 0} op${c.outputPadding ?? 0} g${c.groups ?? 1}${c.bias ? ' +b' : ''}`;
}

export function opts(c: Case): ConvTranspose2dOptions {
  const o: ConvTranspose2dOptions = {};
  if (c.stride !== undefined) o.stride = c.stride;
  if (c.padding !== undefined) o.padding = c.padding;
  if (c.outputPadding !== undefined) o.outputPadding = c.outputPadding;
  if (c.groups !== undefined) o.groups = c.groups;
  return o;
}

/** Products summed per output: input channels per group times kernel taps. */
export function termsOf(kind: Kind, c: Case): number {
  const [, , kh, kw] = c.w as [number, number, number, number];
  const cg = kind === 'conv' ? (c.w[1] as number) : (c.x[1] as number) / (c.groups ?? 1);
  return cg * kh * kw;
}

const pair = (v: number | Two | undefined, d: number): Two =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;

/**
 * A case's geometry in conv2d's terms (see ops/conv/geometry.ts): a conv2d case's forward is
 * pass y of it, a convTranspose2d case's forward pass dx.
 */
export function geometryOf(kind: Kind, c: Case): ConvGeometry {
  const [N, C, H, W] = c.x as [number, number, number, number];
  const [w0, w1, KH, KW] = c.w as [number, number, number, number];
  const g = c.groups ?? 1;
  const s = pair(c.stride, 1);
  const p = pair(c.padding, 0);
  if (kind === 'conv') return convGeometry(N, C, H, W, w0, KH, KW, s, p, g);
  const op = pair(c.outputPadding, 0);
  const OH = (H - 1) * s[0] - 2 * p[0] + KH + op[0];
  const OW = (W - 1) * s[1] - 2 * p[1] + KW + op[1];
  return convGeometry(N, w1 * g, OH, OW, C, KH, KW, s, p, g);
}

export async function checkForward(kind: Kind, c: Case, seed: number): Promise<void> {
  const X = randomNd(c.x, seed);
  const W = randomNd(c.w, seed + 1);
  const cout = kind === 'conv' ? (c.w[0] as number) : (c.w[1] as number) * (c.groups ?? 1);
  const B = c.bias ? randomNd([cout], seed + 2) : null;
  const o = opts(c);
  const y = scope(() =>
    kind === 'conv'
      ? conv2d(toGpu(X), toGpu(W), B ? toGpu(B) : null, o as Conv2dOptions)
      : convTranspose2d(toGpu(X), toGpu(W), B ? toGpu(B) : null, o),
  );
  const ref = kind === 'conv' ? conv2dRef(X, W, B, o) : convTranspose2dRef(X, W, B, o);
  expect(y.shape).toEqual(ref.shape);
  expectClose(await y.read(), f32(ref.data), convTol(termsOf(kind, c)), label(kind, c));
  y.dispose();
}

/** Gradients of sum(f(x, w, b) * G) on the GPU against central differences of the reference. */
export async function checkGrads(kind: Kind, c: Case, seed: number): Promise<void> {
  const X = randomNd(c.x, seed);
  const W = randomNd(c.w, seed + 1);
  const cout = kind === 'conv' ? (c.w[0] as number) : (c.w[1] as number) * (c.groups ?? 1);
  const inputs = c.bias ? [X, W, randomNd([cout], seed + 2)] : [X, W];
  const o = opts(c);
  const ref = (xs: NDArray[]) =>
    kind === 'conv'
      ? conv2dRef(xs[0]!, xs[1]!, xs[2] ?? null, o)
      : convTranspose2dRef(xs[0]!, xs[1]!, xs[2] ?? null, o);
  const G = uniformValues(size(ref(inputs).shape), -1, 1, seed + 3);
  const expected = numericGrad(ref, inputs, G);
  const got = await gpuGrads(
    (t) =>
      kind === 'conv'
        ? conv2d(t[0]!, t[1]!, t[2] ?? null, o as Conv2dOptions)
        : convTranspose2d(t[0]!, t[1]!, t[2] ?? null, o),
    inputs,
    G,
  );
  ['dx', 'dw', 'db'].slice(0, inputs.length).forEach((name, i) => {
    expectClose(got[i]!, expected[i]!, GRAD_TOL, `${label(kind, c)} ${name}`);
  });
}
