/** ZIP container: what NumPy and torch write, and corrupt, truncated and lying archives. */
import { deflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import {
  crc32,
  FormatError,
  readNpz,
  readZipEntries,
  readZipEntry,
  writeZip,
} from '../src/index.ts';
import { fixture } from './fixtures.ts';

const enc = new TextEncoder();

function archive(compress = false) {
  return writeZip(
    [
      { name: 'a.txt', data: enc.encode('hello hello hello hello hello') },
      { name: 'dir/b.bin', data: Uint8Array.from({ length: 300 }, (_, i) => i % 7) },
      { name: 'empty', data: new Uint8Array(0) },
    ],
    compress,
  );
}

describe('zip', () => {
  it('round-trips stored and deflated members', () => {
    for (const compress of [false, true]) {
      const bytes = archive(compress);
      const entries = readZipEntries(bytes);
      expect(entries.map((e) => [e.name, e.size])).toEqual([
        ['a.txt', 29],
        ['dir/b.bin', 300],
        ['empty', 0],
      ]);
      expect(entries[1]?.method).toBe(compress ? 8 : 0);
      expect(new TextDecoder().decode(readZipEntry(bytes, entries[0]!))).toBe(
        'hello hello hello hello hello',
      );
    }
    expect(crc32(enc.encode('123456789'))).toBe(0xcbf43926);
  });

  it('takes data offsets from the local header (torch pads it) and sizes from zip64 extras', () => {
    const pt = fixture('edm_adm_uncond.pt');
    const entries = readZipEntries(pt);
    expect(entries[0]?.name).toBe('edm_adm_uncond/data.pkl');
    const storages = entries.filter((e) => e.name.includes('/data/'));
    expect(storages.length).toBe(124);
    // torch 1.13 aligns every storage record to 64 bytes with an 'FB' extra field.
    expect(storages.every((e) => e.dataOffset % 64 === 0)).toBe(true);
    // NumPy's savez writes zip64 local headers (sizes 0xffffffff + extra); the directory is right.
    expect(readNpz(fixture('numpy_little.npz')).size).toBe(48);
  });

  it('rejects a non-ZIP, a truncated archive and a corrupt directory', () => {
    const bytes = archive(true);
    expect(() => readZipEntries(enc.encode('just some text that is long enough'))).toThrow(
      /no end-of-central-directory record/,
    );
    expect(() => readZipEntries(new Uint8Array(5))).toThrow(/only 5 bytes/);
    expect(() => readZipEntries(bytes.subarray(0, bytes.length - 10))).toThrow(FormatError);
    expect(() => readZipEntries(bytes.subarray(40))).toThrow(
      /central directory .* ends past the file end|local header/,
    );
    const cd = bytes.slice();
    const view = new DataView(cd.buffer);
    const cdOffset = view.getUint32(cd.length - 6, true);
    view.setUint32(cdOffset, 0x12345678, true);
    expect(() => readZipEntries(cd)).toThrow(/central directory entry 0 of 3 is missing/);
    const method = bytes.slice();
    new DataView(method.buffer).setUint16(cdOffset + 10, 14, true);
    expect(() => readZipEntries(method)).toThrow(
      /compression method 14; only stored \(0\) and deflate \(8\)/,
    );
    const encrypted = bytes.slice();
    new DataView(encrypted.buffer).setUint16(cdOffset + 8, 1, true);
    expect(() => readZipEntries(encrypted)).toThrow(/encrypted/);
    const local = bytes.slice();
    new DataView(local.buffer).setUint32(0, 0, true);
    expect(() => readZipEntries(local)).toThrow(/local header of 'a.txt' not found/);
  });

  it('detects CRC mismatches, bad deflate data and size lies', () => {
    const stored = archive(false);
    const e = readZipEntries(stored)[0]!;
    const flipped = stored.slice();
    flipped[e.dataOffset + 3]! ^= 0xff;
    expect(() => readZipEntry(flipped, readZipEntries(flipped)[0]!)).toThrow(
      /CRC-32 mismatch in entry 'a.txt'/,
    );
    expect(readZipEntry(flipped, readZipEntries(flipped)[0]!, false).length).toBe(29);

    const deflated = archive(true);
    const d = readZipEntries(deflated)[1]!;
    const bad = deflated.slice();
    bad.fill(0xff, d.dataOffset, d.dataOffset + d.compressedSize);
    expect(() => readZipEntry(bad, readZipEntries(bad)[1]!)).toThrow(
      /'dir\/b.bin' has invalid deflate data|inflates to/,
    );

    // A member that claims far more than its compressed bytes can hold (a zip bomb's lie).
    const bomb = writeZip([{ name: 'x.npy', data: new Uint8Array(4000) }], true);
    const bv = new DataView(bomb.buffer);
    const cdOffset = bv.getUint32(bomb.length - 6, true);
    bv.setUint32(cdOffset + 24, 2_000_000_000, true);
    expect(() => readZipEntries(bomb)).toThrow(/claims 2000000000 bytes from \d+ compressed bytes/);
    // A member that inflates to less than it says.
    const short = writeZip([{ name: 'y', data: new Uint8Array(4000) }], true);
    const sv = new DataView(short.buffer);
    const sOff = sv.getUint32(short.length - 6, true);
    sv.setUint32(sOff + 24, 4001, true);
    expect(() => readZipEntry(short, readZipEntries(short)[0]!)).toThrow(
      /inflates to 4000 bytes, expected 4001/,
    );
    const long = writeZip([{ name: 'z', data: new Uint8Array(4000) }], true);
    const lv = new DataView(long.buffer);
    lv.setUint32(lv.getUint32(long.length - 6, true) + 24, 3000, true);
    expect(() => readZipEntry(long, readZipEntries(long)[0]!)).toThrow(
      /inflates to more than bytes, expected 3000|inflates to more than/,
    );
    expect(deflateSync(new Uint8Array(1)).length).toBeGreaterThan(0);
  });

  it('rejects duplicate member names', () => {
    const dup = writeZip([
      { name: 'a.npy', data: new Uint8Array(1) },
      { name: 'a.npy', data: new Uint8Array(2) },
    ]);
    expect(() => readZipEntries(dup)).toThrow(/duplicate entry 'a.npy'/);
  });
});
