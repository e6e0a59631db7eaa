/**
 * Data movement: reshape (a view), permute/transpose, slice, concat, pad, broadcastTo (all one
 * strided-copy kernel, copy.wgsl), and gather of embedding rows (gather.wgsl).
 */
import { needsGrad, record, save } from '../autograd.ts';
import { TensorError } from '../errors.ts';
import { K } from '../kernels.ts';
import { Tensor } from '../tensor.ts';
import { full } from './elementwise.ts';
import { sumTo } from './reduce.ts';
import {
  broadcastShapes,
  broadcastStrides,
  collapseAxes,
  gpuOf,
  MAX_RANK,
  RUN,
  runWorkgroups,
  sameShape,
  shapeStr,
  stridesOf,
  workgroupsFor,
} from './util.ts';

/**
 * dst[dstOffset + idx . dstStrides] = src[srcOffset + idx . srcStrides] for idx in `box`.
 * Offsets and strides in elements. The primitive behind every op in this file.
 */
export function stridedCopy(
  src: Tensor,
  dst: Tensor,
  box: readonly number[],
  srcStrides: readonly number[],
  dstStrides: readonly number[],
  srcOffset = 0,
  dstOffset = 0,
): void {
  const n = box.reduce((p, d) => p * d, 1);
  if (n === 0) return;
  if (box.length > MAX_RANK) throw new TensorError(`rank ${box.length} exceeds ${MAX_RANK}`);
  const c = collapseAxes(box, [srcStrides, dstStrides]);
  const last = c.shape.length - 1;
  // vec4 elements (copy.wgsl:main4) where the innermost axis is contiguous on both sides and
  // every offset, stride and the innermost size are whole vec4.
  const vec4 =
    c.strides.every((s) => s[last] === 1 && s.every((v, d) => d === last || v % 4 === 0)) &&
    (c.shape[last] as number) % 4 === 0 &&
    srcOffset % 4 === 0 &&
    dstOffset % 4 === 0;
  const q = vec4 ? 4 : 1;
  const shape = c.shape.map((d, i) => (i === last ? d / q : d));
  const strides = c.strides.map((s) => s.map((v, i) => (i === last ? v : v / q)));
  const params = {
    n: n / q,
    rank: shape.length,
    src_offset: srcOffset / q,
    dst_offset: dstOffset / q,
    shape,
    src_strides: strides[0] as number[],
    dst_strides: strides[1] as number[],
  };
  src.gpu.dispatch(
    vec4 ? K.copy4 : K.copy,
    { CH: RUN },
    [src.buffer, dst.buffer],
    params,
    runWorkgroups(shape),
  );
}

/** Same data, new shape (one size may be -1). A view: no copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  const holes = shape.filter((d) => d === -1).length;
  if (holes > 1) throw new TensorError(`reshape: more than one -1 in ${shapeStr(shape)}`);
  const resolved = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (
    resolved.reduce((p, d) => p * d, 1) !== x.size ||
    resolved.some((d) => !Number.isInteger(d))
  ) {
    throw new TensorError(
      `reshape: cannot view ${shapeStr(x.shape)} (${x.size} elements) as ${shapeStr(shape)}`,
    );
  }
  const y = x.view(resolved);
  if (needsGrad([x])) {
    const inShape = x.shape;
    record(y, [x], (g) => [g.view(inShape)]);
  }
  return y;
}

/** Axes reordered: output axis d is input axis perm[d]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new TensorError(`permute: [${perm.join(', ')}] is not a permutation of ${x.rank} axes`);
  }
  const shape = perm.map((p) => x.shape[p] as number);
  const y = Tensor.empty(x.gpu, shape);
  const inStrides = stridesOf(x.shape);
  stridedCopy(
    x,
    y,
    shape,
    perm.map((p) => inStrides[p] as number),
    stridesOf(shape),
  );
  if (needsGrad([x])) {
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, d) => {
      inverse[p] = d;
    });
    record(y, [x], (g) => [permute(g, inverse)]);
  }
  return y;
}

/** Swaps two axes (default: the last two). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const ax = a < 0 ? a + x.rank : a;
  const bx = b < 0 ? b + x.rank : b;
  const perm = [...x.shape.keys()];
  perm[ax] = bx;
  perm[bx] = ax;
  return permute(x, perm);
}

/** x[begin[d] : begin[d] + size[d]] on every axis (size -1: to the end). */
export function slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
  if (begin.length !== x.rank || size.length !== x.rank) {
    throw new TensorError(`slice: begin and size need ${x.rank} entries`);
  }
  const box = size.map((s, d) => (s === -1 ? (x.shape[d] as number) - (begin[d] as number) : s));
  box.forEach((s, d) => {
    const b = begin[d] as number;
    if (b < 0 || s < 0 || b + s > (x.shape[d] as number)) {
      throw new TensorError(
        `slice: [${begin.join(', ')}] + [${box.join(', ')}] is outside ${shapeStr(x.shape)}`,
      );
    }
  });
  const y = Tensor.empty(x.gpu, box);
  const st = stridesOf(x.shape);
  const offset = begin.reduce((p, b, d) => p + b * (st[d] as number), 0);
  stridedCopy(x, y, box, st, stridesOf(box), offset, 0);
  if (needsGrad([x])) {
    const inShape = x.shape;
    record(y, [x], (g) => [
      pad(
        g,
        inShape.map(
          (d, i) => [begin[i] as number, d - (begin[i] as number) - (box[i] as number)] as const,
        ),
      ),
    ]);
  }
  return y;
}

/** Joins tensors along `axis`; all other sizes must agree. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  const first = xs[0];
  if (!first) throw new TensorError('concat: no tensors');
  const ax = axis < 0 ? axis + first.rank : axis;
  for (const t of xs) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new TensorError(
        `concat: ${shapeStr(t.shape)} does not match ${shapeStr(first.shape)} outside axis ${ax}`,
      );
    }
  }
  const shape = [...first.shape];
  shape[ax] = xs.reduce((p, t) => p + (t.shape[ax] as number), 0);
  const y = Tensor.empty(gpuOf(...xs), shape);
  const outStrides = stridesOf(shape);
  let at = 0;
  const starts: number[] = [];
  for (const t of xs) {
    starts.push(at);
    stridedCopy(t, y, t.shape, stridesOf(t.shape), outStrides, 0, at * (outStrides[ax] as number));
    at += t.shape[ax] as number;
  }
  if (needsGrad(xs)) {
    const shapes = xs.map((t) => t.shape);
    record(y, xs, (g) =>
      shapes.map((s, i) => {
        const begin = s.map((_, d) => (d === ax ? (starts[i] as number) : 0));
        return slice(g, begin, s);
      }),
    );
  }
  return y;
}

/** Constant padding; `pads[d] = [before, after]` for every axis. */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  if (
    pads.length !== x.rank ||
    pads.some(([a, b]) => a < 0 || b < 0 || !Number.isInteger(a) || !Number.isInteger(b))
  ) {
    throw new TensorError(`pad: need ${x.rank} pairs of non-negative integers`);
  }
  const shape = x.shape.map((d, i) => d + (pads[i]?.[0] ?? 0) + (pads[i]?.[1] ?? 0));
  const y = full(shape, value, x.gpu);
  const outStrides = stridesOf(shape);
  const offset = pads.reduce((p, [b], d) => p + b * (outStrides[d] as number), 0);
  stridedCopy(x, y, x.shape, stridesOf(x.shape), outStrides, 0, offset);
  if (needsGrad([x])) {
    const begin = pads.map(([b]) => b);
    const inShape = x.shape;
    record(y, [x], (g) => [slice(g, begin, inShape)]);
  }
  return y;
}

/** Repeats x along broadcast axes to `shape` (a copy). */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const target = broadcastShapes(x.shape, shape);
  if (!sameShape(target, shape)) {
    throw new TensorError(
      `broadcastTo: ${shapeStr(x.shape)} cannot broadcast to ${shapeStr(shape)}`,
    );
  }
  const y = Tensor.empty(x.gpu, shape);
  stridedCopy(x, y, shape, broadcastStrides(x.shape, shape), stridesOf(shape));
  if (needsGrad([x])) {
    const inShape = x.shape;
    record(y, [x], (g) => [sumTo(g, inShape)]);
  }
  return y;
}

/** Rows of a [rows, width] table picked by integer-valued `indices` of any shape. */
export function gather(table: Tensor, indices: Tensor): Tensor {
  if (table.rank !== 2)
    throw new TensorError(`gather: table must be [rows, width], got ${shapeStr(table.shape)}`);
  const [rows, width] = table.shape as [number, number];
  const n = indices.size;
  const y = Tensor.empty(gpuOf(table, indices), [...indices.shape, width]);
  const params = { n, width, rows };
  table.gpu.dispatch(
    K.gatherRows,
    {},
    [table.buffer, indices.buffer, y.buffer],
    params,
    workgroupsFor(n * width),
  );
  if (needsGrad([table])) {
    const idx = save(indices);
    record(
      y,
      [table],
      (g) => {
        const gt = Tensor.empty(g.gpu, [rows, width]);
        g.gpu.dispatch(
          K.scatterAddRows,
          {},
          [g.buffer, idx.buffer, gt.buffer],
          { n, width, rows },
          workgroupsFor(rows * width),
        );
        return [gt];
      },
      [idx],
    );
  }
  return y;
}
