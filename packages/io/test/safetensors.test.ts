/** safetensors: round trips, the byte layout, metadata, and every header lie we can think of. */
import { describe, expect, it } from 'vitest';
import {
  type DType,
  FormatError,
  MAX_HEADER_BYTES,
  type NdArray,
  numberToBfloat16,
  numberToFloat16,
  readSafetensors,
  toFloat32,
  writeSafetensors,
} from '../src/index.ts';
import { sample } from './sample.ts';

const ALL: DType[] = [
  'bool',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'float16',
  'bfloat16',
  'float32',
  'float64',
];

/** A file with a hand-made header and `dataLen` zero bytes of data. */
function craft(header: unknown, dataLen: number, rawHeader?: string): Uint8Array {
  const json = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors', () => {
  it('round-trips every dtype, odd, 0-d and empty shapes, with metadata', () => {
    const tensors = new Map<string, NdArray>();
    for (const dtype of ALL)
      for (const shape of [[], [0], [3, 1, 5], [2, 0, 3]])
        tensors.set(`${dtype}.${shape.join('x')}`, sample(dtype, shape));
    const metadata = {
      config: JSON.stringify({ D: 128, sigma_max: 'inf' }),
      step: '200000',
      rng: '[1,2,3]',
      ['__proto__']: 'x',
    };
    const back = readSafetensors(writeSafetensors(tensors, metadata));
    expect([...back.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [k, a] of tensors) {
      const b = back.tensors.get(k) as NdArray;
      expect([b.dtype, b.shape], k).toEqual([a.dtype, a.shape]);
      expect(Array.from(b.data as ArrayLike<number>), k).toEqual(
        Array.from(a.data as ArrayLike<number>),
      );
      expect(b.data.constructor).toBe(a.data.constructor);
    }
    expect(back.metadata).toEqual(metadata);
    expect(Object.hasOwn(back.metadata, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(back.metadata)).toBe(Object.prototype);
  });

  it('writes the documented layout: u64 header size, space-padded JSON, packed data', () => {
    const bytes = writeSafetensors(
      { w: { dtype: 'float32', shape: [2], data: Float32Array.of(1, -2) } },
      { step: '3' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(header.trimEnd()).toBe(
      '{"__metadata__":{"step":"3"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
    );
    expect(Array.from(bytes.subarray(8 + n))).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
  });

  it('converts half types to float32 exactly', () => {
    const h = {
      dtype: 'float16' as const,
      shape: [4],
      data: Uint16Array.from([1, -2.5, 65504, 1e-7], numberToFloat16),
    };
    const b = {
      dtype: 'bfloat16' as const,
      shape: [3],
      data: Uint16Array.from([1, -2.5, 3.14159], numberToBfloat16),
    };
    const back = readSafetensors(writeSafetensors({ h, b }));
    expect(Array.from(toFloat32(back.tensors.get('h')!))).toEqual([
      1, -2.5, 65504, 1.1920928955078125e-7,
    ]);
    expect(Array.from(toFloat32(back.tensors.get('b')!))).toEqual([1, -2.5, 3.140625]);
    expect(numberToFloat16(65520)).toBe(0x7c00);
    expect(numberToFloat16(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(numberToFloat16(2 ** -25)).toBe(0);
    expect(numberToFloat16(2 ** -25 * 1.5)).toBe(1);
  });

  it('rejects truncated files and header size lies', () => {
    const good = writeSafetensors({ a: sample('float32', [4]), b: sample('int64', [2]) });
    expect(() => readSafetensors(good.subarray(0, 5))).toThrow(/only 5 bytes/);
    expect(() => readSafetensors(good.subarray(0, 20))).toThrow(
      /truncated safetensors file: header of \d+ bytes/,
    );
    expect(() => readSafetensors(good.subarray(0, good.length - 3))).toThrow(
      /tensor 'b' ends at 32, past the 29 data bytes/,
    );
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES) + 1n, true);
    expect(() => readSafetensors(huge)).toThrow(/exceeds the 100000000-byte limit/);
    const wrongMagic = new TextEncoder().encode('PK\x03\x04 this is a zip, not safetensors');
    expect(() => readSafetensors(wrongMagic)).toThrow(FormatError);
    expect(() => readSafetensors(craft(null, 0, '[1,2]'))).toThrow(/not a JSON object/);
    expect(() => readSafetensors(craft(null, 0, '{"a": '))).toThrow(/not valid UTF-8 JSON/);
  });

  it('rejects overlapping, gapped and out-of-range offsets, and shape/size mismatches', () => {
    const t = (dtype: string, shape: number[], data_offsets: unknown) => ({
      dtype,
      shape,
      data_offsets,
    });
    expect(() =>
      readSafetensors(craft({ a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) }, 12)),
    ).toThrow(/tensor 'b' overlaps/);
    expect(() =>
      readSafetensors(craft({ a: t('F32', [1], [0, 4]), b: t('F32', [1], [8, 12]) }, 12)),
    ).toThrow(/gap of 4 bytes before tensor 'b'/);
    expect(() => readSafetensors(craft({ a: t('F32', [2], [0, 8]) }, 12))).toThrow(
      /4 bytes after the last tensor/,
    );
    expect(() => readSafetensors(craft({ a: t('F32', [4], [0, 16]) }, 8))).toThrow(
      /ends at 16, past the 8 data bytes/,
    );
    expect(() => readSafetensors(craft({ a: t('F32', [3], [0, 8]) }, 8))).toThrow(
      /shape \[3\] of float32 needs 12 bytes but data_offsets span 8/,
    );
    expect(() => readSafetensors(craft({ a: t('F32', [2], [8, 0]) }, 8))).toThrow(
      /data_offsets \[8,0\] are not \[begin, end\]/,
    );
    expect(() => readSafetensors(craft({ a: t('F32', [2], [0, 1e300]) }, 8))).toThrow(
      /data_offsets/,
    );
    expect(() => readSafetensors(craft({ a: t('F32', [-1], [0, 0]) }, 0))).toThrow(
      /shape \[-1\] is not a list of sizes/,
    );
    expect(() => readSafetensors(craft({ a: t('F8_E4M3', [1], [0, 1]) }, 1))).toThrow(
      /unsupported dtype "F8_E4M3"/,
    );
    expect(() => readSafetensors(craft({ a: 5 }, 0))).toThrow(/tensor 'a': entry is not an object/);
    expect(() => readSafetensors(craft({ __metadata__: { step: 3 } }, 0))).toThrow(
      /__metadata__\['step'\] is not a string/,
    );
    expect(() => readSafetensors(craft({ __metadata__: [] }, 0))).toThrow(
      /__metadata__ must be an object/,
    );
    expect(
      readSafetensors(craft({ a: t('F32', [0], [0, 0]), b: t('F32', [0], [0, 0]) }, 0)).tensors
        .size,
    ).toBe(2);
  });

  it('refuses to write what it cannot read back', () => {
    expect(() => writeSafetensors({ __metadata__: sample('uint8', [1]) })).toThrow(
      /cannot name a tensor/,
    );
    expect(() =>
      writeSafetensors({ a: sample('uint8', [1]) }, { step: 3 as unknown as string }),
    ).toThrow(/must be a string/);
    expect(() =>
      writeSafetensors({ a: { dtype: 'int32', shape: [3], data: new Int32Array(2) } }),
    ).toThrow(/a: shape \[3\] holds 3 elements but data has 2/);
  });
});
