/** .npy and .npz: round trips, NumPy-written files, NumPy reading ours, reference files, bad input. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type DType,
  decodeJsonArray,
  encodeJsonArray,
  FormatError,
  float16ToNumber,
  type NdArray,
  npzJson,
  readNpy,
  readNpz,
  writeNpy,
  writeNpz,
} from '../src/index.ts';
import { fixture, fixtureJson } from './fixtures.ts';
import { sample } from './sample.ts';

const NUMPY_DTYPES: DType[] = [
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
  'float32',
  'float64',
];
const SHAPES: number[][] = [[], [0], [0, 3], [1], [7], [3, 1, 5], [2, 3, 1, 1, 2]];

function expectSame(a: NdArray, b: NdArray, what = '') {
  expect(a.dtype, what).toBe(b.dtype);
  expect(a.shape, what).toEqual(b.shape);
  expect(a.data.constructor, what).toBe(b.data.constructor);
  expect(Array.from(a.data as ArrayLike<number>), what).toEqual(
    Array.from(b.data as ArrayLike<number>),
  );
}

function hasNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('npy', () => {
  it('round-trips every dtype through odd, 0-d and empty shapes', () => {
    for (const dtype of NUMPY_DTYPES) {
      for (const shape of SHAPES) {
        const a = sample(dtype, shape);
        const bytes = writeNpy(a);
        expect(readNpy(bytes).data.byteOffset % 8).toBe(0);
        expectSame(readNpy(bytes), a, `${dtype} [${shape}]`);
      }
    }
  });

  it('writes the NumPy 1.0 layout byte for byte, data 64-byte aligned', () => {
    const bytes = writeNpy({ dtype: 'int16', shape: [2], data: Int16Array.from([1, -2]) });
    const header = "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }";
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    expect(bytes[8]! | (bytes[9]! << 8)).toBe(128 - 10);
    const text = new TextDecoder().decode(bytes.subarray(10, 128));
    expect(text).toBe(`${header}${' '.repeat(128 - 10 - header.length - 1)}\n`);
    expect(Array.from(bytes.subarray(128))).toEqual([1, 0, 0xfe, 0xff]);
    expect(bytes.length).toBe(132);
    const scalar = new TextDecoder().decode(
      writeNpy({ dtype: 'bool', shape: [], data: Uint8Array.of(1) }),
    );
    expect(scalar).toContain("{'descr': '|b1', 'fortran_order': False, 'shape': (), }");
  });

  it('reads NumPy-written versions 1.0, 2.0 and 3.0', () => {
    for (const v of [1, 2, 3]) {
      const bytes = fixture(`numpy_v${v}.npy`);
      expect(bytes[6]).toBe(v);
      const a = readNpy(bytes);
      expect(a.dtype).toBe('float32');
      expect(a.shape).toEqual([2, 3]);
      expect(Array.from(a.data as Float32Array)).toEqual([0, 1, 2, 3, 4, 5]);
    }
  });

  it('refuses Fortran order, structured and object arrays with clear messages', () => {
    expect(() => readNpy(fixture('numpy_fortran.npy'))).toThrow(/Fortran order; only C order/);
    expect(() => readNpy(fixture('numpy_structured.npy'))).toThrow(
      /structured arrays are not read/,
    );
    expect(() => readNpy(fixture('numpy_object.npy'))).toThrow(/'\|O'.*object arrays hold pickles/);
  });

  it('rejects a wrong magic, truncated data, a lying header and unknown versions', () => {
    const good = writeNpy(sample('float32', [3, 4]));
    expect(() => readNpy(new TextEncoder().encode('PK\x03\x04 not npy'))).toThrow(
      /missing the \\x93NUMPY magic/,
    );
    expect(() => readNpy(good.subarray(0, good.length - 4))).toThrow(
      /\(48 bytes\) but 44 bytes of data follow \(truncated\)/,
    );
    expect(() => readNpy(good.subarray(0, 30))).toThrow(/truncated \.npy file: header/);
    expect(good.length).toBe(128 + 48);
    const lying = good.slice();
    const text = new TextDecoder('latin1')
      .decode(lying.subarray(10, 128))
      .replace('(3, 4)', '(9, 4)');
    lying.set(new TextEncoder().encode(text), 10);
    expect(() => readNpy(lying)).toThrow(/\[9, 4\] \(144 bytes\) but 48 bytes/);
    const extra = new Uint8Array(good.length + 4);
    extra.set(good);
    expect(() => readNpy(extra)).toThrow(/but 52 bytes of data follow/);
    const v9 = good.slice();
    v9[6] = 9;
    expect(() => readNpy(v9)).toThrow(/unsupported \.npy format version 9/);
    const garbage = good.slice();
    garbage.set(new TextEncoder().encode("{'descr': <f4"), 10);
    expect(() => readNpy(garbage)).toThrow(FormatError);
    expect(() => writeNpy({ dtype: 'bfloat16', shape: [1], data: Uint16Array.of(0) })).toThrow(
      /no NumPy dtype/,
    );
    expect(() => writeNpy({ dtype: 'float32', shape: [2], data: new Float32Array(3) })).toThrow(
      /holds 2 elements but data has 3/,
    );
    expect(() => writeNpy({ dtype: 'float32', shape: [2], data: new Float64Array(2) })).toThrow(
      /needs a Float32Array/,
    );
  });
});

describe('npz', () => {
  const expected = fixtureJson('numpy_expected.json') as Record<
    string,
    { dtype: DType; shape: number[]; values: (number | string | boolean)[] }
  >;

  function checkNumpyFile(name: string) {
    const m = readNpz(fixture(name));
    expect([...m.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [key, e] of Object.entries(expected)) {
      const a = m.get(key) as NdArray;
      expect(a.dtype, key).toBe(e.dtype);
      expect(a.shape, key).toEqual(e.shape);
      const got = Array.from(a.data as ArrayLike<number | bigint>, (v) =>
        typeof v === 'bigint'
          ? String(v)
          : e.dtype === 'bool'
            ? v === 1
            : e.dtype === 'float16'
              ? float16ToNumber(v)
              : v,
      );
      expect(got, `${name} ${key}`).toEqual(e.values);
    }
  }

  it('reads NumPy-written archives: stored, deflated (savez_compressed) and big-endian', () => {
    checkNumpyFile('numpy_little.npz');
    checkNumpyFile('numpy_compressed.npz');
    checkNumpyFile('numpy_big.npz');
  });

  it('round-trips stored and deflated archives, keeping key order', () => {
    const arrays = new Map<string, NdArray>();
    for (const dtype of NUMPY_DTYPES)
      for (const shape of SHAPES) arrays.set(`${dtype}/${shape.join('x')}`, sample(dtype, shape));
    for (const compress of [false, true]) {
      const back = readNpz(writeNpz(arrays, { compress }));
      expect([...back.keys()]).toEqual([...arrays.keys()]);
      for (const [k, a] of arrays) expectSame(back.get(k) as NdArray, a, k);
    }
    expect(readNpz(writeNpz({})).size).toBe(0);
  });

  it('writes archives NumPy loads (dtypes, shapes, values, compressed too)', (ctx) => {
    if (!hasNumpy())
      ctx.skip('python3 with numpy is not available; the byte-layout test covers the format');
    const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-io-'));
    try {
      const arrays: Record<string, NdArray> = {};
      for (const dtype of NUMPY_DTYPES)
        for (const shape of [[], [0, 3], [3, 1, 5]])
          arrays[`${dtype}.${shape.length}`] = sample(dtype, shape);
      arrays['ünï.cöde'] = sample('float32', [2]);
      for (const compress of [false, true]) {
        const file = join(dir, `out${compress}.npz`);
        writeFileSync(file, writeNpz(arrays, { compress }));
        const script = `
import json, sys, numpy as np
z = np.load(sys.argv[1])
print(json.dumps({k: [str(z[k].dtype), list(z[k].shape), z[k].astype(z[k].dtype.newbyteorder('<')).tobytes().hex()] for k in z.files}))`;
        const got = JSON.parse(execFileSync('python3', ['-c', script, file], { encoding: 'utf8' }));
        expect(Object.keys(got).sort()).toEqual(Object.keys(arrays).sort());
        for (const [k, a] of Object.entries(arrays)) {
          const bytes = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
          expect(got[k], k).toEqual([a.dtype, a.shape, Buffer.from(bytes).toString('hex')]);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the reference archives and their JSON-in-uint8 config', () => {
    const ks = readNpz(fixture('kernel_stats.npz'));
    expect(ks.get('train.quantiles')?.shape).toEqual([4, 2, 2, 7]);
    expect(ks.get('train.quantiles')?.dtype).toBe('float64');
    const ref = readNpz(fixture('ref_wellcond_A.npz'));
    expect([...ref.keys()]).toEqual(['mu', 'sigma']);
    expect(ref.get('sigma')?.shape).toEqual([16, 16]);
    const net = readNpz(fixture('edm_adm_uncond.params.npz'));
    const config = npzJson(net, 'config') as {
      precond_class: string;
      attributes: Record<string, unknown>;
      state_dict: unknown[];
    };
    expect(config.precond_class).toBe('EDMPrecond');
    expect(config.attributes.sigma_max).toBe(Number.POSITIVE_INFINITY);
    expect(config.attributes.D).toBe(128);
    expect(
      (decodeJsonArray(net.get('config') as NdArray, { nonFinite: 'strings' }) as typeof config)
        .attributes.sigma_max,
    ).toBe('inf');
    expect(config.state_dict.length).toBe(
      [...net.keys()].filter((k) => k.startsWith('param.')).length,
    );
    expect(() => npzJson(net, 'nope')).toThrow(/npz has no key 'nope'/);
    expect(() => npzJson(net, 'param.model.map_layer0.weight')).toThrow(
      /must be uint8, got float32/,
    );
  });

  it('encodes JSON arrays with non-finite floats as strings, and decodes them back', () => {
    const value = {
      a: Number.POSITIVE_INFINITY,
      b: [Number.NEGATIVE_INFINITY, Number.NaN, 1.5],
      c: 'x',
      __proto__x: 1,
    };
    const arr = encodeJsonArray(value);
    expect(new TextDecoder().decode(arr.data as Uint8Array)).toBe(
      '{"a":"inf","b":["-inf","nan",1.5],"c":"x","__proto__x":1}',
    );
    expect(decodeJsonArray(arr)).toEqual(value);
    const polluted = encodeJsonArray(JSON.parse('{"__proto__": {"polluted": 1}}'));
    const back = decodeJsonArray(polluted) as Record<string, unknown>;
    expect(Object.hasOwn(back, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() =>
      decodeJsonArray({ dtype: 'uint8', shape: [2], data: Uint8Array.of(0xff, 0xfe) }),
    ).toThrow(/UTF-8 JSON/);
  });

  it('names the member whose .npy is bad', () => {
    const bytes = writeNpz({ good: sample('int8', [2]), bad: sample('float32', [3]) });
    const text = new TextDecoder('latin1').decode(bytes);
    const at = text.indexOf("'shape': (3,)");
    const corrupt = bytes.slice();
    corrupt[at + 10] = '7'.charCodeAt(0);
    expect(() => readNpz(corrupt)).toThrow(/npz member 'bad'/);
  });
});

describe('inputs that are Node Buffers', () => {
  it('reads an .npy held in a pooled Buffer (non-zero byteOffset; Buffer#slice is a view)', () => {
    const bytes = writeNpy({ dtype: 'float32', shape: [3], data: Float32Array.of(1.5, -2, 8) });
    // Small Buffers share Node's 8 KiB pool, so this one starts at an unaligned offset.
    const pool = Buffer.allocUnsafe(bytes.length + 3);
    pool.set(bytes, 3);
    const view = pool.subarray(3);
    expect(view.byteOffset % 4).not.toBe(0);
    expect([...(readNpy(view).data as Float32Array)]).toEqual([1.5, -2, 8]);
  });
});
