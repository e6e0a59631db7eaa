/** The Node entry: files in and out, atomic writes, and errors that name the file. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FormatError,
  loadTorchFile,
  loadTorchStateDictFile,
  readNpz,
  readSafetensors,
  UnsafePickleError,
  writeFileAtomic,
  writeNpz,
  writeSafetensors,
} from '../src/node.ts';
import { FIXTURES, latin1 } from './fixtures.ts';
import { sample } from './sample.ts';

const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-io-node-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function error(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('node entry', () => {
  it('node.ts and node/ are the only modules that use Node or pngjs (the core runs in browsers)', () => {
    const src = new URL('../src/', import.meta.url);
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.ts'),
    );
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      if (f === 'node.ts' || f.startsWith('node/')) continue;
      const text = readFileSync(new URL(f, src), 'utf8');
      expect(text, f).not.toMatch(/from '(node:|pngjs)|\bBuffer\b|\bprocess\.|require\(/);
    }
  });

  it('writes and reads .npz and .safetensors, leaving no temporary files', async () => {
    const npz = join(dir, 'a.npz');
    await writeNpz(
      npz,
      { x: sample('float32', [3, 1, 5]), y: sample('int64', []) },
      { compress: true },
    );
    const back = await readNpz(npz);
    expect([...back.keys()]).toEqual(['x', 'y']);
    const st = join(dir, 'ckpt.safetensors');
    await writeSafetensors(st, { w: sample('bfloat16', [2, 3]) }, { step: '7' });
    await writeSafetensors(st, { w: sample('float16', [4]) }, { step: '8' });
    const s = await readSafetensors(st);
    expect([s.tensors.get('w')?.dtype, s.metadata.step]).toEqual(['float16', '8']);
    expect(readdirSync(dir).sort()).toEqual(['a.npz', 'ckpt.safetensors']);
  });

  it('leaves neither a partial file nor a temporary one when a write fails', async () => {
    const bad = join(dir, 'bad.npz');
    const e = await error(
      writeNpz(bad, { x: { dtype: 'float32', shape: [3], data: new Float32Array(2) } }),
    );
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(
      new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: x: shape \\[3\\]`),
    );
    const missing = join(dir, 'no-such-dir', 'c.npz');
    expect((await error(writeFileAtomic(missing, new Uint8Array(3)))).message).toMatch(
      /no-such-dir\/c\.npz: cannot write/,
    );
    // A rename onto a directory fails after the temporary file was written: it must be removed.
    const target = join(dir, 'is-a-dir');
    (await import('node:fs')).mkdirSync(target);
    expect((await error(writeFileAtomic(target, new Uint8Array(3)))).message).toMatch(
      /is-a-dir: cannot write/,
    );
    expect(readdirSync(dir).sort()).toEqual(['a.npz', 'ckpt.safetensors', 'is-a-dir']);
  });

  it('names the file in read errors and keeps the error class', async () => {
    const corrupt = join(dir, 'corrupt.npz');
    writeFileSync(corrupt, new TextEncoder().encode('not a zip at all, just text'));
    const e = (await error(readNpz(corrupt))) as FormatError;
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toBe(
      `${corrupt}: not a ZIP archive, or truncated: no end-of-central-directory record`,
    );
    expect(e.file).toBe(corrupt);
    const evil = join(dir, 'evil.pt');
    writeFileSync(evil, latin1('\x80\x02cos\nsystem\n(X\x02\x00\x00\x00lstR.'));
    const u = await error(loadTorchFile(evil));
    expect(u).toBeInstanceOf(UnsafePickleError);
    expect(u.message).toMatch(
      new RegExp(
        `^${evil.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: pickle wants to call os\\.system`,
      ),
    );
    expect((await error(readSafetensors(join(dir, 'absent.safetensors')))).message).toMatch(
      /absent\.safetensors: cannot read/,
    );
    rmSync(corrupt);
    rmSync(evil);
  });

  it('loads torch files and their state dicts', async () => {
    const ckpt = await loadTorchFile(join(FIXTURES, 'torch_legacy.pt'));
    expect(ckpt.format).toBe('legacy');
    const sd = await loadTorchStateDictFile(join(FIXTURES, 'stub-persistent-modules.pkl'), {
      key: 'ema',
    });
    expect(sd.get('model.map')?.shape).toEqual([2, 2]);
    const e = await error(loadTorchStateDictFile(join(FIXTURES, 'stub-persistent-modules.pkl')));
    expect(e.message).toMatch(/stub-persistent-modules\.pkl: not a state dict/);
  });
});
