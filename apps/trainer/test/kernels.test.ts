/**
 * Kernel rows and training runs: with tuning on, a run records the rows it used in its run
 * folder (kernels.json); a resumed run pins them, so it reproduces the uninterrupted run's
 * losses bit for bit even when the kernel cache is gone and tuning afresh would choose other
 * rows. A planted cache that chooses other rows stands for "tuned afresh"; the same resume
 * without the record follows the cache. (On lavapipe most rows agree bit for bit, so the losses
 * alone could not tell; the rows that ran can.)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDatasetTool } from '@pfgmpp/io/node';
import { type Gpu, getDevice, resetDevice } from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planTraining } from '../src/commands/train.ts';
import { KERNEL_RECORD, readKernelRecord } from '../src/training/kernels.ts';
import { train } from '../src/training/loop.ts';

const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-kernels-'));
const data = join(dir, 'digits8.zip');

/** A tiny net on 8x8 digits, 8 images per step, a state every 2 ticks (as train.test.ts). */
const TINY = {
  data,
  pfgmpp: true,
  aug_dim: 16,
  cbase: 8,
  cres: '1,2',
  nblock: 1,
  attn: 'none',
  dropout: 0.1,
  batch: 8,
  'batch-gpu': 4,
  lr: 0.01,
  'lr-rampup': 0.01,
  ema: 0.001,
  tick: 0.008,
  snap: 2,
  dump: 2,
  seed: 5,
  kimg: 0.04,
  outdir: dir,
};

/**
 * A new shared device (the one ops create tensors on) with tuning on and kernel choices cached
 * in `cache`, as a new process would have: the caller destroys it.
 */
async function tuningGpu(cache: string): Promise<Gpu> {
  const saved = { tune: process.env.PFGMPP_TUNE, dir: process.env.PFGMPP_CACHE_DIR };
  process.env.PFGMPP_TUNE = '1';
  process.env.PFGMPP_CACHE_DIR = cache;
  try {
    resetDevice();
    return await getDevice();
  } finally {
    process.env.PFGMPP_TUNE = saved.tune;
    process.env.PFGMPP_CACHE_DIR = saved.dir;
  }
}

/**
 * A row that fits every shape of its table on any adapter, other than `used`: the tiled rows
 * where `used` is not one (their weight gradient sums its pixels in chunks, so its last bits
 * differ from the row kernels' on lavapipe, where forward passes of all rows agree bit for bit).
 */
const another = (key: string, used: string) => {
  const [tiled, plain] = key.startsWith('matmul')
    ? ['matmul_tiled_32x32', 'matmul_plain']
    : ['conv_tiled_32x32', 'conv_rows_plain'];
  return used.includes('_tiled_') ? plain : tiled;
};

describe.skipIf(GPU_SKIP_REASON)('kernel rows of a training run', () => {
  beforeAll(async () => {
    await runDatasetTool({ source: 'mnist', dest: data, resolution: [8, 8], maxImages: 200 });
  });
  afterAll(() => {
    resetDevice();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumed after its kernel cache is deleted, a run reproduces the uninterrupted losses bit for bit', async () => {
    const cacheA = join(dir, 'cache-a');
    const gpuA = await tuningGpu(cacheA);
    const full = await planTraining({ ...TINY, name: 'full' });
    const a = await train(gpuA, full.config, { log: () => {} });
    expect(a.losses).toHaveLength(5);
    const record = await readKernelRecord(join(dir, 'full'));
    expect(record).not.toBeNull();
    const keys = Object.keys(record!.rows);
    expect(keys.some((k) => k.startsWith('conv.y'))).toBe(true);
    expect(keys.some((k) => k.startsWith('conv.dw'))).toBe(true);
    gpuA.destroy();
    rmSync(cacheA, { recursive: true, force: true });

    // The cache is gone; tuning afresh may choose other rows. A planted cache that does (valid,
    // for this adapter, so it is trusted) stands for that.
    const cacheB = join(dir, 'cache-b');
    const planted = Object.fromEntries(keys.map((k) => [k, another(k, record!.rows[k]!)]));
    const state = join(dir, 'full', 'training-state-000000.024.safetensors'); // after step 3
    const resumeRun = async (name: string) => {
      const gpu = await tuningGpu(cacheB);
      mkdirSync(cacheB, { recursive: true });
      writeFileSync(
        join(cacheB, gpu.kernels.cacheName),
        JSON.stringify({
          format: 'pfgmpp-kernel-choices',
          identity: gpu.kernels.identity,
          choices: planted,
        }),
      );
      const plan = await planTraining({ ...TINY, name, resume: state });
      const r = await train(gpu, plan.config, { log: () => {} });
      const used = gpu.kernels.usedRows();
      gpu.destroy();
      return { r, used };
    };
    const b = await resumeRun('resumed');
    expect(b.r.losses).toEqual(a.losses.slice(3));
    for (const k of keys) expect(b.used[k], k).toBe(record!.rows[k]);

    // Without the record, the same resume follows the cache: the record is what kept the rows.
    const copy = readFileSync(join(dir, 'full', KERNEL_RECORD), 'utf8');
    rmSync(join(dir, 'full', KERNEL_RECORD));
    const c = await resumeRun('resumed-without-record');
    writeFileSync(join(dir, 'full', KERNEL_RECORD), copy);
    for (const k of keys) expect(c.used[k], k).toBe(planted[k]);
  });
});
