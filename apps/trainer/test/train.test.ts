/**
 * The trainer end to end on a tiny dataset and network: train a few steps (run folder, logs,
 * stats, snapshots, states), resume (the loss sequence equals the uninterrupted run), generate
 * (grid, trajectory, PNGs; image k identical whatever --batch), denoise, option validation, and
 * the demo's code path on a reduced budget.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy, toFloat32, writeNpy } from '@pfgmpp/io';
import { runDatasetTool, writeFileAtomic } from '@pfgmpp/io/node';
import { getDevice } from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planTraining } from '../src/commands/train.ts';
import { GATE_SAMPLES, GATE_STEPS, QUALITY_FLOORS } from '../src/quality/floors.ts';
import { train } from '../src/training/loop.ts';
import { cli } from './run-cli.ts';
import { TINY_NET } from './tiny-net.ts';

const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-train-'));
const data = join(dir, 'digits8.zip');

/** A tiny PFGM++ net on 8x8 digits: 8 images per step, one step per tick, a state every 2 ticks. */
const TINY = [
  '--data',
  data,
  ...TINY_NET,
  '--dropout',
  '0.1',
  '--batch',
  '8',
  '--batch-gpu',
  '4',
  '--lr',
  '0.01',
  '--lr-rampup',
  '0.01',
  '--ema',
  '0.001',
  '--tick',
  '0.008',
  '--snap',
  '2',
  '--dump',
  '2',
  '--seed',
  '5',
];

const values = (args: string[]) => {
  const out: Record<string, string | number | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const k = (args[i] as string).slice(2);
    const next = args[i + 1];
    if (next === undefined || next.startsWith('--')) out[k] = true;
    else {
      out[k] = Number.isNaN(Number(next)) ? next : Number(next);
      if (k === 'cres' || k === 'data') out[k] = next;
      i++;
    }
  }
  return out;
};

beforeAll(async () => {
  await runDatasetTool({ source: 'mnist', dest: data, resolution: [8, 8], maxImages: 200 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('option validation (no GPU needed)', () => {
  it('rejects bad values with the valid ones listed', async () => {
    const base = ['train', '--outdir', join(dir, 'bad'), '--data', data];
    let r = await cli(...base, '--arch', 'unet');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--arch must be one of ddpmpp, ncsnpp, adm/);
    r = await cli(...base, '--batch', '10', '--batch-gpu', '4');
    expect(r.err).toMatch(/--batch 10 must be a multiple of --batch-gpu 4/);
    r = await cli(...base, '--augment', '1.5');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--augment must be a probability in \[0, 1\]; got 1.5/);
    r = await cli(...base, '--pfgmpp', '--aug_dim', '1');
    expect(r.err).toMatch(/--aug_dim must be >= 2/);
    r = await cli(...base, '--lr', 'fast');
    expect(r.err).toMatch(/--lr must be a number/);
    r = await cli('train', '--outdir', join(dir, 'bad'), '--data', join(dir, 'missing.zip'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/missing\.zip: cannot open \(no such file or folder\)/);
    expect(r.err).not.toMatch(/at .*\.ts:\d+/);
    // --cond takes no value from the next option; a repeated option's last value wins (click).
    r = await cli(...base, '--cond', '--data', join(dir, 'other.zip'), '--dry-run');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/other\.zip: cannot open \(no such file or folder\)/);
  });

  it('--dry-run prints the options and writes nothing', async () => {
    const r = await cli(
      'train',
      '--outdir',
      join(dir, 'dry'),
      ...TINY,
      '--kimg',
      '0.032',
      '--dry-run',
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/"total_kimg": 0.032/);
    expect(existsSync(join(dir, 'dry'))).toBe(false);
  });
});

describe.skipIf(GPU_SKIP_REASON)('training, resuming and sampling', () => {
  let runDir = '';

  beforeAll(async () => {
    await getDevice();
  });

  it('an outdir that cannot be created is one line naming it, exit code 1', async () => {
    // A path below a regular file fails for every user (permissions would not stop root).
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const r = await cli('train', '--outdir', join(file, 'runs'), ...TINY, '--kimg', '0.008');
    expect(r.code).toBe(1);
    // The adapter announcement (`adapter: ...`) comes first; the failure is one line.
    expect(
      r.err
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('adapter:')),
    ).toHaveLength(1);
    expect(r.err).toMatch(/cannot create the run folder .*a-file.runs.* \(ENOTDIR\)/);
  });

  it('trains: run folder, logs, stats, snapshots, states, loss curve', async () => {
    const r = await cli('train', '--outdir', join(dir, 'runs'), ...TINY, '--kimg', '0.04');
    expect(r.code, r.err).toBe(0);
    const runs = readdirSync(join(dir, 'runs'));
    expect(runs).toEqual(['00000-digits8-uncond-ddpmpp-edm-gpus1-batch8-fp32']);
    runDir = join(dir, 'runs', runs[0] as string);
    const files = readdirSync(runDir).sort();
    for (const f of [
      'log.txt',
      'loss.png',
      'stats.jsonl',
      'training_options.json',
      'network-snapshot-000000.008.safetensors',
      'training-state-000000.024.safetensors',
    ]) {
      expect(files).toContain(f);
    }
    const stats = readFileSync(join(runDir, 'stats.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(stats.length).toBe(5); // one tick per step
    expect(Object.keys(stats[0]).sort()).toEqual(
      [
        'Loss/loss',
        'Progress/kimg',
        'Progress/tick',
        'Resources/cpu_mem_gb',
        'Resources/peak_gpu_mem_gb',
        'Timing/maintenance_sec',
        'Timing/sec_per_kimg',
        'Timing/sec_per_tick',
        'Timing/total_sec',
        'timestamp',
      ].sort(),
    );
    expect(stats[0]['Loss/loss'].num).toBe(8 * 64); // every element of every loss tensor
    expect(readFileSync(join(runDir, 'log.txt'), 'utf8')).toMatch(/PFGM\+\+ D=16, N=64/);
    // A second run numbers itself after the first.
    const again = await cli('train', '--outdir', join(dir, 'runs'), ...TINY, '--kimg', '0.008');
    expect(again.code).toBe(0);
    expect(readdirSync(join(dir, 'runs')).sort()[1]).toMatch(/^00001-/);
  });

  it('--stf trains on Stable Target Field targets over a reference batch', async () => {
    const r = await cli(
      'train',
      '--outdir',
      dir,
      '--name',
      'stf',
      ...TINY,
      '--stf',
      '--rbatch',
      '12',
      '--kimg',
      '0.016',
    );
    expect(r.code, r.err).toBe(0);
    const opts = JSON.parse(readFileSync(join(dir, 'stf', 'training_options.json'), 'utf8'));
    expect([opts.stf, opts.rbatch]).toEqual([true, 12]);
    const stats = readFileSync(join(dir, 'stf', 'stats.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(stats.every((e) => Number.isFinite(e['Loss/loss'].mean))).toBe(true);
    const bad = await cli('train', '--outdir', dir, ...TINY, '--stf', '--rbatch', '4', '--dry-run');
    expect(bad.err).toMatch(/--rbatch 4 must exceed the images per forward pass \(4\)/);
  });

  it('a resumed run computes the same losses as the uninterrupted one', async () => {
    const full = await planTraining({ ...values(TINY), outdir: dir, name: 'full', kimg: 0.04 });
    const a = await train(await getDevice(), full.config, { log: () => {} });
    expect(a.losses.length).toBe(5);
    const state = join(dir, 'full', 'training-state-000000.024.safetensors'); // after step 3
    const resumed = await planTraining({
      ...values(TINY),
      outdir: dir,
      name: 'resumed',
      kimg: 0.04,
      resume: state,
    });
    const b = await train(await getDevice(), resumed.config, { log: () => {} });
    expect(b.losses).toEqual(a.losses.slice(3));
    expect(b.nimg).toBe(a.nimg);
  });

  it('--augment 0.5: augment_dim 9, augment_kwargs, resume equality, sampling without labels', async () => {
    const opts = { ...values(TINY), outdir: dir, kimg: 0.04, augment: 0.5 };
    const full = await planTraining({ ...opts, name: 'aug' });
    expect(full.config.initKwargs.augment_dim).toBe(9);
    const augmentKwargs = {
      class_name: 'training.augment.AugmentPipe',
      xflip: 1e8,
      yflip: 1,
      scale: 1,
      rotate_frac: 1,
      aniso: 1,
      translate_frac: 1,
      p: 0.5,
    };
    expect(full.summary.augment_kwargs).toEqual(augmentKwargs);
    const a = await train(await getDevice(), full.config, { log: () => {} });
    expect(a.losses.length).toBe(5);
    expect(a.losses.every(Number.isFinite)).toBe(true);
    const written = JSON.parse(readFileSync(join(dir, 'aug', 'training_options.json'), 'utf8'));
    expect(written.augment_kwargs).toEqual(augmentKwargs);
    expect(written.network_kwargs.augment_dim).toBe(9);
    // The same run without augmentation sees other losses (same seed, same data order).
    const plain = await planTraining({ ...values(TINY), outdir: dir, name: 'aug0', kimg: 0.016 });
    const c = await train(await getDevice(), plain.config, { log: () => {} });
    expect(c.losses).not.toEqual(a.losses.slice(0, 2));
    const resumed = await planTraining({
      ...opts,
      name: 'aug-resumed',
      resume: join(dir, 'aug', 'training-state-000000.024.safetensors'),
    });
    const b = await train(await getDevice(), resumed.config, { log: () => {} });
    expect(b.losses).toEqual(a.losses.slice(3));
    // A network with augment_dim 9 samples with no augment labels.
    const g = await cli(
      'generate',
      '--network',
      join(dir, 'aug', 'network-snapshot-000000.040.safetensors'),
      '--seeds',
      '0-1',
      '--steps',
      '3',
      '--save-npy',
      join(dir, 'aug.npy'),
    );
    expect(g.code, g.err).toBe(0);
    const x = toFloat32(readNpy(readFileSync(join(dir, 'aug.npy'))));
    expect(x.length).toBe(2 * 64);
    expect(x.every(Number.isFinite)).toBe(true);
    // STF with augmentation: the extra reference images get their own augmentation call.
    const stf = await cli(
      'train',
      '--outdir',
      dir,
      '--name',
      'aug-stf',
      ...TINY,
      '--augment',
      '0.5',
      '--stf',
      '--rbatch',
      '12',
      '--kimg',
      '0.016',
    );
    expect(stf.code, stf.err).toBe(0);
    expect(stf.err).not.toMatch(/loss became/);
  });

  it('generates PNGs, a grid and a trajectory; image k does not depend on --batch', async () => {
    const snap = join(runDir, 'network-snapshot-000000.040.safetensors');
    const out = join(dir, 'gen');
    const r4 = await cli(
      'generate',
      '--network',
      snap,
      '--seeds',
      '0-3',
      '--batch',
      '4',
      '--steps',
      '3',
      '--outdir',
      out,
      '--grid',
      join(out, 'grid.png'),
      '--trajectory',
      join(out, 'traj.png'),
      '--save-npy',
      join(out, 'b4.npy'),
    );
    expect(r4.code, r4.err).toBe(0);
    expect(r4.out).toMatch(/generated 4 images \(D = 16, 5 network evaluations\)/);
    expect(readdirSync(out).sort()).toEqual([
      '000000.png',
      '000001.png',
      '000002.png',
      '000003.png',
      'b4.npy',
      'grid.png',
      'traj.png',
    ]);
    const r1 = await cli(
      'generate',
      '--network',
      snap,
      '--seeds',
      '2-3',
      '--batch',
      '1',
      '--steps',
      '3',
      '--save-npy',
      join(out, 'b1.npy'),
    );
    expect(r1.code, r1.err).toBe(0);
    const all = toFloat32(readNpy(readFileSync(join(out, 'b4.npy'))));
    const two = toFloat32(readNpy(readFileSync(join(out, 'b1.npy'))));
    expect([...two]).toEqual([...all.subarray(2 * 64)]);
    expect(all.some((v) => Math.abs(v) > 0.01)).toBe(true);
    const bad = await cli(
      'generate',
      '--network',
      snap,
      '--seeds',
      '5-1',
      '--grid',
      join(out, 'x.png'),
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/reversed/);
  });

  it('denoise runs the network once on given inputs', async () => {
    const snap = join(runDir, 'network-snapshot-000000.040.safetensors');
    const x = Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i));
    await writeFileAtomic(
      join(dir, 'x.npy'),
      writeNpy({ dtype: 'float32', shape: [2, 1, 8, 8], data: x }),
    );
    await writeFileAtomic(
      join(dir, 's.npy'),
      writeNpy({ dtype: 'float32', shape: [2], data: Float32Array.of(0.5, 5) }),
    );
    const r = await cli(
      'denoise',
      '--network',
      snap,
      '--x',
      join(dir, 'x.npy'),
      '--sigma',
      join(dir, 's.npy'),
      '--out',
      join(dir, 'd.npy'),
    );
    expect(r.code, r.err).toBe(0);
    const d = readNpy(readFileSync(join(dir, 'd.npy')));
    expect(d.shape).toEqual([2, 1, 8, 8]);
    const wrong = await cli(
      'denoise',
      '--network',
      snap,
      '--x',
      join(dir, 's.npy'),
      '--sigma',
      join(dir, 's.npy'),
      '--out',
      join(dir, 'e.npy'),
    );
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/--x must be \[B, 1, 8, 8\]/);
  });

  it('the demo runs end to end on a reduced budget', async () => {
    const out = join(dir, 'demo');
    // The fresh model trains for 3 seconds only (its blobs are not scored); the shipped model
    // is sampled on the quality gate's budget, which costs a few seconds, so that the figures
    // the demo prints for it can be held to the floors.
    const r = await cli(
      'demo',
      '--out',
      out,
      '--minutes',
      '0.05',
      '--samples',
      String(GATE_SAMPLES),
      '--steps',
      String(GATE_STEPS),
    );
    expect(r.code, r.err).toBe(0);
    for (const f of [
      'report.md',
      'shipped-samples.png',
      'shipped-trajectory.png',
      'fresh-samples.png',
      'mnist16.zip',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(existsSync(join(out, 'fresh-run', 'loss.png'))).toBe(true);
    const confident =
      /(\d+) samples: ([\d.]+)% classified with confidence > 0.9; classes 0-9: (\d+ ){9}\d+/.exec(
        r.out,
      );
    // The shipped checkpoint is class-conditional: the report scores the digits asked for.
    const asked =
      /class-conditional: image k asks for digit k % 10 \(one digit per column\); ([\d.]+)% classified as the digit asked for/.exec(
        r.out,
      );
    expect(confident?.[1]).toBe(String(GATE_SAMPLES));
    // What the demo prints for the shipped checkpoint: the gate's seeds, steps and measure
    // (test/shipped-quality.test.ts), so the same floors. The fresh model is not held to them:
    // the demo does not score it, and even its full 3 minutes on a software GPU give blobs.
    expect(Number(confident?.[2]) / 100).toBeGreaterThanOrEqual(
      QUALITY_FLOORS.conditional.confident,
    );
    expect(Number(asked?.[1]) / 100).toBeGreaterThanOrEqual(QUALITY_FLOORS.conditional.asked);
    expect(r.out).toMatch(/- quality floor \(.*\): met\n/);
    // The recorded 1,000-sample figures (docs/results.md) meet them too.
    const recorded =
      /recorded for 1,000 samples \(docs\/results.md\): ([\d.]+)% confident.*; ([\d.]+)% classified as the digit asked for/.exec(
        r.out,
      );
    expect(Number(recorded?.[1]) / 100).toBeGreaterThanOrEqual(
      QUALITY_FLOORS.conditional.confident,
    );
    expect(Number(recorded?.[2]) / 100).toBeGreaterThanOrEqual(QUALITY_FLOORS.conditional.asked);
  });
});
