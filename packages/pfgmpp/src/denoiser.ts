/**
 * What the samplers need from a network: EDM's preconditioned D(x; sigma) plus the attributes
 * generate.py reads. Samplers keep x and t in float64 on the CPU (as the official code keeps
 * x_next in float64); an adapter from a GPU network converts to float32 inside `denoise`.
 */
export interface Denoiser {
  readonly imgChannels: number;
  readonly imgResolution: number;
  readonly labelDim: number;
  /** Range of sigma the network supports (0 / Infinity for analytic denoisers). */
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  /** The sigma the network can represent nearest to `sigma` (identity except iDDPM). */
  roundSigma(sigma: number): number;
  /**
   * D(x; sigma). x: float64 [B, C, H, W] row-major; sigma: one noise level for the whole batch;
   * classLabels: float64 [B, labelDim] (one-hot) or undefined. Returns float64, same shape as x.
   */
  denoise(
    x: Float64Array,
    shape: readonly number[],
    sigma: number,
    classLabels?: Float64Array,
  ): Promise<Float64Array>;
}

/** One sampler step as reported to `onStep`: x is the state after the step (do not keep it). */
export interface SamplerStep {
  /** 0-based step index; the last step has i = numSteps - 1. */
  readonly i: number;
  readonly numSteps: number;
  /** Time at the start and end of the step (the sampler's own t: sigma for EDM). */
  readonly tCur: number;
  readonly tNext: number;
  /** x_{i+1}, float64 [B, C, H, W] (for the ablation sampler: the scaled variable s(t) x). */
  readonly x: Float64Array;
}

export type OnStep = (step: SamplerStep) => void;

/** Float64 [numSteps + 1, ...shape] trajectory collector: traj[0] = x_0, traj[i+1] = x_{i+1}. */
export function trajectoryRecorder(numSteps: number, x0: Float64Array) {
  const size = x0.length;
  const traj = new Float64Array((numSteps + 1) * size);
  traj.set(x0, 0);
  const onStep: OnStep = (s) => traj.set(s.x, (s.i + 1) * size);
  return { traj, onStep };
}

/** Elements per image of `shape` ([B, ...]); throws on a shape that does not hold `length`. */
export function checkBatch(name: string, length: number, shape: readonly number[]): number {
  const batch = shape[0] ?? 0;
  const total = shape.reduce((p, d) => p * d, 1);
  if (shape.length < 2 || total !== length || batch < 1) {
    throw new RangeError(
      `${name}: x of length ${length} does not match shape [${shape.join(', ')}] ([B, ...], B >= 1)`,
    );
  }
  return total / batch;
}
