/**
 * Reductions over any set of axes (reduce.wgsl), and the compositions built on them: mean,
 * var, softmax, logsumexp, sumTo (the gradient of broadcasting).
 *
 * A run of adjacent reduced axes is one [outer, K, inner] reduction; separate runs are
 * reduced one after another (last first). Each reduction is planned in passes so that every
 * invocation sums at most a few hundred values: parallel enough for small outputs, accurate
 * for large K.
 */
import { needsGrad, noGrad, record, save } from '../autograd.ts';
import { TensorError } from '../errors.ts';
import { K } from '../kernels.ts';
import { normalizeAxes, reducedShape } from '../reference/reduce.ts';
import { Tensor } from '../tensor.ts';
import { broadcastTo } from './layout.ts';
import { add, div, eq, exp, log, mul, square, sub } from './elementwise.ts';
import { sameShape, shapeStr, workgroupsFor } from './util.ts';

const REDUCE_CODE = { sum: 0, max: 1, min: 2 } as const;
type Kind = keyof typeof REDUCE_CODE;

/** Enough parallel invocations to keep both lavapipe cores and a real GPU busy. */
const TARGET_THREADS = 16384;
const MIN_CHUNK = 32;

/** Reduces the middle axis of x viewed as [outer, k, inner]; returns [outer, inner]. */
function reduceMiddle(
  kind: Kind,
  x: Tensor,
  outer: number,
  k: number,
  inner: number,
  scale: number,
): Tensor {
  const gpu = x.gpu;
  let src = x;
  let kLeft = k;
  for (;;) {
    const slots = outer * inner;
    const chunks =
      kLeft <= MIN_CHUNK
        ? 1
        : Math.min(Math.ceil(kLeft / MIN_CHUNK), Math.ceil(TARGET_THREADS / slots));
    // Along the contiguous axis with whole vec4 chunks, reduce.wgsl's main4 reads vec4; with
    // inner a multiple of 4, mid4 reads four adjacent columns as one vec4.
    const vec4 = inner === 1 && kLeft % 4 === 0;
    const mid4 = inner % 4 === 0;
    const chunkLen = vec4 ? Math.ceil(kLeft / chunks / 4) * 4 : Math.ceil(kLeft / chunks);
    const realChunks = Math.ceil(kLeft / chunkLen);
    const out = Tensor.empty(gpu, [outer, realChunks, inner]);
    const last = realChunks === 1;
    const params = {
      outer,
      k: kLeft,
      inner,
      chunk_len: chunkLen,
      chunks: realChunks,
      scale: last ? scale : 1,
    };
    gpu.dispatch(
      vec4 ? K.reduce4 : mid4 ? K.reduceMid4 : K.reduce,
      { OP: REDUCE_CODE[kind] },
      [src.buffer, out.buffer],
      params,
      workgroupsFor((outer * realChunks * inner) / (mid4 ? 4 : 1)),
    );
    if (src !== x) src.dispose();
    src = out;
    kLeft = realChunks;
    if (last) return out;
  }
}

/** The raw reduction (no autograd), keepDims shape. */
function reduceRaw(kind: Kind, x: Tensor, axes: number[], scale: number): Tensor {
  const keptShape = reducedShape(x.shape, axes, true);
  if (axes.length === 0) {
    return kind === 'sum' && scale !== 1 ? noGrad(() => mul(x, scale)) : x.view(x.shape);
  }
  if (x.size === 0)
    throw new TensorError(`cannot reduce an empty tensor of shape ${shapeStr(x.shape)}`);
  // Group adjacent axes into runs, reduce the runs from the last to the first.
  const runs: [number, number][] = [];
  for (const a of axes) {
    const lastRun = runs[runs.length - 1];
    if (lastRun && lastRun[1] === a) lastRun[1] = a + 1;
    else runs.push([a, a + 1]);
  }
  let cur = x;
  let curShape = [...x.shape];
  for (let r = runs.length - 1; r >= 0; r--) {
    const [lo, hi] = runs[r] as [number, number];
    const outer = curShape.slice(0, lo).reduce((p, d) => p * d, 1);
    const k = curShape.slice(lo, hi).reduce((p, d) => p * d, 1);
    const inner = curShape.slice(hi).reduce((p, d) => p * d, 1);
    const next = reduceMiddle(kind, cur, outer, k, inner, r === 0 ? scale : 1);
    if (cur !== x) cur.dispose();
    cur = next;
    curShape = curShape.map((d, i) => (i >= lo && i < hi ? 1 : d));
  }
  const result = cur.view(keptShape);
  cur.dispose();
  return result;
}

function reduceOp(
  kind: Kind | 'mean',
  x: Tensor,
  axis: number | readonly number[] | undefined,
  keepDims: boolean,
): Tensor {
  let axes: number[];
  try {
    axes = normalizeAxes(axis, x.rank);
  } catch (e) {
    throw new TensorError((e as Error).message);
  }
  const count = axes.reduce((p, a) => p * (x.shape[a] as number), 1);
  const raw = reduceRaw(kind === 'mean' ? 'sum' : kind, x, axes, kind === 'mean' ? 1 / count : 1);
  const outShape = reducedShape(x.shape, axes, keepDims);
  const y = raw.view(outShape);
  raw.dispose();
  if (needsGrad([x])) {
    const keptShape = reducedShape(x.shape, axes, true);
    if (kind === 'sum' || kind === 'mean') {
      record(y, [x], (g) => {
        const gb = broadcastTo(g.view(keptShape), x.shape);
        return [kind === 'mean' ? mul(gb, 1 / count) : gb];
      });
    } else {
      // Ties share the gradient evenly, as PyTorch's amax/amin.
      const xs = save(x);
      const ys = save(y.view(keptShape, false));
      record(
        y,
        [x],
        (g) => {
          const mask = eq(xs, ys);
          const share = div(mask, reduceRaw('sum', mask, axes, 1));
          return [mul(share, g.view(keptShape))];
        },
        [xs, ys],
      );
    }
  }
  return y;
}

export type Axes = number | readonly number[];

/** Sum over `axis` (all axes when omitted). */
export const sum = (x: Tensor, axis?: Axes, keepDims = false) => reduceOp('sum', x, axis, keepDims);
export const mean = (x: Tensor, axis?: Axes, keepDims = false) =>
  reduceOp('mean', x, axis, keepDims);
/** Maximum over `axis`; NaN propagates. */
export const max = (x: Tensor, axis?: Axes, keepDims = false) => reduceOp('max', x, axis, keepDims);
export const min = (x: Tensor, axis?: Axes, keepDims = false) => reduceOp('min', x, axis, keepDims);

/**
 * Variance over `axis` with `correction` subtracted from the count (1: unbiased, PyTorch's
 * default; 0: the population variance GroupNorm uses). Two-pass: mean first, then squares.
 */
export function variance(x: Tensor, axis?: Axes, keepDims = false, correction = 1): Tensor {
  const axes = normalizeAxes(axis, x.rank);
  const count = axes.reduce((p, a) => p * (x.shape[a] as number), 1);
  const centered = sub(x, mean(x, axes, true));
  const ss = sum(square(centered), axes, keepDims);
  return mul(ss, 1 / Math.max(count - correction, 0));
}

/** Sums `g` over the axes along which `shape` was broadcast to g's shape. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  if (lead < 0)
    throw new TensorError(`sumTo: ${shapeStr(g.shape)} cannot reduce to ${shapeStr(shape)}`);
  const axes: number[] = [];
  for (let d = 0; d < g.rank; d++) {
    if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) axes.push(d);
  }
  const s = sum(g, axes, true);
  return s.rank === shape.length ? s : reshapeKeepGrad(s, shape);
}

function reshapeKeepGrad(t: Tensor, shape: readonly number[]): Tensor {
  const v = t.view(shape);
  if (needsGrad([t])) record(v, [t], (g) => [g.view(t.shape)]);
  return v;
}

/** Softmax along `axis`: exp(x - max) / sum(exp(x - max)); the max shift carries no gradient. */
export function softmax(x: Tensor, axis = -1): Tensor {
  const shift = noGrad(() => max(x, axis, true));
  const e = exp(sub(x, shift));
  return div(e, sum(e, axis, true));
}

/** log(sum(exp(x))) along `axis`, computed with the max shift for range safety. */
export function logsumexp(x: Tensor, axis = -1, keepDims = false): Tensor {
  const shift = noGrad(() => max(x, axis, true));
  const s = log(sum(exp(sub(x, shift)), axis, true));
  const out = add(s, shift);
  if (keepDims) return out;
  const ax = normalizeAxes(axis, x.rank);
  return reshapeKeepGrad(out, reducedShape(x.shape, ax, false));
}
