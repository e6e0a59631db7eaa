/**
 * The two input pipelines against plain CPU references: the tensor package's resizeBilinearRef
 * (TF1 or half-pixel) on odd sizes, then the detector's normalisation; the identity at 299x299;
 * and pytorch-fid's own network input for the fixture images (its first block's input,
 * subsampled every 7th pixel).
 */
import { tensor } from '@pfgmpp/tensor/node';
import { nd, resizeBilinearRef } from '@pfgmpp/tensor/reference';
import { expectClose, GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Detector, preprocess } from '../src/index.ts';
import { arrayOf, fixtureNpz } from './fixtures.ts';

/** Output values are within [-1, 1]: float32 source coordinates, then one multiply-add. */
const TOL = { atol: 2e-6, rtol: 1e-6 };

function pixels(n: number, seed: number): Float64Array {
  let a = seed;
  return Float64Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a >>> 24;
  });
}

const NORMALISE: Record<Detector, (v: number) => number> = {
  edm: (v) => (v - 128) / 128,
  'pytorch-fid': (v) => v / 127.5 - 1,
};

describe.skipIf(GPU_SKIP_REASON)('input pipelines', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('resize + normalise match the CPU references on odd sizes, both detectors', async () => {
    const shapes = [
      [1, 3, 17, 23],
      [2, 3, 5, 7],
      [1, 3, 1, 1],
      [1, 3, 301, 300],
    ];
    for (const [i, shape] of shapes.entries()) {
      const X = nd(
        shape,
        pixels(
          shape.reduce((p, d) => p * d, 1),
          10 + i,
        ),
      );
      for (const detector of ['edm', 'pytorch-fid'] as const) {
        const mode = detector === 'edm' ? 'tf1' : 'half-pixel';
        const ref = resizeBilinearRef(X, [299, 299], mode).data.map(NORMALISE[detector]);
        const x = tensor(Float32Array.from(X.data), shape);
        const y = preprocess(x, detector);
        expect(y.shape).toEqual([shape[0], 3, 299, 299]);
        // Pixel values reach 255 before the normalisation divides by 128: scale the tolerance.
        expectClose(
          await y.read(),
          ref,
          { atol: TOL.atol * 255, rtol: TOL.rtol },
          `${detector} [${shape}]`,
        );
        x.dispose();
        y.dispose();
      }
    }
  });

  it('at 299x299 only the normalisation acts', async () => {
    const shape = [1, 3, 299, 299];
    const X = pixels(3 * 299 * 299, 5);
    const x = tensor(Float32Array.from(X), shape);
    for (const detector of ['edm', 'pytorch-fid'] as const) {
      const y = preprocess(x, detector);
      expectClose(await y.read(), X.map(NORMALISE[detector]), TOL, detector);
      y.dispose();
    }
    x.dispose();
  });

  it("equals pytorch-fid's network input for the fixture images", async () => {
    const ref = fixtureNpz('inception_features.npz');
    const images = arrayOf(ref, 'images_u8_nchw');
    const want = arrayOf(ref, 'resized_normalized_sub'); // [4, 3, 43, 43] = [:, :, ::7, ::7]
    const x = tensor(Float32Array.from(images), [4, 3, 32, 32]);
    const y = preprocess(x, 'pytorch-fid');
    const all = await y.read();
    const got = new Float64Array(want.length);
    let k = 0;
    for (let p = 0; p < 12; p++) {
      for (let r = 0; r < 299; r += 7) {
        for (let c = 0; c < 299; c += 7) got[k++] = all[(p * 299 + r) * 299 + c] as number;
      }
    }
    expectClose(got, want, TOL, 'pytorch-fid input');
    x.dispose();
    y.dispose();
  });
});
