/** CPU references for the data-movement ops (float64). */
import { type NDArray, stridesOf } from './ndarray.ts';

function coordsOf(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % (shape[d] as number);
    i = Math.floor(i / (shape[d] as number));
  }
  return c;
}

function indexOf(c: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * (shape[d] as number) + (c[d] as number);
  return i;
}

export function permuteRef(x: NDArray, perm: readonly number[]): NDArray {
  const shape = perm.map((p) => x.shape[p] as number);
  const data = new Float64Array(x.data.length);
  for (let i = 0; i < data.length; i++) {
    const c = coordsOf(i, shape);
    const src = new Array<number>(perm.length);
    perm.forEach((p, d) => {
      src[p] = c[d] as number;
    });
    data[i] = x.data[indexOf(src, x.shape)] as number;
  }
  return { shape, data };
}

/** x[begin[d] : begin[d] + size[d]] on every axis. */
export function sliceRef(x: NDArray, begin: readonly number[], size: readonly number[]): NDArray {
  const data = new Float64Array(size.reduce((p, d) => p * d, 1));
  for (let i = 0; i < data.length; i++) {
    const c = coordsOf(i, size).map((v, d) => v + (begin[d] as number));
    data[i] = x.data[indexOf(c, x.shape)] as number;
  }
  return { shape: [...size], data };
}

export function concatRef(xs: readonly NDArray[], axis: number): NDArray {
  const first = xs[0] as NDArray;
  const shape = [...first.shape];
  shape[axis] = xs.reduce((p, x) => p + (x.shape[axis] as number), 0);
  const data = new Float64Array(shape.reduce((p, d) => p * d, 1));
  let at = 0;
  for (const x of xs) {
    for (let i = 0; i < x.data.length; i++) {
      const c = coordsOf(i, x.shape);
      c[axis] = (c[axis] as number) + at;
      data[indexOf(c, shape)] = x.data[i] as number;
    }
    at += x.shape[axis] as number;
  }
  return { shape, data };
}

/** Constant padding: `pads[d] = [before, after]`. */
export function padRef(
  x: NDArray,
  pads: readonly (readonly [number, number])[],
  value = 0,
): NDArray {
  const shape = x.shape.map((d, i) => d + (pads[i]?.[0] ?? 0) + (pads[i]?.[1] ?? 0));
  const data = new Float64Array(shape.reduce((p, d) => p * d, 1)).fill(value);
  for (let i = 0; i < x.data.length; i++) {
    const c = coordsOf(i, x.shape).map((v, d) => v + (pads[d]?.[0] ?? 0));
    data[indexOf(c, shape)] = x.data[i] as number;
  }
  return { shape, data };
}

export function broadcastToRef(x: NDArray, shape: readonly number[]): NDArray {
  const padded = [...Array(shape.length - x.shape.length).fill(1), ...x.shape];
  const st = stridesOf(padded);
  const data = new Float64Array(shape.reduce((p, d) => p * d, 1));
  for (let i = 0; i < data.length; i++) {
    const c = coordsOf(i, shape);
    let src = 0;
    for (let d = 0; d < shape.length; d++)
      if (padded[d] !== 1) src += (c[d] as number) * (st[d] as number);
    data[i] = x.data[src] as number;
  }
  return { shape: [...shape], data };
}

/** out[r, :] = table[idx[r], :]; an index outside the table gives a row of NaN. */
export function gatherRowsRef(table: NDArray, idx: readonly number[]): NDArray {
  const [rows, width] = [table.shape[0] as number, table.shape[1] as number];
  const data = new Float64Array(idx.length * width);
  idx.forEach((r, i) => {
    for (let j = 0; j < width; j++) {
      data[i * width + j] =
        Number.isInteger(r) && r >= 0 && r < rows ? (table.data[r * width + j] as number) : NaN;
    }
  });
  return { shape: [idx.length, width], data };
}

export function scatterAddRowsRef(grad: NDArray, idx: readonly number[], rows: number): NDArray {
  const width = grad.shape[1] as number;
  const data = new Float64Array(rows * width);
  idx.forEach((r, i) => {
    for (let j = 0; j < width; j++) {
      const o = r * width + j;
      data[o] = (data[o] as number) + (grad.data[i * width + j] as number);
    }
  });
  return { shape: [rows, width], data };
}
