/**
 * `train --resume/--transfer` with an official PFGM++ `training-state-*.pt` (torch zip, modules
 * pickled through torch_utils.persistence, tensors on cuda:0; written by
 * tools/reference/make_official_state_fixture.py around a real PyTorch state dict): the run
 * picks up the network, the EMA, Adam's moments and the image count, and continues exactly as
 * it does from the same state in our own safetensors format.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '@pfgmpp/io';
import {
  readCheckpointFile,
  runDatasetTool,
  writeCheckpointFile,
  writeFileAtomic,
} from '@pfgmpp/io/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './run-cli.ts';

const FIXTURE = join(import.meta.dirname, '../../../test/fixtures/io/training-state-000001.pt');
const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-official-'));
const data = join(dir, 'rgb16.zip');

/** The fixture's network (edm_ddpmpp_uncond: 16x16x3, 8 channels, [1, 2], attention at 8). */
const NET = ['--arch', 'ddpmpp', '--cbase', '8', '--cres', '1,2', '--nblock', '1', '--attn', '8'];
const RUN = [
  '--data',
  data,
  ...NET,
  '--pfgmpp',
  '--aug_dim',
  '128',
  '--dropout',
  '0',
  '--batch',
  '8',
  '--lr',
  '1e-3',
  '--lr-rampup',
  '0',
  '--ema',
  '0.01',
  '--kimg',
  '1.016',
  '--tick',
  '0.008',
  '--snap',
  '1',
  '--dump',
  '1',
  '--seed',
  '3',
];

const lossesOf = (runDir: string) =>
  readFileSync(join(runDir, 'log.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('tick '))
    .map((l) => Number(/ loss (\S+)/.exec(l)?.[1]));

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>, scale = 1) => {
  let m = 0;
  for (let i = 0; i < a.length; i++)
    m = Math.max(m, Math.abs((a[i] as number) - scale * (b[i] as number)));
  return m;
};

beforeAll(async () => {
  // 24 random RGB images of 16x16 (the fixture network's shape).
  const src = join(dir, 'png');
  mkdirSync(src);
  let s = 12345;
  for (let i = 0; i < 24; i++) {
    const px = new Uint8Array(16 * 16 * 3).map(() => {
      s = (s * 1103515245 + 12345) >>> 0;
      return s >>> 24;
    });
    await writeFileAtomic(
      join(src, `img${String(i).padStart(2, '0')}.png`),
      encodePng({ width: 16, height: 16, channels: 3, data: px }),
    );
  }
  await runDatasetTool({ source: src, dest: data });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(GPU_SKIP_REASON)('official PFGM++ training states', () => {
  it('--resume continues from its step, net, EMA and Adam state, as from our own format', async () => {
    const official = await cli(
      'train',
      '--outdir',
      join(dir, 'a'),
      '--name',
      'run',
      '--resume',
      FIXTURE,
      ...RUN,
    );
    expect(official.err).not.toMatch(/error/i);
    expect(official.code).toBe(0);
    const runA = join(dir, 'a', 'run');
    expect(readFileSync(join(runA, 'log.txt'), 'utf8')).toContain(
      `Resuming from ${FIXTURE} at 1.000 kimg`,
    );

    // The same state in our format: whatever the official file means to the loop must equal it.
    const ck = await readCheckpointFile(FIXTURE, { require: ['net'] });
    expect(ck.step).toBe(1000);
    const ours = join(dir, 'training-state-000001.safetensors');
    await writeCheckpointFile(ours, {
      kind: 'training-state',
      className: ck.className as string,
      initKwargs: ck.initKwargs as never,
      net: ck.net as never,
      ema: ck.ema as never,
      optimizer: ck.optimizer as never,
      step: ck.step as number,
    });
    const converted = await cli(
      'train',
      '--outdir',
      join(dir, 'b'),
      '--name',
      'run',
      '--resume',
      ours,
      ...RUN,
    );
    expect(converted.code).toBe(0);
    const runB = join(dir, 'b', 'run');
    const [la, lb] = [lossesOf(runA), lossesOf(runB)];
    expect(la.length).toBeGreaterThanOrEqual(2);
    expect(la).toEqual(lb);

    // Two Adam steps from the file's net: close to it (|update| <= lr per step, the moments
    // being small), far from the EMA (0.75 x the net); the EMA moves from the file's EMA.
    const end = await readCheckpointFile(join(runA, 'training-state-000001.016.safetensors'));
    expect(end.step).toBe(1016);
    const w = 'model.enc.16x16_block0.conv0.weight';
    const fileNet = ck.net?.get(w)?.data as Float32Array;
    const endNet = end.net?.get(w)?.data as Float32Array;
    expect(maxAbsDiff(endNet, fileNet)).toBeLessThan(2 * 1e-3 * 1.01);
    expect(maxAbsDiff(endNet, fileNet)).toBeGreaterThan(0);
    expect(maxAbsDiff(endNet, fileNet, 0.75)).toBeGreaterThan(10 * 2e-3);
    const endEma = end.ema?.get(w)?.data as Float32Array;
    expect(maxAbsDiff(endEma, ck.ema?.get(w)?.data as Float32Array)).toBeLessThan(
      maxAbsDiff(endEma, fileNet),
    );
  });

  it('--transfer loads it too, and a network that does not fit is named', async () => {
    const t = await cli(
      'train',
      '--outdir',
      join(dir, 'c'),
      '--name',
      'run',
      '--transfer',
      FIXTURE,
      ...RUN,
    );
    expect(t.code).toBe(0);
    expect(readFileSync(join(dir, 'c', 'run', 'log.txt'), 'utf8')).toContain(
      `Transferring from ${FIXTURE}`,
    );
    const wrong = await cli(
      'train',
      '--outdir',
      join(dir, 'd'),
      '--name',
      'run',
      '--resume',
      FIXTURE,
      ...RUN.map((a, k) => (RUN[k - 1] === '--cbase' ? '16' : a)),
    );
    expect(wrong.code).toBe(1);
    // The adapter announcement (`adapter: ...`) comes first; the failure is one line.
    expect(
      wrong.err
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('adapter:')),
    ).toHaveLength(1);
    expect(wrong.err).toMatch(/training-state-000001\.pt.*mis-shaped/);
  });

  it('--transfer into a network with extra tensors copies the rest and starts a fresh run', async () => {
    // --augment adds map_augment (augment_dim 9), which the file does not have: EDM's
    // copy_params_and_buffers(require_all=False) semantics, at step 0 with new Adam moments.
    const short = RUN.map((a, k) => (RUN[k - 1] === '--kimg' ? '0.016' : a));
    const t = await cli(
      'train',
      '--outdir',
      join(dir, 'e'),
      '--name',
      'run',
      '--transfer',
      FIXTURE,
      '--augment',
      '0.2',
      ...short,
    );
    expect(t.err).not.toMatch(/error/i);
    expect(t.code).toBe(0);
    const runE = join(dir, 'e', 'run');
    const log = readFileSync(join(runE, 'log.txt'), 'utf8');
    expect(log).toContain(`Transferring from ${FIXTURE} at 0.000 kimg`);
    expect(log).toMatch(
      /Transfer: copied \d+ tensors; left at their initial values: model\.map_augment\.weight\n/,
    );
    const states = readdirSync(runE).filter((f) => f.startsWith('training-state-'));
    const end = await readCheckpointFile(join(runE, states.sort().at(-1) as string), {
      require: ['net'],
    });
    expect(end.step).toBe(16);
    const ck = await readCheckpointFile(FIXTURE, { require: ['net'] });
    const w = 'model.enc.16x16_block0.conv0.weight';
    // Two fresh Adam steps move a weight by at most 2 lr (the first step is lr * sign(g)).
    const d = maxAbsDiff(
      end.net?.get(w)?.data as Float32Array,
      ck.net?.get(w)?.data as Float32Array,
    );
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(2 * 1e-3 * 1.01);
    expect(end.net?.get('model.map_augment.weight')?.shape).toEqual([8, 9]); // [noise channels, augment_dim]

    const wrong = await cli(
      'train',
      '--outdir',
      join(dir, 'f'),
      '--name',
      'run',
      '--transfer',
      FIXTURE,
      ...short.map((a, k) => (short[k - 1] === '--cbase' ? '16' : a)),
    );
    expect(wrong.code).toBe(1);
    // The adapter announcement (`adapter: ...`) comes first; the failure is one line.
    expect(
      wrong.err
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('adapter:')),
    ).toHaveLength(1);
    expect(wrong.err).toMatch(
      /training-state-000001\.pt: cannot transfer, mis-shaped tensors: model\./,
    );
  });
});
