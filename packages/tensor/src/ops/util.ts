/** Small helpers shared by the op implementations. */
import { activeGpu } from '../device.ts';
import { TensorError } from '../errors.ts';
import type { Gpu } from '../gpu.ts';
import { broadcastShapes as broadcastShapesRef, stridesOf } from '../reference/ndarray.ts';
import type { Shape, Tensor } from '../tensor.ts';

export const MAX_RANK = 8;

export { stridesOf };

/** The GPU of the inputs (all must share one) or the active one for creation ops. */
export function gpuOf(...tensors: readonly Tensor[]): Gpu {
  const first = tensors[0];
  if (!first) return activeGpu();
  const gpu = first.gpu;
  for (const t of tensors) {
    if (t.gpu !== gpu) throw new TensorError('tensors live on different GPU devices');
  }
  return gpu;
}

export function broadcastShapes(a: Shape, b: Shape): number[] {
  try {
    return broadcastShapesRef(a, b);
  } catch (e) {
    throw new TensorError((e as Error).message);
  }
}

/** Element strides of `shape` read as if broadcast to `outShape` (0 on broadcast axes). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const padded = [...Array<number>(outShape.length - shape.length).fill(1), ...shape];
  return stridesOf(padded).map((s, d) => (padded[d] === 1 && outShape[d] !== 1 ? 0 : s));
}

/**
 * The rank of a (collapsed) index box, which the strided kernels take in uniform arrays of
 * MAX_RANK entries; throws for more axes than that.
 */
export function checkRank(shape: readonly number[]): number {
  if (shape.length > MAX_RANK) {
    throw new TensorError(`tensors of rank above ${MAX_RANK} are not supported`);
  }
  return shape.length;
}

export function workgroupsFor(count: number, size = 64): number {
  return Math.ceil(count / size);
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function shapeStr(s: Shape): string {
  return `[${s.join(', ')}]`;
}

/** Elements per invocation along the innermost axis in copy/binary/where (their CH constant). */
export const RUN = 16;

/**
 * Simplifies an index box read through several stride lists: drops axes of size 1 and merges
 * neighbours that are contiguous in every list. Fewer axes mean fewer integer divisions per
 * element in the kernels (slow on CPU rasterizers). Returns at least one axis.
 */
export function collapseAxes(
  shape: readonly number[],
  strideLists: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const keep = shape.map((d, i) => i).filter((i) => shape[i] !== 1);
  let outShape = keep.map((i) => shape[i] as number);
  let outStrides = strideLists.map((s) => keep.map((i) => s[i] as number));
  if (outShape.length === 0) return { shape: [1], strides: strideLists.map(() => [0]) };
  for (let d = outShape.length - 2; d >= 0; d--) {
    const inner = outShape[d + 1] as number;
    if (outStrides.every((s) => s[d] === (s[d + 1] as number) * inner)) {
      outShape = [
        ...outShape.slice(0, d),
        (outShape[d] as number) * inner,
        ...outShape.slice(d + 2),
      ];
      outStrides = outStrides.map((s) => [...s.slice(0, d), s[d + 1] as number, ...s.slice(d + 2)]);
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** Workgroups (of 64) for a kernel that runs RUN elements of the innermost axis per invocation. */
export function runWorkgroups(shape: readonly number[]): number {
  const len = shape[shape.length - 1] as number;
  const rows = shape.reduce((p, d) => p * d, 1) / len;
  return Math.ceil((rows * Math.ceil(len / RUN)) / 64);
}

/**
 * Validates seed (a safe integer >= 0), stream and offset (integers in [0, 2^32)): the kernels
 * take them as u32 words, and a wrapped value would silently draw another stream.
 */
export function checkStreamPosition(
  op: string,
  o: { seed: number; stream?: number; offset?: number },
): void {
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) {
    throw new TensorError(`${op}: seed must be a non-negative integer, got ${o.seed}`);
  }
  for (const key of ['stream', 'offset'] as const) {
    const v = o[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
      throw new TensorError(`${op}: ${key} must be an integer in [0, 2^32), got ${v}`);
    }
  }
}
