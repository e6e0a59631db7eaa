/** Plain float64 arrays with a shape, the currency of the CPU references. */
export interface NDArray {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export function nd(shape: readonly number[], data?: ArrayLike<number>): NDArray {
  const n = shape.reduce((p, d) => p * d, 1);
  const out = new Float64Array(n);
  if (data) {
    if (data.length !== n) throw new Error(`nd: ${data.length} values for shape [${shape}]`);
    out.set(Array.from(data));
  }
  return { shape: [...shape], data: out };
}

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d] as number;
  }
  return strides;
}

/** NumPy broadcasting of two shapes; throws with both shapes when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}
