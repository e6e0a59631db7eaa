/**
 * A preconditioned network as the samplers see it (the `Denoiser` shape of @pfgmpp/pfgmpp,
 * matched structurally so nn does not depend on it): float64 state in, float32 on the GPU,
 * eval mode, no autograd, intermediate tensors freed per call.
 */
import { activeGpu, noGrad, scope, type TuneResult, tensor, zeros } from '@pfgmpp/tensor';
import type { Precond } from './precond.ts';

export interface PrecondDenoiser {
  readonly imgChannels: number;
  readonly imgResolution: number;
  readonly labelDim: number;
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  roundSigma(sigma: number): number;
  denoise(
    x: Float64Array,
    shape: readonly number[],
    sigma: number,
    classLabels?: Float64Array,
  ): Promise<Float64Array>;
  /** Network evaluations so far (NFE). */
  calls: number;
  /**
   * Chooses the kernel rows for batches of `batch` images (one evaluation on zeros shows the
   * shapes, then the tuner: Gpu.tuneKernels). Call before sampling, so every image runs the
   * chosen rows.
   */
  tune(batch: number): Promise<TuneResult[]>;
}

export function asDenoiser(net: Precond, augmentLabels?: Float32Array): PrecondDenoiser {
  const d: PrecondDenoiser = {
    imgChannels: net.imgChannels,
    imgResolution: net.imgResolution,
    labelDim: net.labelDim,
    sigmaMin: net.sigmaMin,
    sigmaMax: net.sigmaMax,
    roundSigma: (s) => net.roundSigma(s),
    calls: 0,
    async denoise(x, shape, sigma, classLabels) {
      const B = shape[0] as number;
      net.eval();
      d.calls++;
      const out = scope(() =>
        noGrad(() => {
          const labels =
            classLabels && net.labelDim
              ? tensor(Float32Array.from(classLabels), [B, net.labelDim])
              : null;
          const aug = augmentLabels ? tensor(augmentLabels, [B, augmentLabels.length / B]) : null;
          return net.forward(tensor(Float32Array.from(x), [...shape]), sigma, labels, aug);
        }),
      );
      const values = await out.read();
      out.dispose();
      return Float64Array.from(values);
    },
    tune(batch) {
      const shape = [batch, net.imgChannels, net.imgResolution, net.imgResolution];
      return activeGpu().tuneKernels(() =>
        scope(() =>
          noGrad(() => {
            const labels = net.labelDim ? zeros([batch, net.labelDim]) : null;
            const per = augmentLabels ? augmentLabels.length / batch : 0;
            const aug = augmentLabels ? zeros([batch, per]) : null;
            net.forward(zeros(shape), 1, labels, aug);
          }),
        ),
      );
    },
  };
  return d;
}
