/**
 * The FID Inception-v3 on the GPU against pytorch-fid run with the synthetic weight rule: block
 * means and pool3 features of the 4 fixture images (32x32, resized to 299 half-pixel, x/127.5-1).
 * Tolerance: max|a - b| <= 1e-4 max|b| (the reference README's figure for whole networks; the
 * float32 net moved 1.5e-6 against float64 there, and our conv sums in another order, over 94
 * layers). Plus the logits head against a CPU product, and the weight rule against the sums.
 */
import { getDevice } from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CLASSES,
  canonicalName,
  convMacsPerImage,
  FEATURES,
  InceptionV3,
  prepareWeights,
  syntheticWeights,
  UNITS,
} from '../src/index.ts';
import { arrayOf, fixtureJson, fixtureNpz, relErr } from './fixtures.ts';

const NET_RTOL = 1e-4;

describe('synthetic weights and names', () => {
  it('reproduces the reference rule: every tensor sum and sum of squares', () => {
    const w = syntheticWeights();
    const { tensors } = fixtureJson('synthetic_weight_sums.json') as {
      tensors: [string, number, number][];
    };
    expect(tensors.length).toBe(564);
    for (const [name, sum, sumSq] of tensors) {
      if (name.endsWith('num_batches_tracked')) continue;
      const t = w.get(name);
      expect(t, name).toBeDefined();
      let s = 0;
      let q = 0;
      for (const v of t?.data ?? []) {
        s += v;
        q += v * v;
      }
      expect(Math.abs(s - sum), name).toBeLessThan(1e-9 * Math.sqrt(sumSq) * 100 + 1e-12);
      expect(Math.abs(q - sumSq) / sumSq, name).toBeLessThan(1e-12);
    }
  });

  it('maps pytorch-fid names onto the weight file names, 94 units, 5.71 GMAC per image', () => {
    expect(canonicalName('blocks.0.0.conv.weight')).toBe('Conv2d_1a_3x3.conv.weight');
    expect(canonicalName('blocks.2.7.branch_pool.bn.bias')).toBe('Mixed_6e.branch_pool.bn.bias');
    expect(canonicalName('blocks.3.2.branch3x3_2b.conv.weight')).toBe(
      'Mixed_7c.branch3x3_2b.conv.weight',
    );
    expect(canonicalName('fc.weight')).toBe('fc.weight');
    expect(UNITS.length).toBe(94);
    expect(convMacsPerImage()).toBeCloseTo(5.711e9, -7);
  });
});

describe.skipIf(GPU_SKIP_REASON)('InceptionV3 on the GPU', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('matches pytorch-fid on the fixture images (block means and pool3 features)', async () => {
    const gpu = await getDevice();
    const ref = fixtureNpz('inception_features.npz');
    const images = ref.get('images_u8_nchw');
    if (!images) throw new Error('fixture images missing');
    const net = InceptionV3.create(
      gpu,
      prepareWeights(syntheticWeights({ fc: true }), 'synthetic'),
    );
    const t0 = performance.now();
    const out = await net.embed(images.data as Uint8Array, [4, 3, 32, 32], {
      detector: 'pytorch-fid',
      logits: true,
      blockMeans: true,
    });
    const seconds = (performance.now() - t0) / 1000;
    console.log(`Inception forward, 4 images at 32x32 -> 299: ${seconds.toFixed(1)} s`);
    const errs = [0, 1, 2].map((b) =>
      relErr(out.blockMeans?.[b] ?? [], arrayOf(ref, `block${b}_channel_mean`)),
    );
    const featErr = relErr(out.features, arrayOf(ref, 'features'));
    console.log(
      `max rel err: blocks ${errs.map((e) => e.toExponential(1))}, features ${featErr.toExponential(1)}`,
    );
    for (const e of errs) expect(e).toBeLessThan(NET_RTOL);
    expect(featErr).toBeLessThan(NET_RTOL);
    // Logits = features . fc.weight^T (no bias), checked against a float64 CPU product.
    const fc = syntheticWeights({ fc: true }).get('fc.weight')?.data as Float32Array;
    const want = new Float64Array(4 * CLASSES);
    for (let i = 0; i < 4; i++) {
      for (let c = 0; c < CLASSES; c++) {
        let s = 0;
        for (let f = 0; f < FEATURES; f++)
          s += (out.features[i * FEATURES + f] as number) * (fc[c * FEATURES + f] as number);
        want[i * CLASSES + c] = s;
      }
    }
    expect(relErr(out.logits ?? [], want)).toBeLessThan(1e-5);
    net.dispose();
  }, 600_000); // 4 x 11 GFLOP on a software GPU: seconds per image, minutes on a busy machine
});
