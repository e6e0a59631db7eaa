/**
 * Element types shared by every format here. Arrays are always C-ordered and held in native
 * (little-endian) typed arrays; float16/bfloat16 keep their raw 16-bit patterns in a Uint16Array
 * (JS has no such number type) and bool is a Uint8Array of 0/1.
 */
import { FormatError } from './errors.ts';

export type DType =
  | 'bool'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float16'
  | 'bfloat16'
  | 'float32'
  | 'float64';

export type TypedData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** An n-dimensional array: row-major `data` with `shape` ([] for a 0-d scalar). */
export interface NdArray {
  dtype: DType;
  shape: number[];
  data: TypedData;
}

interface DTypeInfo {
  size: number;
  make: (buffer: ArrayBuffer, offset: number, length: number) => TypedData;
  is: (data: TypedData) => boolean;
}

export const DTYPES: Record<DType, DTypeInfo> = {
  bool: { size: 1, make: (b, o, n) => new Uint8Array(b, o, n), is: (d) => d instanceof Uint8Array },
  int8: { size: 1, make: (b, o, n) => new Int8Array(b, o, n), is: (d) => d instanceof Int8Array },
  uint8: {
    size: 1,
    make: (b, o, n) => new Uint8Array(b, o, n),
    is: (d) => d instanceof Uint8Array,
  },
  int16: {
    size: 2,
    make: (b, o, n) => new Int16Array(b, o, n),
    is: (d) => d instanceof Int16Array,
  },
  uint16: {
    size: 2,
    make: (b, o, n) => new Uint16Array(b, o, n),
    is: (d) => d instanceof Uint16Array,
  },
  int32: {
    size: 4,
    make: (b, o, n) => new Int32Array(b, o, n),
    is: (d) => d instanceof Int32Array,
  },
  uint32: {
    size: 4,
    make: (b, o, n) => new Uint32Array(b, o, n),
    is: (d) => d instanceof Uint32Array,
  },
  int64: {
    size: 8,
    make: (b, o, n) => new BigInt64Array(b, o, n),
    is: (d) => d instanceof BigInt64Array,
  },
  uint64: {
    size: 8,
    make: (b, o, n) => new BigUint64Array(b, o, n),
    is: (d) => d instanceof BigUint64Array,
  },
  float16: {
    size: 2,
    make: (b, o, n) => new Uint16Array(b, o, n),
    is: (d) => d instanceof Uint16Array,
  },
  bfloat16: {
    size: 2,
    make: (b, o, n) => new Uint16Array(b, o, n),
    is: (d) => d instanceof Uint16Array,
  },
  float32: {
    size: 4,
    make: (b, o, n) => new Float32Array(b, o, n),
    is: (d) => d instanceof Float32Array,
  },
  float64: {
    size: 8,
    make: (b, o, n) => new Float64Array(b, o, n),
    is: (d) => d instanceof Float64Array,
  },
};

export function itemSize(dtype: DType): number {
  return DTYPES[dtype].size;
}

/** Number of elements of `shape`; checks that every dimension is a non-negative integer. */
export function sizeOfShape(shape: readonly number[], what = 'shape'): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new FormatError(`${what} [${shape.join(', ')}] has an invalid dimension ${d}`);
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new FormatError(`${what} [${shape.join(', ')}] is too large`);
  return n;
}

/** A typed array of `dtype` holding a copy of `bytes` (little-endian, or swapped from big-endian). */
export function typedFromBytes(dtype: DType, bytes: Uint8Array, bigEndian = false): TypedData {
  const size = itemSize(dtype);
  if (bytes.length % size !== 0) {
    throw new FormatError(`${bytes.length} bytes are not a whole number of ${dtype} elements`);
  }
  // new Uint8Array(view) copies; slice() on Node's pooled byte arrays returns a view instead.
  const copy = new Uint8Array(bytes);
  if (bigEndian && size > 1) swapBytes(copy, size);
  return DTYPES[dtype].make(copy.buffer, 0, copy.length / size);
}

/** The little-endian bytes of `data` (a view when possible, no copy). */
export function bytesOf(data: TypedData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a] as number;
      bytes[a] = bytes[b] as number;
      bytes[b] = t;
    }
  }
}

/** Checks that `array` is self-consistent (typed array kind and length match dtype and shape). */
export function checkArray(array: NdArray, name: string): void {
  // Writers get arrays from JS callers, not from files: check the plain-JS shape of the value too.
  if (typeof array !== 'object' || array === null) {
    throw new FormatError(`${name}: not an array object ({ dtype, shape, data })`);
  }
  const info = Object.hasOwn(DTYPES, array.dtype) ? DTYPES[array.dtype] : undefined;
  if (!info) throw new FormatError(`${name}: unknown dtype '${String(array.dtype)}'`);
  if (!Array.isArray(array.shape)) throw new FormatError(`${name}: shape is not a list of sizes`);
  if (!info.is(array.data)) {
    const data = array.data as unknown;
    const got = typeof data === 'object' && data !== null ? data.constructor?.name : String(data);
    throw new FormatError(
      `${name}: dtype ${array.dtype} needs a ${info.make(new ArrayBuffer(0), 0, 0).constructor.name}, got ${got}`,
    );
  }
  const n = sizeOfShape(array.shape, `${name}: shape`);
  if (array.data.length !== n) {
    throw new FormatError(
      `${name}: shape [${array.shape.join(', ')}] holds ${n} elements but data has ${array.data.length}`,
    );
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits to a number (exact). */
export function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

/** A number to IEEE half-precision bits, rounding to nearest even (overflow gives infinity). */
export function numberToFloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** bfloat16 bits to a number (exact: the top half of a float32). */
export function bfloat16ToNumber(h: number): number {
  u32[0] = h << 16;
  return f32[0] as number;
}

/** A number to bfloat16 bits, rounding to nearest even; NaN stays NaN. */
export function numberToBfloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0] as number;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The values as float32 (the form the tensor package uploads); float32 input is returned as is. */
export function toFloat32(array: NdArray): Float32Array {
  const { dtype, data } = array;
  if (data instanceof Float32Array) return data;
  const out = new Float32Array(data.length);
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const conv = dtype === 'float16' ? float16ToNumber : bfloat16ToNumber;
    for (let i = 0; i < out.length; i++) out[i] = conv(data[i] as number);
  } else if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < out.length; i++) out[i] = Number(data[i]);
  } else {
    for (let i = 0; i < out.length; i++) out[i] = data[i] as number;
  }
  return out;
}
