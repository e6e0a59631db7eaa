/**
 * NumPy .npz archives: a ZIP of `<key>.npy` members, stored or deflated. Members whose names do
 * not end in .npy are skipped, as `numpy.load` lists only .npy keys as arrays. Also the fixtures'
 * convention of JSON text kept in uint8 arrays (`config`, `<case>.config`, `index`).
 */
import { FormatError } from './errors.ts';
import type { NdArray } from './dtype.ts';
import { readNpy, writeNpy } from './npy.ts';
import { readZipEntries, readZipEntry, writeZip } from './zip.ts';

export type ArrayMap = Map<string, NdArray> | Record<string, NdArray>;

/** Reads every array of an .npz archive, in archive order. */
export function readNpz(bytes: Uint8Array): Map<string, NdArray> {
  const out = new Map<string, NdArray>();
  for (const entry of readZipEntries(bytes)) {
    if (!entry.name.endsWith('.npy')) continue;
    const key = entry.name.slice(0, -4);
    try {
      out.set(key, readNpy(readZipEntry(bytes, entry)));
    } catch (e) {
      if (e instanceof FormatError) throw new FormatError(`npz member '${key}': ${e.message}`);
      throw e;
    }
  }
  return out;
}

/** Writes arrays as an .npz archive; `compress` gives what `np.savez_compressed` gives. */
export function writeNpz(arrays: ArrayMap, options: { compress?: boolean } = {}): Uint8Array {
  const entries = arrays instanceof Map ? [...arrays] : Object.entries(arrays);
  const files = entries.map(([key, a]) => ({ name: `${key}.npy`, data: writeNpy(a, key) }));
  return writeZip(files, options.compress ?? false);
}

/** Like `o[k] = v`, but a key such as '__proto__' stays an ordinary entry. */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function reviveNonFinite(v: unknown): unknown {
  if (v === 'inf') return Number.POSITIVE_INFINITY;
  if (v === '-inf') return Number.NEGATIVE_INFINITY;
  if (v === 'nan') return Number.NaN;
  if (Array.isArray(v)) return v.map(reviveNonFinite);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) setOwn(o, k, reviveNonFinite(x));
    return o;
  }
  return v;
}

/**
 * Decodes a uint8 array holding UTF-8 JSON text. Non-finite floats are stored as the strings
 * "inf", "-inf" and "nan"; they become numbers unless `nonFinite` is 'strings'.
 */
export function decodeJsonArray(
  array: NdArray,
  options: { nonFinite?: 'numbers' | 'strings' } = {},
): unknown {
  if (array.dtype !== 'uint8' && array.dtype !== 'int8') {
    throw new FormatError(`a JSON array must be uint8, got ${array.dtype}`);
  }
  const bytes = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new FormatError(`array does not hold UTF-8 JSON text (${(e as Error).message})`);
  }
  return options.nonFinite === 'strings' ? value : reviveNonFinite(value);
}

/** The JSON value kept under `key` of an .npz map; the error names a missing key. */
export function npzJson(arrays: Map<string, NdArray>, key: string): unknown {
  const a = arrays.get(key);
  if (!a) throw new FormatError(`npz has no key '${key}'`);
  try {
    return decodeJsonArray(a);
  } catch (e) {
    throw new FormatError(`npz key '${key}': ${(e as Error).message}`);
  }
}

function toJsonSafe(v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v))
    return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  if (Array.isArray(v)) return v.map(toJsonSafe);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) setOwn(o, k, toJsonSafe(x));
    return o;
  }
  return v;
}

/** Encodes a value as a uint8 JSON array (the inverse of `decodeJsonArray`). */
export function encodeJsonArray(value: unknown): NdArray {
  const data = new TextEncoder().encode(JSON.stringify(toJsonSafe(value)));
  return { dtype: 'uint8', shape: [data.length], data };
}
