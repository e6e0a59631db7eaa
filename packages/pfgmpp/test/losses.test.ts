/**
 * The losses against the official VPLoss / VELoss / EDMLoss (diffusion and PFGM++) on recorded
 * draws (test/fixtures/pfgmpp/losses.npz): given the sigma and the perturbation the official
 * network received, our per-element loss equals the official one; the STF targets equal the
 * official `stf_scores` / `pfgmpp_target` on a genuine reference batch.
 */
import {
  affine,
  log,
  mul,
  reciprocal,
  scope,
  scopeAsync,
  type Tensor,
  tanh,
  tensor,
  add,
} from '@pfgmpp/tensor/node';
import { expectClose, GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { lossAtDraws, lossWeight, stfTargets, stfTargetsRef } from '../src/index.ts';
import { f64, npz, npzJson } from './fixtures.ts';

const cases = npz('losses.npz');
interface LossCase {
  case: string;
  loss: 'VPLoss' | 'VELoss' | 'EDMLoss';
  pfgmpp: boolean;
  stf: boolean;
  D?: number;
  N: number;
  shape: number[];
}
const index = npzJson(cases, 'index') as LossCase[];
const KIND = { VPLoss: 'vp', VELoss: 've', EDMLoss: 'edm' } as const;

/** The official recording network: D(x, sigma) = tanh(0.7 x) / (1 + 0.1 sigma) + 0.05 ln sigma. */
const recordingNet = (x: Tensor, sigma: Tensor) =>
  add(mul(tanh(mul(x, 0.7)), reciprocal(affine(sigma, 0.1, 1))), mul(log(sigma), 0.05));

const arrays = (c: LossCase, key: string) => f64(cases, `${c.case}.${key}`);
const sigmaShape = (c: LossCase) => [c.shape[0] as number, 1, 1, 1];

/** Largest |a - b| over max |b|: the float32 losses span 1e-4..1e2 within one case. */
function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let top = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    top = Math.max(top, Math.abs(b[i] as number));
  }
  return diff / top;
}

describe.skipIf(GPU_SKIP_REASON)('losses against the official code', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('the fixture holds the eight official cases (VP, VE, EDM; diffusion, D = 64, 128, 2048; STF)', () => {
    expect(index.map((c) => c.case).sort()).toEqual(
      [
        'edm_diffusion',
        'edm_diffusion_stf',
        'edm_pfgmpp_d128',
        'edm_pfgmpp_d2048',
        'edm_pfgmpp_d64_stf',
        've_diffusion',
        've_pfgmpp_d128',
        'vp_diffusion',
      ].sort(),
    );
  });

  for (const c of index) {
    it(`${c.case}: per-element loss at the official draws equals the official loss`, async () => {
      const { out, loss } = await scopeAsync(async () => {
        const sigma = tensor(arrays(c, 'sigma'), sigmaShape(c));
        const images = tensor(arrays(c, 'images'), c.shape);
        const draws = { sigma, noise: tensor(arrays(c, 'n'), c.shape) };
        const weight = lossWeight(KIND[c.loss], sigma);
        return {
          // The network alone first, so a mismatch below is the loss's and not the stand-in's.
          out: await recordingNet(add(images, draws.noise), sigma).read(),
          loss: await lossAtDraws(recordingNet, { images }, draws, weight).read(),
        };
      });
      // float32 throughout on both sides: tanh/log differ in the last bits (measured 6e-8 on D_yn).
      expectClose(out, arrays(c, 'D_yn'), { atol: 5e-7, rtol: 1e-6 }, `${c.case} D_yn`);
      // Measured <= 3e-7 of the largest element; 1e-5 is far below any weighting error (VP's 1/sigma^2
      // vs EDM's weight differ by 4x at sigma = 1), so only the float32 rounding is allowed.
      expect(relMax(loss, arrays(c, 'loss')), c.case).toBeLessThan(1e-5);
    });
  }

  for (const c of index.filter((k) => k.stf)) {
    const D = c.pfgmpp ? (c.D as number) : Number.POSITIVE_INFINITY;
    const N = c.N;
    const B = c.shape[0] as number;
    const refShape = [3 * B, ...c.shape.slice(1)];

    it(`${c.case}: STF targets equal the official ones (float64 reference and GPU)`, async () => {
      const perturbed = arrays(c, 'stf_perturbed');
      const sigma = arrays(c, 'stf_sigma');
      const reference = arrays(c, 'ref_images');
      const official = arrays(c, 'target');
      // pfgmpp_target works in float64 and rounds its output to float32 (measured 1e-7 from our
      // float64 loops); stf_scores stays in float32 (measured 1.3e-6 at sigma = 6).
      const refTol = Number.isFinite(D) ? 1e-6 : 5e-6;
      expectClose(
        stfTargetsRef(perturbed, sigma, reference, N, D),
        official,
        { atol: refTol, rtol: 1e-6 },
        `${c.case} float64`,
      );
      const gpu = await scope(() =>
        stfTargets(
          tensor(perturbed, c.shape),
          tensor(sigma, sigmaShape(c)),
          tensor(reference, refShape),
          D,
        ),
      ).read();
      // GPU: |a - b|^2 by matmul and the exponent N + D on float32 log d (see stf.ts).
      const atol = Number.isFinite(D) ? 1e-7 * (N + D) + 2e-5 : 2e-5;
      expectClose(gpu, official, { atol, rtol: 2e-4 }, `${c.case} GPU`);
      // The tolerance can tell D apart: the target of the neighbouring D (or of D = 128 for
      // diffusion) is further from the official one than the tolerance at sigma = 6.
      const other = Number.isFinite(D) ? 2 * D : 128;
      const wrong = stfTargetsRef(perturbed, sigma, reference, N, other);
      expect(relMax(wrong, official), `${c.case} against D = ${other}`).toBeGreaterThan(10 * atol);
    });
  }
});
