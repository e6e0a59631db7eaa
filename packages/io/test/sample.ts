/** Deterministic test arrays covering each type's range edges (NaN and 1e30 among the floats). */
import { DTYPES, type DType, type NdArray } from '../src/index.ts';

export function sample(dtype: DType, shape: number[]): NdArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const buf = new ArrayBuffer(n * DTYPES[dtype].size);
  const data = DTYPES[dtype].make(buf, 0, n);
  for (let i = 0; i < n; i++) {
    if (data instanceof BigInt64Array) data[i] = BigInt(i - 2) * 3_000_000_000_000_000n;
    else if (data instanceof BigUint64Array) data[i] = 2n ** 64n - 1n - BigInt(i) * 12345678901234n;
    else if (dtype === 'bool') data[i] = i % 3 === 1 ? 1 : 0;
    else if (dtype === 'float16' || dtype === 'bfloat16') data[i] = (0x3c00 + i * 0x123) & 0xffff;
    else if (dtype === 'float32' || dtype === 'float64')
      data[i] = i === 1 ? Number.NaN : (i - 3) * 0.1 + (i === 2 ? 1e30 : 0);
    else (data as Int32Array)[i] = (i * 7919 - 20) % 300;
  }
  return { dtype, shape, data };
}
