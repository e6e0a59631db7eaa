/**
 * Regressions for what the fuzz test cannot reach by flipping bytes: hostile structures a few
 * bytes of pickle can describe (huge expanded views, repeated views of one storage, 2^40-path
 * shared data, deep nesting), a lying zip64 field and a forged PNG size. Each must be a typed
 * error, quickly and without large allocations.
 */
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  encodePng,
  FormatError,
  readCheckpoint,
  readZipEntries,
  writeZip,
} from '../src/index.ts';
import { decodePng } from '../src/node.ts';
import { latin1 } from './fixtures.ts';
import { fixPngCrcs, TIME_BUDGET_MS } from './fuzz-helpers.ts';

/** Hand-written protocol-2 pickles for the structures random bytes rarely hit. */
const u32 = (n: number) =>
  String.fromCharCode(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255);
const str = (s: string) => `X${u32(s.length)}${s}`;
const int = (n: number) => `J${u32(n)}`;
const ints = (xs: number[]) => `(${xs.map(int).join('')}t`;
const memo = (k: number) => `r${u32(k)}`;
const get = (k: number) => `j${u32(k)}`;
const STORAGE = `(${str('storage')}ctorch\nFloatStorage\n${str('0')}${str('cpu')}`;
const tensor = (storage: string, size: number[], stride: number[]) =>
  `ctorch._utils\n_rebuild_tensor_v2\n(${storage}${int(0)}${ints(size)}${ints(stride)}\x89NtR`;
const PERSISTENT = 'ctorch_utils.persistence\n_reconstruct_persistent_obj\n';
const persistent = (state: string) =>
  `${PERSISTENT}(}(${str('class_name')}${str('M')}${str('state')}${state}utR`;

function ptOf(pickle: string, storageBytes: number): Uint8Array {
  return writeZip([
    { name: 'a/data.pkl', data: latin1(`\x80\x02${pickle}.`) },
    { name: 'a/data/0', data: new Uint8Array(storageBytes) },
  ]);
}

function failure(fn: () => unknown): Error {
  const start = performance.now();
  try {
    fn();
  } catch (e) {
    expect(performance.now() - start).toBeLessThan(TIME_BUDGET_MS);
    return e as Error;
  }
  throw new Error('expected a failure');
}

describe('hostile structures are typed errors, fast and small', () => {
  it('an expanded tensor of 2^32 elements over one float', () => {
    const pt = ptOf(`}(${str('w')}${tensor(`${STORAGE}${int(1)}tQ`, [65536, 65536], [0, 0])}u`, 4);
    const e = failure(() => readCheckpoint(pt));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(/tensor 'w' \[65536,65536\] would bring the copies to \d+ bytes/);
  });

  it('hundreds of full views of one 1 MiB storage (copies limited by the storage size)', () => {
    const n = 1 << 18;
    let items = `${str('t0')}${tensor(`${STORAGE}${int(n)}tQ${memo(0)}`, [n], [1])}`;
    for (let i = 1; i < 300; i++) items += `${str(`t${i}`)}${tensor(get(0), [n], [1])}`;
    const e = failure(() => readCheckpoint(ptOf(`}(${items}u`, 4 * n)));
    expect(e.message).toMatch(/far more than its storages hold/);
    // One tensor object under many names is shared, not copied.
    let names = `${str('a0')}${tensor(`${STORAGE}${int(n)}tQ`, [n], [1])}${memo(1)}`;
    for (let i = 1; i < 300; i++) names += `${str(`a${i}`)}${get(1)}`;
    const ok = readCheckpoint(ptOf(`}(${names}u`, 4 * n));
    expect(ok.tensors.size).toBe(300);
    expect(ok.tensors.get('a299')).toBe(ok.tensors.get('a0'));
  });

  it('shared lists in _init_kwargs and shared submodules, 40 levels deep (2^40 paths)', () => {
    let list = `]${memo(0)}0`;
    for (let i = 1; i <= 40; i++) list += `${get(i - 1)}${get(i - 1)}\x86${memo(i)}0`;
    const kwargs = `}(${str('_init_kwargs')}}(${str('k')}${get(40)}uu`;
    const laughs = latin1(`\x80\x02${list}}(${str('ema')}${persistent(kwargs)}u.`);
    const e = failure(() => readCheckpoint(laughs));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toMatch(/more than 100000 values/);
    let mods = `${persistent(`}(${str('_modules')}}u`)}${memo(0)}0`;
    for (let i = 1; i <= 40; i++) {
      const children = `}(${str('a')}${get(i - 1)}${str('b')}${get(i - 1)}u`;
      mods += `${persistent(`}(${str('_modules')}${children}u`)}${memo(i)}0`;
    }
    const dag = latin1(`\x80\x02${mods}}(${str('ema')}${get(40)}u.`);
    expect(failure(() => readCheckpoint(dag)).message).toMatch(/more than 100000 module visits/);
  });

  it('a persistent id nested 100,000 lists deep', () => {
    const deep = latin1(`\x80\x02${']'.repeat(100_000)}${'a'.repeat(99_999)}Q.`);
    const e = failure(() => readCheckpoint(deep));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(/unsupported persistent id \(a tuple\/list; not a torch storage\)/);
  });

  it('a zip64 extra field that claims to run past the central directory entry', () => {
    const zip = writeZip([{ name: 'x', data: Uint8Array.of(1, 2, 3) }]);
    const cd = zip.length - 22 - (46 + 1);
    // Insert a 4-byte extra {id 1, length 0xffff} after the name, and mark the size as zip64.
    const out = new Uint8Array(zip.length + 4);
    out.set(zip.subarray(0, cd + 47));
    out.set([1, 0, 0xff, 0xff], cd + 47);
    out.set(zip.subarray(cd + 47), cd + 51);
    const view = new DataView(out.buffer);
    view.setUint32(cd + 24, 0xffffffff, true);
    view.setUint16(cd + 30, 4, true);
    view.setUint32(out.length - 22 + 12, 51, true);
    expect(failure(() => readZipEntries(out)).message).toMatch(/short zip64 field in 'x'/);
  });

  it('a PNG header announcing 8192 x 8192 16-bit RGBA over a few bytes of data', () => {
    const bytes = encodePng({ width: 2, height: 2, channels: 4, data: new Uint8Array(16) }).slice();
    const view = new DataView(bytes.buffer);
    view.setUint32(16, 8192);
    view.setUint32(20, 8192);
    bytes[24] = 16;
    const e = failure(() => decodePng(fixPngCrcs(bytes)));
    expect(e.message).toMatch(/cannot hold the \d+ bytes of scanlines 8192x8192 needs/);
  });
});
