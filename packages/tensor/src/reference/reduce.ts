/** CPU references for reductions over any set of axes (float64). */
import { type NDArray, stridesOf } from './ndarray.ts';

export type ReduceName = 'sum' | 'mean' | 'max' | 'min';

export function normalizeAxes(
  axes: number | readonly number[] | undefined,
  rank: number,
): number[] {
  const list =
    axes === undefined ? [...Array(rank).keys()] : typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => {
    const ax = a < 0 ? a + rank : a;
    if (!Number.isInteger(ax) || ax < 0 || ax >= rank) {
      throw new Error(`axis ${a} is out of range for a tensor of rank ${rank}`);
    }
    return ax;
  });
  if (new Set(out).size !== out.length) throw new Error(`repeated axis in [${list.join(', ')}]`);
  return out.sort((a, b) => a - b);
}

export function reducedShape(
  shape: readonly number[],
  axes: readonly number[],
  keepDims: boolean,
): number[] {
  return keepDims
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}

export function reduceRef(
  name: ReduceName,
  x: NDArray,
  axes?: number | readonly number[],
  keepDims = false,
): NDArray {
  const ax = normalizeAxes(axes, x.shape.length);
  const keptShape = reducedShape(x.shape, ax, true);
  const n = keptShape.reduce((p, d) => p * d, 1);
  const count = ax.reduce((p, a) => p * (x.shape[a] as number), 1);
  const init = name === 'max' ? -Infinity : name === 'min' ? Infinity : 0;
  const acc = new Float64Array(n).fill(init);
  const nan = new Uint8Array(n);
  const xs = stridesOf(x.shape);
  const os = stridesOf(keptShape);
  for (let i = 0; i < x.data.length; i++) {
    let o = 0;
    for (let d = 0; d < x.shape.length; d++) {
      const coord = Math.floor(i / (xs[d] as number)) % (x.shape[d] as number);
      if (!ax.includes(d)) o += coord * (os[d] as number);
    }
    const v = x.data[i] as number;
    if (Number.isNaN(v)) nan[o] = 1;
    if (name === 'max') acc[o] = Math.max(acc[o] as number, v);
    else if (name === 'min') acc[o] = Math.min(acc[o] as number, v);
    else acc[o] = (acc[o] as number) + v;
  }
  for (let o = 0; o < n; o++) {
    if (nan[o]) acc[o] = NaN;
    else if (name === 'mean') acc[o] = (acc[o] as number) / count;
  }
  return { shape: reducedShape(x.shape, ax, keepDims), data: acc };
}
