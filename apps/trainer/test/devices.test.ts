/**
 * `train --devices N` / `--adapters A,B`: data-parallel training in one process. On lavapipe
 * the devices are several devices of the one adapter (Dawn gives a new device each time one is
 * asked for). A run on two devices equals gradient accumulation over the same micro-batches on
 * one device (bit for bit with one micro-batch per device, within float tolerance otherwise),
 * resuming a two-device state continues bit for bit, and bad device options are one line with
 * nothing written.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TensorData } from '@pfgmpp/nn';
import { readCheckpointFile, runDatasetTool } from '@pfgmpp/io/node';
import { getDevice, requestGpu, tensor, withGpu } from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './run-cli.ts';
import { TINY_NET } from './tiny-net.ts';

const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-devices-'));
const data = join(dir, 'digits8.zip');
const LR = 0.01;

/**
 * A tiny PFGM++ net on 8x8 digits with every per-micro-batch draw switched on (loss noise,
 * dropout, augmentation), micro-batches of 4 images, 4 steps of `batch` images, a tick and
 * (from the second step on) a training state per step.
 */
const tiny = (batch: number) => [
  '--data',
  data,
  ...TINY_NET,
  '--dropout',
  '0.1',
  '--augment',
  '0.5',
  '--batch',
  String(batch),
  '--batch-gpu',
  '4',
  '--lr',
  String(LR),
  '--lr-rampup',
  '0.01',
  '--ema',
  '0.001',
  '--tick',
  String(batch / 1000),
  '--snap',
  '2',
  '--dump',
  '1',
  '--seed',
  '5',
  '--kimg',
  String((4 * batch) / 1000),
];

async function train(name: string, ...args: string[]): Promise<void> {
  const r = await cli('train', '--outdir', dir, '--name', name, ...args);
  expect(r.code, r.err).toBe(0);
}

/** Loss/loss of every tick (one per step) in stats.jsonl. */
const losses = (name: string): number[] =>
  readFileSync(join(dir, name, 'stats.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l)['Loss/loss'].mean as number);

/** Net, EMA and Adam's moments of a training state, one map of tensors. */
async function state(name: string, kimg: string): Promise<Map<string, TensorData>> {
  const ck = await readCheckpointFile(join(dir, name, `training-state-${kimg}.safetensors`));
  const out = new Map<string, TensorData>();
  for (const [n, t] of ck.net ?? []) out.set(`net.${n}`, t);
  for (const [n, t] of ck.ema ?? []) out.set(`ema.${n}`, t);
  for (const [n, t] of ck.optimizer?.tensors ?? []) out.set(`optimizer.${n}`, t);
  return out;
}

/** The largest absolute difference and the relative L2 difference of two states' weights. */
function difference(a: Map<string, TensorData>, b: Map<string, TensorData>, prefix: string) {
  let maxAbs = 0;
  let sq = 0;
  let sqDiff = 0;
  for (const [name, t] of a) {
    if (!name.startsWith(prefix)) continue;
    const u = b.get(name)?.data as Float32Array;
    t.data.forEach((x, i) => {
      const d = Math.abs(x - (u[i] as number));
      maxAbs = Math.max(maxAbs, d);
      sq += x * x;
      sqDiff += d * d;
    });
  }
  return { maxAbs, rel: Math.sqrt(sqDiff / sq) };
}

beforeAll(async () => {
  await runDatasetTool({ source: 'mnist', dest: data, resolution: [8, 8], maxImages: 200 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('device options (no GPU needed)', () => {
  it('--devices 0, more devices than micro-batches, --adapter with --adapters: one line, exit 2, nothing written', async () => {
    const out = join(dir, 'bad');
    for (const [args, message] of [
      [['--devices', '0'], /option --devices must be > 0; got 0/],
      [
        ['--devices', '4'],
        /--devices 4: a step has only 3 micro-batches of --batch-gpu images to share out/,
      ],
      [['--devices', '3', '--adapters', 'a,b'], /--devices 3 but --adapters names 2 adapters/],
      [['--adapter', 'a', '--adapters', 'a,b'], /--adapter and --adapters are exclusive/],
    ] as const) {
      const r = await cli('train', '--outdir', out, ...tiny(12), ...args);
      expect(r.code, r.err).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe.skipIf(GPU_SKIP_REASON)('data-parallel training on two devices', () => {
  /** The adapter by the first word of its name, as `--adapter` takes it (llvmpipe in CI). */
  let adapterName = '';

  beforeAll(async () => {
    const info = (await getDevice()).adapterInfo;
    adapterName = (info.description || info.device).split(/[\s:]/)[0] as string;
  });

  it('withGpu makes creation ops use another device and puts the first one back', async () => {
    const first = await getDevice();
    const other = await requestGpu();
    try {
      const t = withGpu(other, () => tensor([1, 2, 3]));
      expect(t.gpu).toBe(other);
      expect(Array.from(await t.read())).toEqual([1, 2, 3]);
      const u = tensor([1]);
      expect(u.gpu).toBe(first);
      for (const x of [t, u]) x.dispose();
    } finally {
      other.destroy();
    }
  });

  it('one micro-batch per device: --devices 2 computes bit for bit what one device computes', async () => {
    // Device 1's gradient is read back and added to device 0's on the host: the same float32
    // addition that accumulation on one device does, so nothing may differ.
    await train('one-8', ...tiny(8));
    await train('two-8', ...tiny(8), '--devices', '2');
    expect(losses('two-8')).toHaveLength(4);
    expect(losses('two-8')).toEqual(losses('one-8'));
    expect(await state('two-8', '000000.032')).toEqual(await state('one-8', '000000.032'));
  });

  it('three micro-batches on two devices equal accumulation on one device within float tolerance', async () => {
    await train('one-12', ...tiny(12));
    await train('two-12', ...tiny(12), '--devices', '2');
    const [a, b] = [losses('one-12'), losses('two-12')];
    expect(b).toHaveLength(4);
    // Step 1 starts from the same weights with the same draws for every micro-batch: equal.
    expect(b[0]).toBe(a[0]);
    // Device 0 sums micro-batches 0 and 2 and the host adds device 1's micro-batch 1, where one
    // device adds 0, 1, 2 in turn: the gradients differ in the last bits, and so do the weights
    // after the first step.
    b.forEach((x, i) => expect(Math.abs(x - (a[i] as number))).toBeLessThan(1e-5 * x));
    const [one, two] = [await state('one-12', '000000.048'), await state('two-12', '000000.048')];
    for (const prefix of ['net.', 'ema.']) {
      const d = difference(one, two, prefix);
      // Seen on lavapipe: rel 2.2e-6, max 2.8e-5. Adam divides each gradient element by its own
      // running magnitude, so rounding differences are not scaled down by the step size: an
      // element whose gradient nearly cancels can even change the sign of its update. An update
      // is at most about LR in size, so no weight can move more than 2 LR per step apart; the
      // weights as a whole stay within rounding-level relative differences.
      expect(d.rel).toBeLessThan(1e-4);
      expect(d.maxAbs).toBeLessThan(2 * LR * 4);
    }
  });

  it('--resume from a two-device state continues bit for bit (--adapters NAME,NAME)', async () => {
    // The same two devices asked for by adapter name: device 1 then comes from a Dawn instance
    // of its own, created with adapter=NAME.
    await train(
      'two-12-resumed',
      ...tiny(12),
      '--adapters',
      `${adapterName},${adapterName}`,
      '--resume',
      join(dir, 'two-12', 'training-state-000000.024.safetensors'),
    );
    expect(losses('two-12-resumed')).toEqual(losses('two-12').slice(2));
    expect(await state('two-12-resumed', '000000.048')).toEqual(
      await state('two-12', '000000.048'),
    );
  });

  it('--adapters naming no adapter: one line, exit 1, nothing written', async () => {
    const out = join(dir, 'no-adapter');
    const r = await cli(
      'train',
      '--outdir',
      out,
      ...tiny(12),
      '--adapters',
      `${adapterName},no-such-gpu`,
    );
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^pfgmpp train: error: no WebGPU adapter matches 'no-such-gpu': /);
    expect(existsSync(out)).toBe(false);
  });
});
