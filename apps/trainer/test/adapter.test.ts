/**
 * The adapter of a command, in processes of their own (the device is made once per process):
 * `--adapter NAME` picks it by name and the command names it at start, with a line saying so
 * when it is a software rasterizer; a name no adapter has is one line listing those there are.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '..', 'bin', 'pfgmpp.js');
const NET = join(import.meta.dirname, '..', 'assets', 'mnist16-pfgmpp-d128.safetensors');
const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-adapter-'));

function generate(adapter: string) {
  const r = spawnSync(
    process.execPath,
    [
      BIN,
      'generate',
      '--adapter',
      adapter,
      '--network',
      NET,
      '--seeds',
      '0-1',
      '--steps',
      '2',
      '--save-npy',
      join(dir, `${adapter}.npy`),
    ],
    { encoding: 'utf8', timeout: 300_000, env: { ...process.env, PFGMPP_ADAPTER: '' } },
  );
  const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('Warning: maxDynamic'));
  return { code: r.status, lines };
}

describe.skipIf(GPU_SKIP_REASON)('--adapter', () => {
  it('picks the adapter by name and names it at start; a software rasterizer is said to be one', async () => {
    // The adapter these tests run on (lavapipe in CI), asked for by the first word of its
    // description (llvmpipe, a GPU's name).
    const gpu = await testGpu();
    const info = gpu.adapterInfo;
    const name = (info.description || info.device).split(/[\s:]/)[0] as string;
    const r = generate(name);
    expect(r.code, r.lines.join('\n')).toBe(0);
    expect(r.lines[0]).toContain(`adapter: ${info.vendor}, `);
    expect(r.lines[0]).toContain(name);
    const software = /^adapter: this is a software rasterizer: the CPU runs every kernel/;
    expect(software.test(r.lines[1] ?? '')).toBe(gpu.isSoftware);
  });

  it('a name no adapter has is one line listing the adapters there are, exit code 1', () => {
    const r = generate('no-such-gpu');
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(
      /^pfgmpp generate: error: no WebGPU adapter matches the one asked for \(--adapter, PFGMPP_ADAPTER\): .*Available adapters: \* backend: /,
    );
  });
});
