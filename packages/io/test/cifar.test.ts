import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { FormatError, readCifar10, readTar } from '../src/index.ts';
import { dtBytes, dtNpz, makeTar } from './dataset-helpers.ts';
import { latin1 } from './fixtures.ts';

const enc = new TextEncoder();

function fails(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    return e as Error;
  }
  throw new Error('expected a FormatError');
}

describe('tar reader', () => {
  it('lists the regular files of the CIFAR fixture (gzipped ustar)', () => {
    const names = readTar(dtBytes('cifar-mini.tar.gz')).map((e) => e.name);
    expect(names).toContain('cifar-10-batches-py/data_batch_5');
    expect(names).toContain('cifar-10-batches-py/test_batch');
  });

  it('reads GNU long names, pax paths and skips folders', () => {
    const long = `${'d/'.repeat(70)}file.bin`;
    const body = ` path=${'p/'.repeat(60)}q\n`;
    const pax = enc.encode(`${body.length + 3}${body}`); // the length counts its own 3 digits
    const tar = makeTar([
      { name: 'dir/', data: new Uint8Array(0), type: '5' },
      { name: '././@LongLink', data: enc.encode(`${long}\0`), type: 'L' },
      { name: 'cut', data: Uint8Array.of(1, 2, 3) },
      { name: 'PaxHeader', data: pax, type: 'x' },
      { name: 'short', data: new Uint8Array(600).fill(7) },
      { name: 'plain.txt', data: enc.encode('hi') },
    ]);
    const entries = readTar(tar);
    expect(entries.map((e) => e.name)).toEqual([long, `${'p/'.repeat(60)}q`, 'plain.txt']);
    expect(entries[1]?.data.length).toBe(600);
    expect(readTar(gzipSync(tar)).length).toBe(3);
  });

  it('rejects truncated, corrupt and non-tar input', () => {
    const tar = makeTar([{ name: 'a', data: new Uint8Array(1000).fill(1) }]);
    expect(fails(() => readTar(tar.subarray(0, 700))).message).toMatch(
      /truncated tar: member 'a' needs 1000 bytes/,
    );
    expect(fails(() => readTar(tar.subarray(0, 300))).message).toMatch(/ends inside a header/);
    const bad = tar.slice();
    bad[0] = 0x62; // name changes, checksum does not
    expect(fails(() => readTar(bad)).message).toMatch(/header checksum mismatch at byte 0/);
    expect(fails(() => readTar(enc.encode('x'.repeat(600)))).message).toMatch(/not octal|checksum/);
    const gz = gzipSync(tar);
    expect(fails(() => readTar(gz.subarray(0, gz.length - 30))).message).toMatch(/gzip/);
    expect(fails(() => readTar(new Uint8Array(0))).message).toMatch(/empty tar/);
  });
});

describe('CIFAR-10 python tarball', () => {
  it('reads data_batch_1..5 (not test_batch) with labels, as the fixture says', () => {
    const c = readCifar10(dtBytes('cifar-mini.tar.gz'));
    const npz = dtNpz('cifar-mini_pixels.npz');
    expect(c.count).toBe(35);
    expect(c.images).toEqual(npz.get('train_images_nchw')?.data);
    expect(Array.from(c.labels)).toEqual(
      Array.from(npz.get('train_labels')?.data as BigInt64Array, Number),
    );
  });

  it('names what is wrong: missing batches, bad pickles, bad data and labels', () => {
    const ok = readTar(dtBytes('cifar-mini.tar.gz'));
    const batch = (i: number) =>
      ok.find((e) => e.name === `cifar-10-batches-py/data_batch_${i}`)?.data as Uint8Array;
    const withBatch1 = (data: Uint8Array) =>
      makeTar([
        { name: 'cifar-10-batches-py/data_batch_1', data },
        ...[2, 3, 4, 5].map((i) => ({
          name: `cifar-10-batches-py/data_batch_${i}`,
          data: batch(i),
        })),
      ]);
    expect(fails(() => readCifar10(makeTar([{ name: 'x', data: batch(1) }]))).message).toMatch(
      /not a CIFAR-10 python archive: missing cifar-10-batches-py\/data_batch_1, .*data_batch_5 \(has x\)/,
    );
    expect(fails(() => readCifar10(withBatch1(batch(1).subarray(0, 500)))).message).toMatch(
      /^cifar-10-batches-py\/data_batch_1: .*truncated/,
    );
    // Protocol-0 pickles of dicts without proper 'data'/'labels'.
    expect(
      fails(() => readCifar10(withBatch1(latin1("(dp0\nS'labels'\np1\n(lp2\nI1\nas.")))).message,
    ).toMatch(/data_batch_1: 'data' is not a 2-d uint8 array/);
    expect(fails(() => readCifar10(withBatch1(latin1('(lp0\n.')))).message).toMatch(
      /'data' is not/,
    );
    // Set the first label to 10 in the real pickle: after 'labels', ids are BININT1 (K) opcodes.
    const b1 = batch(1).slice();
    const key = Buffer.from(b1).indexOf('labels');
    const at = b1.indexOf(0x4b, key); // the first K after the key
    b1[at + 1] = 10;
    expect(fails(() => readCifar10(withBatch1(b1))).message).toMatch(
      /data_batch_1: label 0 is 10, not in 0\.\.9/,
    );
  });
});
