/** What a convolution kernel row is: the passes it runs and the geometries each one fits. */
import type { Gpu } from '../../gpu.ts';
import type { Tensor } from '../../tensor.ts';
import type {
  ConvGeometry,
  ForwardArgs,
  InputGradArgs,
  WeightGrad,
  WeightGradArgs,
} from './geometry.ts';

export interface ConvPass<A, R> {
  /** Whether this pass of the row runs geometry `g` on `gpu` (its features and limits). */
  fits(g: ConvGeometry, gpu: Gpu): boolean;
  /** Enqueues the pass; N, the output and the reduction are never empty here. */
  run(g: ConvGeometry, args: A): R;
}

export interface ConvRow {
  /** The name PFGMPP_KERNELS, the tuner's cache and run folders use. */
  readonly name: string;
  /** The WGSL files it dispatches (besides shared helpers: packing, fills, copies, sums). */
  readonly shaders: readonly string[];
  /** One line for the op table: what it is and when it applies. */
  readonly about: string;
  /** Pass y; `epilogue` says whether it applies conv2d's epilogue itself. */
  readonly y?: ConvPass<ForwardArgs, Tensor> & { readonly epilogue: boolean };
  readonly dx?: ConvPass<InputGradArgs, Tensor>;
  /** Pass dw; `sums` says whether it returns dy's per-channel sums when asked. */
  readonly dw?: ConvPass<WeightGradArgs, WeightGrad> & { readonly sums: boolean };
}
