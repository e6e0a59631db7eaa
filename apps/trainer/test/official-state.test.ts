/**
 * `train --resume/--transfer` with a PFGM++ `training-state-*.pt` written by the official
 * training loop (test/fixtures/official/edm_ddpmpp_uncond: torch zip, modules pickled through
 * torch_utils.persistence, step 123456, a fresh Adam state, net = EMA = the weights of
 * test/fixtures/nn/edm_ddpmpp_uncond.pt). The run must take the file's step, net and EMA, apply
 * Adam from its first step as PyTorch would after loading that state, and continue exactly as
 * it does from the same state in our own safetensors format. (Net and EMA being equal in the
 * file, a mix-up of the two is caught by packages/io's stub checkpoints, not here.)
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Checkpoint, encodePng, type TensorMap } from '@pfgmpp/io';
import {
  readCheckpointFile,
  runDatasetTool,
  writeCheckpointFile,
  writeFileAtomic,
} from '@pfgmpp/io/node';
import { emaBeta } from '@pfgmpp/nn';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFICIAL_INDEX, officialFile, reference, sameWeights } from './official.ts';
import { cli } from './run-cli.ts';

const NAME = 'edm_ddpmpp_uncond';
const FIXTURE = officialFile(NAME);
const REF = reference(NAME);
const STEP = 123_456; // images seen, the file's `step`
const LR = 1e-3;
const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-official-'));
const data = join(dir, 'rgb16.zip');

/** The file's network as train options, from the official constructor keywords. */
const k = REF.config.constructor_kwargs;
const NET = [
  '--arch',
  'ddpmpp',
  '--cbase',
  String(k.model_channels),
  '--cres',
  k.channel_mult.join(','),
  '--nblock',
  String(k.num_blocks),
  '--attn',
  k.attn_resolutions.join(',') || 'none',
  '--pfgmpp',
  '--aug_dim',
  String(OFFICIAL_INDEX[NAME]?.D),
];
const kimg = (images: number) => (images / 1000).toFixed(3);
/** Two steps of 8 images from the file's step. */
const RUN = [
  '--data',
  data,
  ...NET,
  '--dropout',
  '0',
  '--batch',
  '8',
  '--lr',
  String(LR),
  '--lr-rampup',
  '0',
  '--ema',
  '0.01',
  '--kimg',
  kimg(STEP + 16),
  '--tick',
  '0.008',
  '--snap',
  '1',
  '--dump',
  '1',
  '--seed',
  '3',
];
const withOption = (args: string[], name: string, value: string) =>
  args.map((a, i) => (args[i - 1] === name ? value : a));

const lossesOf = (runDir: string) =>
  readFileSync(join(runDir, 'log.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('tick '))
    .map((l) => Number(/ loss (\S+)/.exec(l)?.[1]));

/** max |a - b| over the tensors of `b` (parameters; constant buffers never change). */
function maxAbsDiff(a: TensorMap | undefined, b: TensorMap | undefined, only?: string): number {
  let m = 0;
  for (const [name, t] of b ?? []) {
    if (name.endsWith('resample_filter') || (only && name !== only)) continue;
    const x = a?.get(name)?.data;
    if (!x) throw new Error(`no ${name}`);
    for (let i = 0; i < t.data.length; i++)
      m = Math.max(m, Math.abs((x[i] as number) - (t.data[i] as number)));
  }
  return m;
}

/** max |ema1 - (beta ema0 + (1 - beta) net1)|: one EMA update from ema0. */
function emaError(ema1: TensorMap, ema0: TensorMap, net1: TensorMap, beta: number): number {
  let m = 0;
  for (const [name, t] of ema1) {
    if (name.endsWith('resample_filter')) continue;
    const e0 = ema0.get(name)?.data as Float32Array;
    const n1 = net1.get(name)?.data as Float32Array;
    for (let i = 0; i < t.data.length; i++) {
      const want = beta * (e0[i] as number) + (1 - beta) * (n1[i] as number);
      m = Math.max(m, Math.abs((t.data[i] as number) - want));
    }
  }
  return m;
}

const train = (out: string, ...args: string[]) =>
  cli('train', '--outdir', join(dir, out), '--name', 'run', ...args);
const state = (out: string, images: number) =>
  readCheckpointFile(
    join(dir, out, 'run', `training-state-${kimg(images).padStart(10, '0')}.safetensors`),
  );
const oneLine = (err: string) =>
  // The adapter announcement (`adapter: ...`) comes first; the failure is one line.
  err
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('adapter:'));

let file: Checkpoint;
beforeAll(async () => {
  // 24 random RGB images of the file network's shape.
  const src = join(dir, 'png');
  mkdirSync(src);
  let s = 12345;
  const R = k.img_resolution as number;
  for (let i = 0; i < 24; i++) {
    const px = new Uint8Array(R * R * 3).map(() => {
      s = (s * 1103515245 + 12345) >>> 0;
      return s >>> 24;
    });
    await writeFileAtomic(
      join(src, `img${String(i).padStart(2, '0')}.png`),
      encodePng({ width: R, height: R, channels: 3, data: px }),
    );
  }
  await runDatasetTool({ source: src, dest: data });
  file = await readCheckpointFile(FIXTURE, { require: ['net', 'ema', 'optimizer', 'step'] });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(GPU_SKIP_REASON)('official PFGM++ training states', () => {
  it('the file: step 123456, net and EMA with the reference weights, a fresh Adam state', () => {
    expect(file.step).toBe(STEP);
    expect(sameWeights(file.net, REF.weights)).toBe(true);
    expect(sameWeights(file.ema, REF.weights)).toBe(true);
    expect(file.optimizer?.tensors.size).toBe(0);
    expect(file.optimizer?.paramGroups[0]).toMatchObject({ lr: LR, betas: [0.9, 0.999] });
  });

  it('--resume: its step, net and EMA; Adam starts at step 1 as after loading its state', async () => {
    const a = await train('a', '--resume', FIXTURE, ...RUN);
    expect(a.err).not.toMatch(/error/i);
    expect(a.code).toBe(0);
    expect(readFileSync(join(dir, 'a', 'run', 'log.txt'), 'utf8')).toContain(
      `Resuming from ${FIXTURE} at ${kimg(STEP)} kimg`,
    );
    const one = await state('a', STEP + 8);
    expect(one.step).toBe(STEP + 8);
    // From a fresh Adam state the first update is lr * g / (|g| + eps): lr for every weight
    // with a gradient. Bias corrections of step 15433 (images / batch) would give 3.2 lr.
    const moved = maxAbsDiff(one.net, file.net);
    expect(moved).toBeGreaterThan(0.999 * LR);
    expect(moved).toBeLessThan(1.001 * LR);
    // Adam's count is 1 and its moments started at zero: exp_avg = 0.1 g, exp_avg_sq = 0.001 g^2.
    // (The output convolution: its gradient is nonzero from the start, unlike the convolutions
    // that feed the zero-initialised conv1 of each block.)
    const w = 'model.dec.16x16_aux_conv.weight';
    const opt = one.optimizer?.tensors;
    expect(opt?.get(`${w}.step`)?.data[0]).toBe(1);
    const m = opt?.get(`${w}.exp_avg`)?.data as Float32Array;
    const v = opt?.get(`${w}.exp_avg_sq`)?.data as Float32Array;
    expect(m.length).toBe(3 * k.model_channels * 3 * 3);
    const ratios = [...m].map((mi, i) => (mi * mi) / (v[i] as number));
    expect(ratios.filter((r) => Math.abs(r - 10) < 1e-3)).toHaveLength(m.length);
    // The EMA moved once from the file's EMA (ramp-up on: half-life min(10 kimg, 5% of images)).
    const beta = emaBeta({ batch: 8, nimg: STEP, halfLifeKimg: 10, rampup: 0.05 });
    expect(
      emaError(one.ema as TensorMap, file.ema as TensorMap, one.net as TensorMap, beta),
    ).toBeLessThan(2e-6);
  });

  it('--resume from the same state in our format gives the same run, bit for bit', async () => {
    const ours = join(dir, 'converted.safetensors');
    await writeCheckpointFile(ours, {
      kind: 'training-state',
      className: file.className as string,
      initKwargs: file.initKwargs as never,
      net: file.net as never,
      ema: file.ema as never,
      optimizer: file.optimizer as never,
      step: file.step as number,
    });
    const b = await train('b', '--resume', ours, ...RUN);
    expect(b.code).toBe(0);
    const [la, lb] = [lossesOf(join(dir, 'a', 'run')), lossesOf(join(dir, 'b', 'run'))];
    expect(la.length).toBeGreaterThanOrEqual(2);
    expect(lb).toEqual(la);
    const [ea, eb] = [await state('a', STEP + 16), await state('b', STEP + 16)];
    expect(eb.step).toBe(STEP + 16);
    expect(sameWeights(eb.net, ea.net as TensorMap)).toBe(true);
    expect(sameWeights(eb.ema, ea.ema as TensorMap)).toBe(true);
  });

  it("--resume from the run's own state after one step continues as the uninterrupted run", async () => {
    // Adam's step count travels with the state: 1 here, not the 15433 of images / batch.
    const c = await train(
      'c',
      '--resume',
      join(dir, 'a', 'run', 'training-state-000123.464.safetensors'),
      ...RUN,
    );
    expect(c.code).toBe(0);
    const [ea, ec] = [await state('a', STEP + 16), await state('c', STEP + 16)];
    expect(sameWeights(ec.net, ea.net as TensorMap)).toBe(true);
    expect(sameWeights(ec.ema, ea.ema as TensorMap)).toBe(true);
    expect(sameWeights(ec.optimizer?.tensors, ea.optimizer?.tensors as TensorMap)).toBe(true);
    expect(lossesOf(join(dir, 'c', 'run')).at(-1)).toBe(lossesOf(join(dir, 'a', 'run')).at(-1));
  });

  it('--transfer of a file that fits restores everything; a network that does not fit is named', async () => {
    const once = withOption(RUN, '--kimg', kimg(STEP + 8));
    const t = await train('t', '--transfer', FIXTURE, ...once);
    expect(t.code).toBe(0);
    expect(readFileSync(join(dir, 't', 'run', 'log.txt'), 'utf8')).toContain(
      `Transferring from ${FIXTURE} at ${kimg(STEP)} kimg`,
    );
    // The same first step as --resume; only the EMA differs (no ramp-up with --transfer).
    const [ra, rt] = [await state('a', STEP + 8), await state('t', STEP + 8)];
    expect(sameWeights(rt.net, ra.net as TensorMap)).toBe(true);
    const beta = emaBeta({ batch: 8, nimg: STEP, halfLifeKimg: 10, rampup: null });
    expect(
      emaError(rt.ema as TensorMap, file.ema as TensorMap, rt.net as TensorMap, beta),
    ).toBeLessThan(2e-6);

    const wrong = await train('d', '--resume', FIXTURE, ...withOption(RUN, '--cbase', '16'));
    expect(wrong.code).toBe(1);
    expect(oneLine(wrong.err)).toHaveLength(1);
    expect(wrong.err).toMatch(/training-state-000123\.pt.*mis-shaped/);
  });

  it('--transfer into a network with extra tensors copies the rest and starts a fresh run', async () => {
    // --augment adds map_augment (augment_dim 9), which the file does not have: EDM's
    // copy_params_and_buffers(require_all=False) semantics, at step 0 with new Adam moments.
    const short = withOption(RUN, '--kimg', '0.016');
    const t = await train('e', '--transfer', FIXTURE, '--augment', '0.2', ...short);
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
    // Every copied tensor is the file's, moved by two fresh Adam steps (at most lr each).
    const d = maxAbsDiff(end.net, file.net);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(2 * LR * 1.01);
    expect(end.net?.get('model.map_augment.weight')?.shape).toEqual([k.model_channels, 9]);

    const wrong = await train('f', '--transfer', FIXTURE, ...withOption(short, '--cbase', '16'));
    expect(wrong.code).toBe(1);
    expect(oneLine(wrong.err)).toHaveLength(1);
    expect(wrong.err).toMatch(
      /training-state-000123\.pt: cannot transfer, mis-shaped tensors: model\./,
    );
  });
});
