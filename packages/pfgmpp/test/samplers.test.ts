/**
 * Sampler trajectories against the official EDM/PFGM++ samplers (test/fixtures/pfgmpp/samplers.npz):
 * analytic float64 denoisers, Gaussian and PFGM++ latents, every ablation combination.
 */
import { describe, expect, it } from 'vitest';
import {
  type AblationSamplerConfig,
  ablationPlan,
  ablationSampler,
  alignSampler,
  type Denoiser,
  EDM_SAMPLER,
  edmSampler,
  edmSamplerSteps,
  trajectoryRecorder,
} from '../src/index.ts';
import { gaussDenoiser, mixtureDenoiser } from './denoisers.ts';
import { f64, npz, npzJson } from './fixtures.ts';

const Z = npz('samplers.npz');
const shared = npzJson(Z, 'shared.config') as { D: number; N: number; seeds: number[] };
const runs = (npzJson(Z, 'index') as { runs: string[] }).runs;
const shape = [2, 3, 4, 4];
const seeds = shared.seeds;
const points = f64(Z, 'denoiser.mixture.points');
const logWeights = f64(Z, 'denoiser.mixture.log_weights');
const denoisers: Record<string, Denoiser> = {
  gauss: gaussDenoiser(3, 4),
  mixture: mixtureDenoiser(3, 4, points, logWeights),
  mixture_pfgmpp: mixtureDenoiser(3, 4, points, logWeights, shared.D),
};
const latents = { gauss: f64(Z, 'latents.gauss'), pfgmpp: f64(Z, 'latents.pfgmpp') };
// Fixture runs use generate.py's CLI defaults S_max = 0, S_noise = 0 (S_churn = 0 either way).
const quiet = { S_churn: 0, S_min: 0, S_max: 0, S_noise: 0 };
const TOL = 1e-12;

/** max |a - b| / max(|b|, 1e-300) over the arrays, and a failure message. */
function expectRel(actual: Float64Array, expected: Float64Array, label: string, tol = TOL): void {
  expect(actual.length, label).toBe(expected.length);
  let worst = 0;
  let at = -1;
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs((actual[i] as number) - (expected[i] as number)) / Math.max(scale, 1e-300);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  expect(worst, `${label}: worst relative error ${worst} at ${at}`).toBeLessThanOrEqual(tol);
}

describe('EDM sampler (generate.py edm_sampler), diffusion and PFGM++ latents', () => {
  const edmRuns = runs.filter((r) => r.startsWith('edm.'));
  it('covers all 10 recorded runs', () => expect(edmRuns.length).toBe(10));
  for (const run of edmRuns) {
    it(run, async () => {
      const [, kind, mode, n] = run.split('.') as [string, string, 'diffusion' | 'pfgmpp', string];
      const numSteps = Number(n.slice(1));
      const net = denoisers[kind] as Denoiser;
      const lat = mode === 'pfgmpp' ? latents.pfgmpp : latents.gauss;
      const config = { ...EDM_SAMPLER, ...quiet, numSteps };
      expectRel(edmSamplerSteps(net, config), f64(Z, `${run}.t_steps`), `${run} t_steps`);
      const x0 = mode === 'pfgmpp' ? lat : lat.map((v) => v * 80);
      const rec = trajectoryRecorder(numSteps, x0);
      let calls = 0;
      const counting: Denoiser = { ...net, denoise: (...a) => (calls++, net.denoise(...a)) };
      const out = await edmSampler(counting, lat, shape, config, {
        prior: mode === 'pfgmpp' ? 'pfgmpp' : 'gaussian',
        seeds,
        onStep: rec.onStep,
      });
      expectRel(rec.traj, f64(Z, `${run}.traj`), `${run} traj`);
      expectRel(out, f64(Z, `${run}.out`), `${run} out`);
      expect(calls).toBe(2 * numSteps - 1);
    });
  }
});

describe('generate_steps.py align option (sigma range times sqrt(1 + N/D))', () => {
  for (const run of runs.filter((r) => r.startsWith('steps_align.'))) {
    it(run, async () => {
      const [, kind, , n] = run.split('.') as [string, string, string, string];
      const numSteps = Number(n.slice(1));
      const net = denoisers[kind] as Denoiser;
      const config = alignSampler({ ...EDM_SAMPLER, ...quiet, numSteps }, shared.N, shared.D);
      const resolved = (
        npzJson(Z, `${run}.config`) as { resolved: { sigma_max: number; sigma_min: number } }
      ).resolved;
      expect(config.sigmaMax).toBeCloseTo(resolved.sigma_max, 12);
      expect(config.sigmaMin).toBeCloseTo(resolved.sigma_min, 14);
      const rec = trajectoryRecorder(numSteps, latents.pfgmpp);
      await edmSampler(net, latents.pfgmpp, shape, config, {
        prior: 'pfgmpp',
        seeds,
        onStep: rec.onStep,
      });
      expectRel(edmSamplerSteps(net, config), f64(Z, `${run}.t_steps`), `${run} t_steps`);
      expectRel(rec.traj, f64(Z, `${run}.traj`), `${run} traj`);
    });
  }
});

describe('ablation sampler: every solver x discretization x schedule x scaling', () => {
  const abl = runs.filter((r) => r.startsWith('abl.') || r.startsWith('edm_original.'));
  it('covers 48 combinations x 2 denoisers x 2 step counts, plus EDM HEAD', () =>
    expect(abl.length).toBe(194));
  for (const run of abl) {
    it(run, async () => {
      const original = run.startsWith('edm_original.');
      const parts = run.split('.').slice(original ? 2 : 1);
      const [solver, disc, schedule, scaling, kind, n] = parts as [
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      const numSteps = Number(n.slice(1));
      const net = denoisers[kind] as Denoiser;
      // The official iDDPM levels come from a float32 recurrence; we emulate the float32 steps,
      // but torch's float32 sin differs from a correctly rounded one by an ulp here and there.
      const tol = disc === 'iddpm' ? 2e-6 : TOL;
      // PFGM++'s copy of the sampler keeps the default VP range of EDM's initial commit (beta_d 19.1).
      const config: Partial<AblationSamplerConfig> = {
        ...quiet,
        numSteps,
        solver: solver as AblationSamplerConfig['solver'],
        discretization: disc as AblationSamplerConfig['discretization'],
        schedule: schedule as AblationSamplerConfig['schedule'],
        scaling: scaling as AblationSamplerConfig['scaling'],
        vpDefaultBetaD: original ? 19.9 : 19.1,
      };
      const meta = npzJson(Z, `${run}.config`) as {
        resolved: { sigma_min: number; sigma_max: number; vp_beta_d: number; vp_beta_min: number };
        denoiser_calls: number;
      };
      const plan = ablationPlan(net, config);
      expect(plan.sigmaMin).toBeCloseTo(meta.resolved.sigma_min, 14);
      expect(plan.sigmaMax / meta.resolved.sigma_max).toBeCloseTo(1, 13);
      expect(plan.vpBetaD / meta.resolved.vp_beta_d).toBeCloseTo(1, 10);
      expectRel(plan.sigmaSteps, f64(Z, `${run}.sigma_steps`), `${run} sigma_steps`, tol);
      expectRel(plan.tSteps, f64(Z, `${run}.t_steps`), `${run} t_steps`, tol);
      const hasTraj = Z.has(`${run}.traj`);
      const rec = trajectoryRecorder(numSteps, new Float64Array(96));
      let calls = 0;
      const counting: Denoiser = { ...net, denoise: (...a) => (calls++, net.denoise(...a)) };
      const out = await ablationSampler(counting, latents.gauss, shape, config, {
        prior: 'gaussian',
        seeds,
        onStep: rec.onStep,
      });
      if (hasTraj) {
        const traj = f64(Z, `${run}.traj`);
        const t0 = plan.tSteps[0] as number;
        const x0 = latents.gauss.map((v) => v * plan.schedule.sigma(t0) * plan.schedule.s(t0));
        rec.traj.set(x0, 0);
        expectRel(rec.traj, traj, `${run} traj`, tol);
      }
      expectRel(out, f64(Z, `${run}.out`), `${run} out`, tol);
      expect(calls).toBe(meta.denoiser_calls);
    });
  }
});
