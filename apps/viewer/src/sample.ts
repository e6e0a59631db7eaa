/**
 * One sampling run with the trainer's code path (`generate`, EDM Heun sampler, the PFGM++ prior
 * for finite D), so the page draws what `pfgmpp generate` writes for the same seeds and steps.
 */
import { asDenoiser, type Precond } from '@pfgmpp/nn';
import { generate, type SamplerStep } from '@pfgmpp/pfgmpp';
import type { Settings } from './params.ts';

export interface SampleRun {
  /** Final samples, float64 [count, C, R, R], in the network's [-1, 1] range (not clipped). */
  x: Float64Array;
  /** x after each step; the last equals `x`. */
  trajectory: Float64Array[];
  /** Network evaluations (Heun: 2 steps - 1). */
  nfe: number;
  ms: number;
}

export async function sample(
  net: Precond,
  seeds: number[],
  s: Settings & { D: number },
  onStep?: (step: SamplerStep, elapsedMs: number) => void,
): Promise<SampleRun> {
  const denoiser = asDenoiser(net);
  const trajectory: Float64Array[] = [];
  const t0 = performance.now();
  const x = await generate(denoiser, seeds, {
    D: s.D,
    sampler: 'edm',
    config: { numSteps: s.steps },
    ...(s.classIdx !== undefined && { classIdx: s.classIdx }),
    onStep: (step) => {
      // The sampler reuses nothing it hands out, but copying keeps that its business.
      trajectory.push(step.x.slice());
      onStep?.(step, performance.now() - t0);
    },
  });
  return { x, trajectory, nfe: denoiser.calls, ms: performance.now() - t0 };
}
