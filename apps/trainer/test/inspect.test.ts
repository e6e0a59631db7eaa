/**
 * `pfgmpp inspect`: parameter and buffer counts per network against the official numbers:
 * test/fixtures/official (training states written by PFGM++'s own training loop; index.json
 * has param_count, parameters only) and test/fixtures/nn (state dicts; index.json has
 * param_count and buffer_count from the official modules).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isBuffer } from '../src/commands/inspect.ts';
import { cli } from './run-cli.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OFFICIAL = `${ROOT}test/fixtures/official/`;
const NN = `${ROOT}test/fixtures/nn/`;

interface NnEntry {
  param_count: number;
  buffer_count: number;
  precond: string;
}
const nnIndex = JSON.parse(readFileSync(`${NN}index.json`, 'utf8')) as Record<string, NnEntry>;
const officialIndex = JSON.parse(readFileSync(`${OFFICIAL}index.json`, 'utf8')) as Record<
  string,
  { file: string; param_count: number; precond: string }
>;

interface Summary {
  className: string | null;
  parameters: Record<string, number>;
  buffers: Record<string, number>;
}

async function inspect(file: string): Promise<{ json: Summary; text: string }> {
  const j = await cli('inspect', file, '--json');
  expect(j.code, j.err).toBe(0);
  const t = await cli('inspect', file);
  expect(t.code, t.err).toBe(0);
  return { json: JSON.parse(j.out) as Summary, text: t.out };
}

const n = (x: number) => x.toLocaleString('en-US');

describe('pfgmpp inspect: parameter and buffer counts', () => {
  it('names only resample_filter, freqs and the top-level u as buffers', () => {
    expect(isBuffer('enc.8x8_down.conv0.resample_filter')).toBe(true);
    expect(isBuffer('model.map_noise.freqs')).toBe(true);
    expect(isBuffer('u')).toBe(true);
    expect(isBuffer('model.enc.16x16_block0.norm0.weight')).toBe(false);
    expect(isBuffer('model.dec.8x8_in0.attn.qkv.weight')).toBe(false);
    expect(isBuffer('model.unet.u')).toBe(false);
  });

  it('official training states: net and EMA, parameters only, buffers apart', async () => {
    expect(Object.keys(officialIndex).length).toBeGreaterThan(0);
    for (const [name, e] of Object.entries(officialIndex)) {
      const { json, text } = await inspect(`${OFFICIAL}${e.file}`);
      const buffers = (nnIndex[name] as NnEntry).buffer_count;
      expect(json.className, name).toBe(e.precond);
      expect(json.parameters, name).toEqual({ net: e.param_count, ema: e.param_count });
      expect(json.buffers, name).toEqual({ net: buffers, ema: buffers });
      expect(text).toContain(`parameters  ${n(e.param_count)} (net), ${n(e.param_count)} (ema)\n`);
      expect(text).toContain(`buffers     ${n(buffers)} (net), ${n(buffers)} (ema)\n`);
    }
  }, 120_000);

  it('state dicts of every official network: one network, its parameters and buffers', async () => {
    expect(Object.keys(nnIndex).length).toBeGreaterThan(10);
    for (const [name, e] of Object.entries(nnIndex)) {
      const { json, text } = await inspect(`${NN}${name}.pt`);
      expect(json.parameters, name).toEqual({ network: e.param_count });
      expect(json.buffers, name).toEqual({ network: e.buffer_count });
      expect(text).toContain(`parameters  ${n(e.param_count)}\n`);
      expect(text).toContain(`buffers     ${n(e.buffer_count)}\n`);
    }
  }, 120_000);

  it('runs nothing on the GPU: the installed command prints no Dawn line', () => {
    const r = spawnSync(
      process.execPath,
      [`${ROOT}apps/trainer/bin/pfgmpp.js`, 'inspect', `${NN}iddpm_adm_uncond.pt`],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`parameters  ${n(49014)}\n`);
    expect(r.stderr).toBe('');
  }, 120_000);
});
