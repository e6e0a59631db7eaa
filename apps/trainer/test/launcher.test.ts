/**
 * bin/pfgmpp.js, the command users run: Dawn's "artificially reduced ... dynamic offset
 * allocation limit" lines (printed from native code on lavapipe and RADV) do not reach them,
 * every other line does, and the exit status is the command's.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/pfgmpp.js', import.meta.url));
const NET = fileURLToPath(new URL('../assets/mnist16-pfgmpp-d128.safetensors', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-launcher-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('the pfgmpp launcher', () => {
  it('passes a usage error through with its exit status', () => {
    const r = run('trian');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^pfgmpp: unknown command 'trian'/);
  });
});

describe.skipIf(GPU_SKIP_REASON)('the pfgmpp launcher on the GPU', () => {
  it('a command that opens the adapter prints no Dawn limit warning, and its own lines', () => {
    const grid = join(dir, 'grid.png');
    const r = run('generate', '--network', NET, '--seeds', '0-1', '--steps', '2', '--grid', grid);
    expect(r.code).toBe(0);
    expect(r.err).not.toMatch(/artificially reduced/);
    expect(r.err).toMatch(/^adapter: /);
    expect(r.err).toMatch(/generate: 2\/2 images/);
    expect(r.out).toMatch(/^generated 2 images/);
    expect(statSync(grid).size).toBeGreaterThan(0);
  });
});
