/** Test fixtures in the repository's test/fixtures/fid (written by tools/reference/make_fid_fixtures.py). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type NdArray, readNpz } from '@pfgmpp/io';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/fid/', import.meta.url));

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(FIXTURES + name));
}

export function fixtureJson(name: string): unknown {
  return JSON.parse(new TextDecoder().decode(fixture(name)));
}

export function fixtureNpz(name: string): Map<string, NdArray> {
  return readNpz(fixture(name));
}

/** An npz array as float64 (throws when absent). */
export function arrayOf(npz: Map<string, NdArray>, key: string): Float64Array {
  const a = npz.get(key);
  if (!a) throw new Error(`fixture array '${key}' missing`);
  return Float64Array.from(a.data as ArrayLike<number>);
}

/** max |a - b| / max |b|: how the reference README states its tolerances. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return err / scale;
}
