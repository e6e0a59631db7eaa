/**
 * GPU parts: the perturbation kernel against a float64 recomputation from the same Philox
 * streams, the three losses (values and gradients), and STF targets against the reference.
 */
import {
  backward,
  full,
  mul,
  scope,
  scopeAsync,
  sum,
  tensor,
  type Tensor,
} from '@pfgmpp/tensor/node';
import { randomRef } from '@pfgmpp/tensor/reference';
import { expectClose, GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { radiusSqLaw } from './stats.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  edmLoss,
  LSUN_SIGMA_SCALE,
  perturbation,
  radiusOverSigma,
  stfTargets,
  stfTargetsRef,
  veLoss,
  vpLoss,
} from '../src/index.ts';

/** n as the kernel defines it, in float64 from the same streams (normals, then radii). */
function kernelRef(
  shape: number[],
  sigma: Float64Array,
  D: number,
  seed: number,
  stream: number,
): Float64Array {
  const B = shape[0] as number;
  const N = shape.slice(1).reduce((p, d) => p * d, 1);
  const g = randomRef(shape, true, { seed, stream });
  if (!Number.isFinite(D)) return g.map((v, i) => v * (sigma[Math.floor(i / N)] as number));
  const radii = radiusOverSigma(B, N, { D, betaClip: 1e-3 }, { seed, stream: stream + 1 });
  for (let b = 0; b < B; b++) {
    const row = g.subarray(b * N, (b + 1) * N);
    const norm = Math.sqrt(row.reduce((a, v) => a + v * v, 0));
    const f = ((radii[b] as number) * (sigma[b] as number)) / norm;
    for (let j = 0; j < N; j++) row[j] = (row[j] as number) * f;
  }
  return g;
}

describe.skipIf(GPU_SKIP_REASON)('pfgmpp on the GPU', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('perturbation equals the float64 recomputation (size 1, odd sizes, D finite and infinite)', async () => {
    for (const [shape, D] of [
      [[1, 1, 1, 1], 8],
      [[1, 7], 2],
      [[5, 3, 5, 7], 128],
      [[4, 3, 4, 4], Number.POSITIVE_INFINITY],
      [[3, 1000], 100],
    ] as [number[], number][]) {
      const B = shape[0] as number;
      const sigma = Float64Array.from({ length: B }, (_, i) => 0.01 * 7 ** i);
      const sShape = [B, ...shape.slice(1).map(() => 1)];
      const n = await scope(() =>
        perturbation(shape, tensor(sigma, sShape), { D, betaClip: 1e-3 }, { seed: 42, stream: 6 }),
      ).read();
      expectClose(
        n,
        kernelRef(shape, sigma, D, 42, 6),
        { atol: 1e-6, rtol: 2e-5 },
        `${shape} D=${D}`,
      );
    }
  });

  it('|n|^2 / (sigma^2 N) has the mean and variance of its D (N = 3072; D = 128, 2048, infinity)', async () => {
    const B = 1024;
    const N = 3072;
    const sigma = 0.5;
    for (const D of [128, 2048, Number.POSITIVE_INFINITY]) {
      const n = await scope(() =>
        perturbation([B, 3, 32, 32], sigma, { D, betaClip: 1e-3 }, { seed: 1, stream: 0 }),
      ).read();
      const v = Float64Array.from({ length: B }, (_, b) => {
        let sq = 0;
        for (let j = b * N; j < (b + 1) * N; j++) sq += (n[j] as number) ** 2;
        return sq / (sigma * sigma * N);
      });
      const mean = v.reduce((a, x) => a + x, 0) / B;
      const variance = v.reduce((a, x) => a + (x - mean) ** 2, 0) / (B - 1);
      // The clip at 1e-3 never acts at N = 3072, D >= 128 (b ~ 0.96 +- 0.004 at D = 128).
      const law = radiusSqLaw(N, D, B);
      // Means 1.0159 / 1.0010 / 1, 4 standard errors of 0.0041 / 0.0013 / 0.0008: tells 128 apart.
      expect(Math.abs(mean - law.mean), `D=${D} mean`).toBeLessThan(
        4 * Math.sqrt(law.variance / B),
      );
      // Variances 1.73e-2 / 1.63e-3 / 6.5e-4 with standard errors of about 4.5% of each: every
      // pair is more than 12 se apart, so a kernel that ignored D, or used a neighbouring one, fails.
      expect(Math.abs(variance - law.variance), `D=${D} variance`).toBeLessThan(4 * law.varianceSe);
      for (const other of [128, 2048, Number.POSITIVE_INFINITY].filter((d) => d !== D))
        expect(Math.abs(radiusSqLaw(N, other, B).variance - law.variance)).toBeGreaterThan(
          12 * law.varianceSe,
        );
    }
  });

  /** A one-parameter network D(x) = w x, for exact loss and gradient checks. */
  function scaledNet(w: Tensor) {
    return (x: Tensor, _sigma: Tensor) => mul(x, w);
  }

  it('EDM, VE and VP losses: per-element values and the gradient, D finite and infinite', async () => {
    const shape = [3, 2, 3, 3];
    const B = 3;
    const N = 18;
    const y = Float64Array.from({ length: B * N }, (_, i) => Math.cos(i));
    const seed = 9;
    const step = 4;
    for (const D of [Number.POSITIVE_INFINITY, 64]) {
      for (const kind of ['edm', 'edm-lsun', 've', 'vp'] as const) {
        const wValue = 0.8;
        const { loss, grad } = await scopeAsync(async () => {
          const w = tensor([wValue], [1]).requireGrad();
          const batch = { images: tensor(y, shape), rng: { seed, step } };
          const cfg = { D };
          const l =
            kind === 've'
              ? veLoss(scaledNet(w), batch, cfg)
              : kind === 'vp'
                ? vpLoss(scaledNet(w), batch, cfg)
                : edmLoss(scaledNet(w), batch, { ...cfg, lsun: kind === 'edm-lsun' });
          backward(sum(l));
          const out = { loss: await l.read(), grad: await (w.grad as Tensor).read() };
          w.dispose();
          return out;
        });
        // sigma from stream 8 step, noise from 8 step + 2 (and + 3 for the radii).
        const sShape = [B, 1, 1, 1];
        let sigma: Float64Array;
        if (kind === 've') {
          sigma = randomRef(sShape, false, { seed, stream: 8 * step }).map(
            (u) => 0.02 * (100 / 0.02) ** u,
          );
        } else if (kind === 'vp') {
          sigma = randomRef(sShape, false, { seed, stream: 8 * step }).map((u) => {
            const t = 1 + u * (1e-5 - 1);
            return Math.sqrt(Math.exp(0.5 * 19.9 * t * t + 0.1 * t) - 1);
          });
        } else {
          const scale = kind === 'edm-lsun' ? LSUN_SIGMA_SCALE : 1;
          sigma = randomRef(sShape, true, { seed, stream: 8 * step }).map(
            (z) => Math.exp(-1.2 + 1.2 * z) * scale,
          );
        }
        const n = kernelRef(shape, sigma, D, seed, 8 * step + 2);
        const weight = (s: number) =>
          kind.startsWith('edm') ? (s * s + 0.25) / (s * 0.5) ** 2 : 1 / (s * s);
        const expected = new Float64Array(B * N);
        let g = 0;
        for (let i = 0; i < B * N; i++) {
          const s = sigma[Math.floor(i / N)] as number;
          const x = (y[i] as number) + (n[i] as number);
          expected[i] = weight(s) * (wValue * x - (y[i] as number)) ** 2;
          g += weight(s) * 2 * (wValue * x - (y[i] as number)) * x;
        }
        expectClose(loss, expected, { atol: 1e-5, rtol: 5e-4 }, `${kind} D=${D}`);
        expect(Math.abs((grad[0] as number) - g) / Math.abs(g), `${kind} D=${D} grad`).toBeLessThan(
          1e-3,
        );
      }
    }
  });

  it('losses reject D < 2 and a bad step', () => {
    scope(() => {
      const net = (x: Tensor) => x;
      const batch = { images: full([1, 4], 0), rng: { seed: 0, step: 0 } };
      expect(() => edmLoss(net, batch, { D: 1 })).toThrow(/D must be >= 2/);
      expect(() => veLoss(net, { ...batch, rng: { seed: 0, step: -1 } })).toThrow(/rng.step/);
    });
  });

  it('STF targets match the float64 reference (diffusion and PFGM++)', async () => {
    const B = 3;
    const M = 11;
    const N = 12;
    const ref = Float64Array.from({ length: M * N }, (_, i) => Math.sin(i * 0.77) * 0.9);
    const noisy = Float64Array.from({ length: B * N }, (_, i) => Math.cos(i * 1.3) * 0.8);
    const sigma = Float64Array.from([0.3, 0.8, 2.5]);
    for (const D of [Number.POSITIVE_INFINITY, 16, 2048]) {
      const t = await scope(() =>
        stfTargets(
          tensor(noisy, [B, 3, 2, 2]),
          tensor(sigma, [B, 1, 1, 1]),
          tensor(ref, [M, 3, 2, 2]),
          D,
        ),
      ).read();
      // The exponent N + D multiplies float32 rounding of log d: ~1e-4 at D = 2048.
      const atol = Number.isFinite(D) ? 1e-7 * (N + D) + 2e-5 : 2e-5;
      expectClose(t, stfTargetsRef(noisy, sigma, ref, N, D), { atol, rtol: 2e-4 }, `D=${D}`);
    }
  });

  it('EDM loss with STF: at tiny sigma the target is the training image itself', async () => {
    const shape = [2, 4];
    const y = Float64Array.from([0.5, -0.5, 0.25, 0, -1, 1, 0.5, 0.5]);
    const others = Float64Array.from({ length: 6 * 4 }, (_, i) => Math.sin(i) * 3);
    const loss = await scope(() => {
      const images = tensor(y, shape);
      const reference = tensor([...y, ...others], [8, 4]);
      const net = (x: Tensor) => mul(x, 0).add(images);
      return edmLoss(
        net,
        { images, rng: { seed: 1, step: 0 } },
        { D: 32, P_mean: -6, P_std: 0.1 },
        { reference },
      );
    }).read();
    for (const v of loss) expect(Math.abs(v)).toBeLessThan(1e-3);
  });
});
