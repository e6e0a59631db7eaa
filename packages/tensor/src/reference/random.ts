/**
 * CPU reference of the Philox 4x32-10 generator and the uniform/normal transforms used by
 * shaders/random.wgsl (same counter layout: (offset + j/4, 0, stream, 0), key (seed_lo, seed_hi)).
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulhilo(a: number, b: number): [number, number] {
  const p = BigInt(a >>> 0) * BigInt(b >>> 0);
  return [Number(p >> 32n), Number(p & 0xffffffffn)];
}

export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
): number[] {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0) as [number, number, number, number];
  let [k0, k1] = key.map((v) => v >>> 0) as [number, number];
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

export function toUnit(v: number): number {
  return ((v >>> 8) + 0.5) / 16777216;
}

export interface RandomRefOptions {
  seed: number;
  /** Stream of row 0; row r uses stream + r when perRow. */
  stream?: number;
  /** First Philox block (4 values each). */
  offset?: number;
  perRow?: boolean;
  rowStreams?: readonly number[];
}

/** Values of rand/randn for `shape` as float64 (the GPU writes them rounded to f32). */
export function randomRef(
  shape: readonly number[],
  normal: boolean,
  o: RandomRefOptions,
): Float64Array {
  const n = shape.reduce((p, d) => p * d, 1);
  const perRow = o.perRow === true || o.rowStreams !== undefined;
  const rows = perRow ? (shape[0] ?? 1) : 1;
  const cols = rows === 0 ? 0 : n / rows;
  const seed = BigInt(o.seed);
  const key: [number, number] = [Number(seed & 0xffffffffn), Number((seed >> 32n) & 0xffffffffn)];
  const out = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    const stream = o.rowStreams ? (o.rowStreams[r] as number) : (o.stream ?? 0) + r;
    for (let q = 0; q * 4 < cols; q++) {
      const x = philox4x32([(o.offset ?? 0) + q, 0, stream, 0], key);
      const u = x.map(toUnit) as [number, number, number, number];
      let v = u;
      if (normal) {
        const r0 = Math.sqrt(-2 * Math.log(u[0]));
        const r1 = Math.sqrt(-2 * Math.log(u[2]));
        v = [
          r0 * Math.cos(2 * Math.PI * u[1]),
          r0 * Math.sin(2 * Math.PI * u[1]),
          r1 * Math.cos(2 * Math.PI * u[3]),
          r1 * Math.sin(2 * Math.PI * u[3]),
        ];
      }
      for (let l = 0; l < 4 && q * 4 + l < cols; l++) out[r * cols + q * 4 + l] = v[l] as number;
    }
  }
  return out;
}
