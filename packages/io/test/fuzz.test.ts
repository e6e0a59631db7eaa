/**
 * Seeded fuzzing of every reader: valid files with random bytes changed and/or cut short must
 * either parse or fail with the package's typed errors (FormatError and its subclasses), within a
 * time budget and without producing more data than the input can justify. Anything else (a
 * TypeError, RangeError or plain Error) is a bug in a reader; a failure lists seed, file and
 * mutation so it can be replayed with `mutate`. The Node writers get random invalid arrays and
 * must refuse them with typed errors, leaving no file behind. Structures that random bytes
 * rarely hit are in hostile.test.ts.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import {
  encodeCheckpoint,
  encodePng,
  FormatError,
  ImageDataset,
  type NdArray,
  readCheckpoint,
  readCifar10,
  readNpy,
  readNpz,
  readSafetensors,
  readZipEntries,
  readZipEntry,
  type TensorInput,
  unpickle,
  writeSafetensors,
  zipSource,
} from '../src/index.ts';
import {
  decodeImage,
  decodePng,
  writeCheckpointFile,
  writeNpz as writeNpzFile,
  writeSafetensors as writeSafetensorsFile,
} from '../src/node.ts';
import { dtBytes } from './dataset-helpers.ts';
import { fixture, repoFixture } from './fixtures.ts';
import {
  fixPngCrcs,
  mutate,
  mutateMember,
  outputBytes,
  rng,
  SCALE,
  SEED,
  TIME_BUDGET_MS,
} from './fuzz-helpers.ts';
import { sample } from './sample.ts';

type Mutator = (src: Uint8Array, random: () => number) => { bytes: Uint8Array; how: string };

interface Target {
  name: string;
  bytes: Uint8Array;
  iterations: number;
  parse: (bytes: Uint8Array) => unknown;
  mutator: Mutator;
}

const member: Mutator = (src, random) => mutateMember(src, random, /data\.pkl$/);
const png: Mutator = (src, random) => {
  const m = mutate(src, random);
  return { bytes: fixPngCrcs(m.bytes), how: m.how };
};

const zipAll = (b: Uint8Array) => readZipEntries(b).map((e) => readZipEntry(b, e));
const checkpoint = (b: Uint8Array) => readCheckpoint(b, { fileName: 'fuzz.pt' });

async function dataset(b: Uint8Array) {
  const ds = await ImageDataset.open(zipSource(b, 'fuzz.zip', decodeImage));
  const out = [];
  for (let i = 0; i < ds.length; i++) out.push(await ds.image(i), ds.label(i));
  return out;
}

function targets(): Target[] {
  const t: Target[] = [];
  const add = (
    name: string,
    bytes: Uint8Array,
    iterations: number,
    parse: Target['parse'],
    mutator: Mutator = mutate,
  ) => t.push({ name, bytes, iterations, parse, mutator });
  add('imagefolder.zip (zip)', dtBytes('imagefolder.zip'), 200, zipAll);
  add('cifar-mini.zip (zip)', dtBytes('cifar-mini.zip'), 50, zipAll);
  add('imagefolder.zip (dataset)', dtBytes('imagefolder.zip'), 100, dataset);
  add('imagefolder.zip (dataset, members)', dtBytes('imagefolder.zip'), 150, dataset, member);
  add('cifar-mini.tar', gunzipSync(dtBytes('cifar-mini.tar.gz')), 40, readCifar10);
  for (const name of ['cats/a_wide', 'cats/b_gray', 'dogs/c_exact', 'dogs/d_tall_odd']) {
    const bytes = dtBytes(`imagefolder_src/${name}.png`);
    add(`${name}.png`, bytes, 40, (b) => decodePng(b));
    add(`${name}.png (checksums fixed)`, bytes, 60, (b) => decodePng(b), png);
  }
  const rgba = { width: 5, height: 3, channels: 4, data: sample('uint8', [60]).data as Uint8Array };
  add('encodePng level 6', encodePng(rgba, 6), 80, (b) => decodePng(b), png);
  for (const npy of ['v1', 'v2', 'v3', 'fortran', 'structured', 'object']) {
    add(`numpy_${npy}.npy`, fixture(`numpy_${npy}.npy`), 50, readNpy);
  }
  for (const npz of ['numpy_little.npz', 'numpy_compressed.npz', 'kernel_stats.npz']) {
    add(npz, fixture(npz), 50, readNpz);
    add(`${npz} (members)`, fixture(npz), 70, readNpz, member);
  }
  const st = writeSafetensors(
    { a: sample('float32', [3, 2]), b: sample('bfloat16', [4]), c: sample('int64', []) },
    { config: '{"x": 1}' },
  );
  add('safetensors', st, 200, readSafetensors);
  const official = readCheckpoint(fixture('stub-training-state.pt'));
  const ours = encodeCheckpoint({
    kind: 'training-state',
    initKwargs: official.initKwargs!,
    net: official.net!,
    optimizer: official.optimizer!,
    step: 20480,
    rng: { seed: 1 },
  });
  add('our checkpoint (safetensors)', ours, 200, checkpoint);
  for (let p = 0; p <= 5; p++) add(`pickle_p${p}.pkl`, fixture(`pickle_p${p}.pkl`), 60, unpickle);
  for (const pkl of [
    'stub-persistent-modules.pkl',
    'stub-network-snapshot.pkl',
    'stub-training-state.pkl',
  ]) {
    add(pkl, fixture(pkl), 120, checkpoint);
  }
  for (const pt of [
    'torch_legacy.pt',
    'torch_legacy_big.pt',
    'torch_zip.pt',
    'torch_zip_big.pt',
    'stub-training-state.pt',
    'stub-edm-training-state.pt',
  ]) {
    add(pt, fixture(pt), 40, checkpoint);
    if (pt.includes('zip') || pt.includes('state'))
      add(`${pt} (members)`, fixture(pt), 80, checkpoint, member);
  }
  // A training state as the official code writes it: numpy scalars, codecs, embedded source.
  const genuine = repoFixture('official/edm_ncsnpp_rand/training-state-000123.pt');
  add('official training-state-000123.pt (members)', genuine, 40, checkpoint, member);
  return t;
}

describe('fuzz: mutated files only raise typed errors', () => {
  it('flips and truncations of ZIP, PNG, npy, npz, safetensors, pickle and torch files', async () => {
    const leaks: string[] = [];
    let runs = 0;
    let failures = 0;
    let slowest = 0;
    for (const [k, target] of targets().entries()) {
      const random = rng(0x5eed + k + SEED * 1000);
      for (let i = 0; i < target.iterations * SCALE; i++) {
        const { bytes, how } = target.mutator(target.bytes, random);
        const start = performance.now();
        let out: unknown;
        try {
          out = await target.parse(bytes);
        } catch (e) {
          failures++;
          if (!(e instanceof FormatError)) {
            const err = e as Error;
            leaks.push(`${target.name} #${i} (${how}): ${err?.name}: ${err?.message}`);
          }
        }
        const ms = performance.now() - start;
        slowest = Math.max(slowest, ms);
        if (ms > TIME_BUDGET_MS)
          leaks.push(`${target.name} #${i} (${how}): took ${ms.toFixed(0)} ms`);
        // Deflate can expand ~1032x; beyond that a reader made data out of nothing.
        const produced = outputBytes(out);
        if (produced > 1100 * target.bytes.length + (1 << 20)) {
          leaks.push(`${target.name} #${i} (${how}): produced ${produced} bytes`);
        }
        runs++;
      }
    }
    expect(leaks).toEqual([]);
    expect(runs).toBeGreaterThan(3000 * SCALE);
    // Most mutations must actually be caught, or the mutator is too timid to mean anything.
    expect(failures / runs).toBeGreaterThan(0.5);
    expect(slowest).toBeLessThan(TIME_BUDGET_MS);
  });
});

describe('fuzz: Node writers', () => {
  const DTYPE_LIST = [
    'float32',
    'float16',
    'bfloat16',
    'int64',
    'uint8',
    'bool',
    'float64',
  ] as const;
  type Broken = (a: NdArray) => unknown;
  const BREAKS: [string, Broken][] = [
    ['one value too many', (a) => ({ ...a, shape: [...a.shape, 2] })],
    ['negative size', (a) => ({ ...a, shape: [...a.shape, -1] })],
    ['NaN size', (a) => ({ ...a, shape: [Number.NaN] })],
    ['shape is a string', (a) => ({ ...a, shape: '3' })],
    ['unknown dtype', (a) => ({ ...a, dtype: 'complex64' })],
    ["dtype '__proto__'", (a) => ({ ...a, dtype: '__proto__' })],
    ['data null', (a) => ({ ...a, data: null })],
    ['data a plain list', (a) => ({ ...a, data: [...(a.data as Float32Array)] })],
    [
      'data of another type',
      (a) => ({
        ...a,
        data: new (a.dtype === 'float64' ? Float32Array : Float64Array)(a.data.length),
      }),
    ],
    ['no array at all', () => undefined],
  ];

  it('invalid input: typed errors, and no file or temporary left behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-io-fuzz-'));
    const random = rng(0xf11e + SEED);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)] as T;
    const written: string[] = [];
    const leaks: string[] = [];
    try {
      for (let i = 0; i < 120 * SCALE; i++) {
        const writer = pick(['npz', 'safetensors', 'checkpoint'] as const);
        const arrays = new Map<string, unknown>();
        let expectFailure = false;
        const count = 1 + Math.floor(random() * 3);
        for (let k = 0; k < count; k++) {
          const dtype = writer === 'checkpoint' ? 'float32' : pick(DTYPE_LIST);
          if (writer === 'npz' && dtype === 'bfloat16') expectFailure = true; // no NumPy dtype
          const shape = Array.from(
            { length: Math.floor(random() * 3) },
            () => 1 + Math.floor(random() * 3),
          );
          arrays.set(`a${k}`, sample(dtype, shape));
        }
        let how = 'valid';
        if (random() < 0.7) {
          // Checkpoint tensors are float32 by definition: their writer takes no dtype.
          const [what, broken] = pick(
            BREAKS.filter(([w]) => writer !== 'checkpoint' || !w.includes('dtype')),
          );
          const key = `a${Math.floor(random() * count)}`;
          arrays.set(key, broken(arrays.get(key) as NdArray));
          how = `${key}: ${what}`;
          expectFailure = true;
        }
        const path = join(dir, `f${i}.${writer === 'npz' ? 'npz' : 'safetensors'}`);
        let failed = false;
        try {
          const maps = arrays as Map<string, NdArray>;
          if (writer === 'npz') await writeNpzFile(path, maps);
          else if (writer === 'safetensors') await writeSafetensorsFile(path, maps);
          else
            await writeCheckpointFile(path, {
              kind: 'network-snapshot',
              initKwargs: {},
              ema: maps as Map<string, TensorInput>,
            });
        } catch (e) {
          failed = true;
          if (!(e instanceof FormatError))
            leaks.push(`#${i} ${writer} ${how}: ${(e as Error).name}: ${(e as Error).message}`);
        }
        if (failed !== expectFailure)
          leaks.push(`#${i} ${writer} ${how}: ${failed ? 'failed' : 'was written'}`);
        if (!failed) written.push(`f${i}.${writer === 'npz' ? 'npz' : 'safetensors'}`);
        expect(readdirSync(dir).sort()).toEqual([...written].sort());
      }
      expect(leaks).toEqual([]);
      expect(written.length).toBeGreaterThan(10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
