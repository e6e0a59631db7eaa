/** Reference fixtures in the repository's test/fixtures/nn (tools/reference/make_nn_fixtures.py). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type NdArray, npzJson, readCheckpoint, readNpz, toFloat32 } from '@pfgmpp/io';
import type { TensorData } from '@pfgmpp/nn';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/nn/', import.meta.url));

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(FIXTURES + name));
}

export class Npz {
  readonly arrays: Map<string, NdArray>;
  constructor(name: string) {
    this.arrays = readNpz(fixtureBytes(name));
  }
  has(key: string): boolean {
    return this.arrays.has(key);
  }
  get(key: string): NdArray {
    const a = this.arrays.get(key);
    if (!a) throw new Error(`fixture has no ${key}`);
    return a;
  }
  f32(key: string): Float32Array {
    return toFloat32(this.get(key));
  }
  json<T>(key: string): T {
    return npzJson(this.arrays, key) as T;
  }
  /** Entries `<prefix><name>` as a state dict keyed by `<name>`. */
  stateDict(prefix: string): Map<string, TensorData> {
    const sd = new Map<string, TensorData>();
    for (const [k, a] of this.arrays) {
      if (k.startsWith(prefix))
        sd.set(k.slice(prefix.length), { shape: a.shape, data: toFloat32(a) });
    }
    return sd;
  }
}

/** The official state dict of a network fixture, read from its torch.save `.pt` file. */
export function ptStateDict(name: string): Map<string, TensorData> {
  const ck = readCheckpoint(fixtureBytes(`${name}.pt`), { fileName: `${name}.pt` });
  const sd = new Map<string, TensorData>();
  for (const [k, e] of ck.tensors) sd.set(k, { shape: e.shape, data: e.data });
  return sd;
}
