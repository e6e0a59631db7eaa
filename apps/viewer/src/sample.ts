/**
 * One sampling run with the trainer's code path (`generate`: the EDM Heun sampler, or EDM's
 * ablation sampler when a solver/discretization/schedule/scaling differs from EDM's, from the
 * PFGM++ prior for finite D), so the page draws what `pfgmpp generate` writes for the same
 * seeds and settings.
 */
import { asDenoiser, type Precond } from '@pfgmpp/nn';
import { type GenerateOptions, generate, type SamplerStep } from '@pfgmpp/pfgmpp';
import { type Settings, usesAblation } from './params.ts';

export interface SampleRun {
  /** Final samples, float64 [count, C, R, R], in the network's [-1, 1] range (not clipped). */
  x: Float64Array;
  /** x after each step; the last equals `x`. */
  trajectory: Float64Array[];
  /** The sampler's time t at the end of each step (EDM: sigma; 0 after the last). */
  times: number[];
  /** Network evaluations (Heun: 2 steps - 1; Euler: steps). */
  nfe: number;
  ms: number;
}

/** The `generate` options of the settings, exactly as the command line builds them. */
export function generateOptions(s: Settings & { D: number }): GenerateOptions {
  const common = {
    numSteps: s.steps,
    ...(s.churn > 0 && { S_churn: s.churn }),
  };
  const base = { D: s.D, ...(s.classIdx !== undefined && { classIdx: s.classIdx }) };
  if (usesAblation(s))
    return {
      ...base,
      sampler: 'ablation',
      config: {
        ...common,
        solver: s.solver,
        discretization: s.disc,
        schedule: s.schedule,
        scaling: s.scaling,
      },
    };
  return { ...base, sampler: 'edm', config: { ...common, ...(s.alpha > 0 && { alpha: s.alpha }) } };
}

export async function sample(
  net: Precond,
  seeds: number[],
  s: Settings & { D: number },
  onStep?: (step: SamplerStep, elapsedMs: number) => void,
): Promise<SampleRun> {
  const denoiser = asDenoiser(net);
  // Kernel rows for this adapter and batch, tuned once (then read from localStorage).
  await denoiser.tune(seeds.length);
  const trajectory: Float64Array[] = [];
  const times: number[] = [];
  const t0 = performance.now();
  const x = await generate(denoiser, seeds, {
    ...generateOptions(s),
    onStep: (step) => {
      // The sampler reuses nothing it hands out, but copying keeps that its business.
      trajectory.push(step.x.slice());
      times.push(step.tNext);
      onStep?.(step, performance.now() - t0);
    },
  });
  return { x, trajectory, times, nfe: denoiser.calls, ms: performance.now() - t0 };
}
