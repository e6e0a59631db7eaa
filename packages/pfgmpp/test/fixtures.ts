/** Test fixtures in test/fixtures/pfgmpp (written by tools/reference/make_pfgmpp_fixtures.py). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type NdArray, npzJson, readNpz } from '@pfgmpp/io';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/pfgmpp/', import.meta.url));

export function npz(name: string): Map<string, NdArray> {
  return readNpz(new Uint8Array(readFileSync(FIXTURES + name)));
}

export function json(name: string): unknown {
  return JSON.parse(readFileSync(FIXTURES + name, 'utf8'));
}

/** The array under `key` as float64; throws naming a missing key. */
export function f64(arrays: Map<string, NdArray>, key: string): Float64Array {
  const a = arrays.get(key);
  if (!a) throw new Error(`fixture has no key '${key}'`);
  return Float64Array.from(a.data as ArrayLike<number>);
}

export { npzJson };
