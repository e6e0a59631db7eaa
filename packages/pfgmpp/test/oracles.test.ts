/**
 * Samplers driven by exact denoisers: they must land on a point set, reproduce a Gaussian's mean
 * and variance, and give image k the same result whatever the batch (per-seed streams).
 */
import { describe, expect, it } from 'vitest';
import {
  alphaSweep,
  type Denoiser,
  EDM_SAMPLER,
  edmSampler,
  edmSamplerSteps,
  generate,
  gaussianLatents,
  stepSweep,
  toUint8,
} from '../src/index.ts';
import { gaussDenoiser, mixtureDenoiser } from './denoisers.ts';

const C = 1;
const R = 3;
const N = C * R * R;
// Three well separated points in 9-D with weights 0.5, 0.3, 0.2.
const points = Float64Array.from({ length: 3 * N }, (_, i) => Math.sin(1.7 * i + 0.3) * 0.8);
const logWeights = Float64Array.from([0.5, 0.3, 0.2], Math.log);
const seeds = Array.from({ length: 24 }, (_, i) => 100 + i);

/** Distance from each image to its nearest point, and which point. */
function nearest(x: Float64Array): { dist: number; k: number }[] {
  const out = [];
  for (let b = 0; b < x.length / N; b++) {
    let best = { dist: Number.POSITIVE_INFINITY, k: -1 };
    for (let k = 0; k < 3; k++) {
      let d2 = 0;
      for (let j = 0; j < N; j++)
        d2 += ((x[b * N + j] as number) - (points[k * N + j] as number)) ** 2;
      if (Math.sqrt(d2) < best.dist) best = { dist: Math.sqrt(d2), k };
    }
    out.push(best);
  }
  return out;
}

describe('a sampler driven by the exact denoiser of a point set lands on the points', () => {
  const cases = [
    {
      name: 'EDM sampler, diffusion',
      D: Number.POSITIVE_INFINITY,
      sampler: 'edm' as const,
      config: {},
    },
    { name: 'EDM sampler, PFGM++ D=128', D: 128, sampler: 'edm' as const, config: {} },
    { name: 'EDM sampler, PFGM++ D=8', D: 8, sampler: 'edm' as const, config: {} },
    {
      name: 'EDM sampler with churn, diffusion',
      D: Number.POSITIVE_INFINITY,
      sampler: 'edm' as const,
      config: { S_churn: 10, S_min: 0.05, S_max: 50, S_noise: 1.003 },
    },
    // VP/VE schedules end with an Euler step in t, which leaves part of the last sigma (~0.01-0.02).
    {
      name: 'ablation sampler (VP), PFGM++ D=128',
      D: 128,
      sampler: 'ablation' as const,
      tol: 0.1,
      config: {
        numSteps: 64,
        solver: 'heun' as const,
        discretization: 'vp' as const,
        schedule: 'vp' as const,
        scaling: 'vp' as const,
      },
    },
    {
      name: 'ablation sampler (Euler, VE), diffusion',
      D: Number.POSITIVE_INFINITY,
      sampler: 'ablation' as const,
      tol: 0.1,
      config: {
        numSteps: 256,
        solver: 'euler' as const,
        discretization: 've' as const,
        schedule: 've' as const,
        scaling: 'none' as const,
      },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const net = mixtureDenoiser(C, R, points, logWeights, c.D);
      const x = await generate(net, seeds, {
        D: c.D,
        sampler: c.sampler,
        config: c.config,
      } as Parameters<typeof generate>[2]);
      const hits = nearest(x);
      for (const h of hits) expect(h.dist).toBeLessThan('tol' in c ? (c.tol as number) : 1e-2);
      // Every point is reached by some seed (weights 0.5/0.3/0.2 over 24 seeds).
      expect(new Set(hits.map((h) => h.k)).size).toBe(3);
    });
  }
});

describe('with the Gaussian-data denoiser the samples have the data mean and variance', () => {
  it('diffusion, EDM sampler, 2,000 seeds', async () => {
    const mean = 0.3;
    const variance = 0.25;
    const net = gaussDenoiser(C, R, variance, mean);
    const many = Array.from({ length: 2000 }, (_, i) => i);
    const x = await generate(net, many, {
      D: Number.POSITIVE_INFINITY,
      sampler: 'edm',
      config: { numSteps: 128 },
    });
    const m = x.reduce((a, b) => a + b, 0) / x.length;
    const v = x.reduce((a, b) => a + (b - m) ** 2, 0) / x.length;
    // 18,000 values: sampling error of the mean ~0.004 (0.5 / sqrt(18000)), of the variance ~0.003.
    expect(Math.abs(m - mean)).toBeLessThan(0.02);
    expect(Math.abs(v / variance - 1)).toBeLessThan(0.05);
  });
  it('the 18-step Heun sampler maps a latent to 0.52762 latent (the known discretisation error)', async () => {
    const net = gaussDenoiser(C, R);
    const lat = gaussianLatents([1], [1, N]);
    const x = await edmSampler(
      net,
      lat,
      [1, C, R, R],
      { ...EDM_SAMPLER },
      { prior: 'gaussian', seeds: [1] },
    );
    expect((x[0] as number) / (lat[0] as number)).toBeCloseTo(0.52762, 4);
  });
});

describe('per-seed streams', () => {
  const net = mixtureDenoiser(C, R, points, logWeights);
  const churn = { S_churn: 30, S_min: 0.01, S_max: 80, S_noise: 1 };
  it('image k depends only on seed k (latents, churn noise, PFGM++ prior)', async () => {
    for (const D of [Number.POSITIVE_INFINITY, 64]) {
      const big = await generate(net, [5, 6, 7, 8], { D, sampler: 'edm', config: churn });
      const one = await generate(net, [7], { D, sampler: 'edm', config: churn });
      expect(Array.from(one)).toEqual(Array.from(big.subarray(2 * N, 3 * N)));
    }
  });
  it('random class labels are one-hot, per seed; a fixed class is honoured', async () => {
    const seen: Float64Array[] = [];
    const conditional: Denoiser = {
      ...net,
      labelDim: 4,
      denoise: (x, shape, sigma, labels) => {
        if (labels) seen.push(labels);
        return net.denoise(x, shape, sigma);
      },
    };
    await generate(conditional, [1, 2, 3], {
      D: Number.POSITIVE_INFINITY,
      sampler: 'edm',
      config: { numSteps: 2 },
    });
    const labels = seen[0] as Float64Array;
    expect(labels.length).toBe(12);
    for (let b = 0; b < 3; b++)
      expect(labels.subarray(b * 4, b * 4 + 4).reduce((a, v) => a + v, 0)).toBe(1);
    seen.length = 0;
    await generate(conditional, [1, 2], {
      D: Number.POSITIVE_INFINITY,
      sampler: 'edm',
      config: { numSteps: 2 },
      classIdx: 3,
    });
    expect(Array.from(seen[0] as Float64Array)).toEqual([0, 0, 0, 1, 0, 0, 0, 1]);
    // One class per image (a digit per grid row), and its errors.
    seen.length = 0;
    await generate(conditional, [1, 2, 3], {
      D: Number.POSITIVE_INFINITY,
      sampler: 'edm',
      config: { numSteps: 2 },
      classes: [2, 0, 3],
    });
    expect(Array.from(seen[0] as Float64Array)).toEqual([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    const opts = { D: Number.POSITIVE_INFINITY, sampler: 'edm' as const };
    await expect(generate(conditional, [1, 2], { ...opts, classes: [1] })).rejects.toThrow(
      /1 classes for 2 seeds/,
    );
    await expect(generate(conditional, [1], { ...opts, classes: [4] })).rejects.toThrow(
      /class 4 outside \[0, 4\)/,
    );
    await expect(generate(net, [1], { ...opts, classes: [0] })).rejects.toThrow(/unconditional/);
    await expect(
      generate(net, [1], { D: Number.POSITIVE_INFINITY, sampler: 'edm', classIdx: 1 }),
    ).rejects.toThrow(/unconditional/);
  });
  it('the alpha perturbation and step sweeps (robustness experiments)', async () => {
    const lat = gaussianLatents(seeds.slice(0, 4), [4, N]);
    const opts = { prior: 'gaussian' as const, seeds: seeds.slice(0, 4) };
    const shape = [4, C, R, R];
    const byAlpha = await alphaSweep(net, lat, shape, {}, opts);
    expect([...byAlpha.keys()]).toEqual([0, 0.1, 0.2]);
    const plain = await edmSampler(net, lat, shape, {}, opts);
    expect(Array.from(byAlpha.get(0) as Float64Array)).toEqual(Array.from(plain));
    // The point-set denoiser snaps to a point at the end, so look at a Gaussian's samples.
    const gauss = gaussDenoiser(C, R);
    const g0 = await edmSampler(gauss, lat, shape, {}, opts);
    const g2 = await edmSampler(gauss, lat, shape, { alpha: 0.2 }, opts);
    expect(Math.max(...g0.map((v, i) => Math.abs(v - (g2[i] as number))))).toBeGreaterThan(1e-3);
    // Perturbed trajectories still end on the points (the denoiser pulls them back).
    for (const h of nearest(byAlpha.get(0.2) as Float64Array)) expect(h.dist).toBeLessThan(1e-2);
    const bySteps = await stepSweep(net, lat, shape, {}, opts, [10, 24]);
    for (const x of bySteps.values()) for (const h of nearest(x)) expect(h.dist).toBeLessThan(1e-2);
  });
  it('bad input: seeds/batch mismatch, sigma range, steps', async () => {
    const lat = new Float64Array(2 * N);
    await expect(
      edmSampler(net, lat, [2, C, R, R], {}, { prior: 'gaussian', seeds: [1] }),
    ).rejects.toThrow(/1 seeds for a batch of 2/);
    await expect(
      edmSampler(net, lat, [3, C, R, R], {}, { prior: 'gaussian', seeds: [1, 2, 3] }),
    ).rejects.toThrow(/does not match shape/);
    await expect(
      edmSampler(
        net,
        lat,
        [2, C, R, R],
        { sigmaMin: 5, sigmaMax: 1 },
        { prior: 'gaussian', seeds: [1, 2] },
      ),
    ).rejects.toThrow(/sigmaMin < sigmaMax/);
    await expect(
      edmSampler(net, lat, [2, C, R, R], { numSteps: 0 }, { prior: 'gaussian', seeds: [1, 2] }),
    ).rejects.toThrow(/numSteps/);
    await expect(generate(net, [1], { D: 1, sampler: 'edm' })).rejects.toThrow(/D must be >= 2/);
  });
  it("the sigma range is clamped to the network's and every sigma goes through roundSigma", async () => {
    const round = (s: number) => Math.round(s * 100) / 100;
    const seen: number[] = [];
    const limited: Denoiser = {
      ...net,
      sigmaMin: 0.01,
      sigmaMax: 20,
      roundSigma: round,
      denoise: (x, shape, sigma) => (seen.push(sigma), net.denoise(x, shape, sigma)),
    };
    const t = edmSamplerSteps(limited, { ...EDM_SAMPLER, S_churn: 40, S_max: 100 });
    expect(t[0]).toBe(20);
    expect(t[17]).toBe(0.01);
    expect(t[18]).toBe(0);
    await generate(limited, [1, 2], {
      D: Number.POSITIVE_INFINITY,
      sampler: 'edm',
      config: { S_churn: 40, S_max: 100 },
    });
    for (const s of seen) expect(s).toBe(round(s));
    expect(Math.max(...seen)).toBeGreaterThan(20); // t_hat = t (1 + gamma) with churn
  });
  it('PNG values as generate.py writes them', () => {
    expect(Array.from(toUint8(Float64Array.from([-1.5, -1, 0, 0.999, 1, 2])))).toEqual([
      0, 0, 128, 255, 255, 255,
    ]);
  });
});
