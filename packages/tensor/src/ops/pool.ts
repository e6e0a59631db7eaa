/**
 * Pooling of NCHW images for the FID Inception network (forward only: nothing trains through
 * it): maxPool2d, avgPool2d (pool.wgsl) and globalAvgPool (a mean over H and W). Output size is
 * floor((H + 2*pad - kernel) / stride) + 1, as PyTorch without ceil_mode.
 */
import { needsGrad } from '../autograd.ts';
import { TensorError } from '../errors.ts';
import { K } from '../kernels.ts';
import { type ConvPair, convPair } from '../reference/conv.ts';
import { Tensor } from '../tensor.ts';
import { mean } from './reduce.ts';
import { shapeStr, workgroupsFor } from './util.ts';

export interface Pool2dOptions {
  /** Window size [kh, kw] (or one number for both). */
  kernel: ConvPair;
  /** Step between windows; defaults to the kernel size (as PyTorch). */
  stride?: ConvPair;
  /** Implicit border on each side, at most half the kernel (default 0). */
  padding?: ConvPair;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Divide by kh*kw including padding taps (true, the default) or by in-bounds taps only. */
  countIncludePad?: boolean;
}

/** Forward-only ops refuse inputs that want gradients rather than silently dropping them. */
function forwardOnly(op: string): TensorError {
  return new TensorError(
    `${op} is forward only (no backward): call it under noGrad() or on tensors without requireGrad()`,
  );
}

function pool(x: Tensor, opts: AvgPool2dOptions, op: 'maxPool2d' | 'avgPool2d'): Tensor {
  if (x.rank !== 4) throw new TensorError(`${op}: x must be 4-D NCHW, got ${shapeStr(x.shape)}`);
  if (needsGrad([x])) throw forwardOnly(op);
  const [N, C, H, W] = x.shape as unknown as [number, number, number, number];
  const [kh, kw] = convPair(opts.kernel, 1);
  const [sh, sw] = opts.stride === undefined ? [kh, kw] : convPair(opts.stride, 1);
  const [ph, pw] = convPair(opts.padding, 0);
  const ints = [kh, kw, sh, sw, ph, pw];
  if (!ints.every((v) => Number.isInteger(v)) || kh < 1 || kw < 1 || sh < 1 || sw < 1) {
    throw new TensorError(
      `${op}: kernel and stride must be positive integers, got kernel [${kh}, ${kw}], stride [${sh}, ${sw}]`,
    );
  }
  if (ph < 0 || pw < 0 || 2 * ph > kh || 2 * pw > kw) {
    throw new TensorError(
      `${op}: padding must be between 0 and half the kernel, got [${ph}, ${pw}] for kernel [${kh}, ${kw}]`,
    );
  }
  const OH = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
  if (OH < 1 || OW < 1) {
    throw new TensorError(
      `${op}: kernel [${kh}, ${kw}] is larger than the padded input ${shapeStr(x.shape)}`,
    );
  }
  const y = Tensor.empty(x.gpu, [N, C, OH, OW]);
  const n = N * C * OH * OW;
  const params = { n, h: H, w: W, oh: OH, ow: OW, kh, kw, sh, sw, ph, pw };
  const constants: Record<string, number> =
    op === 'maxPool2d' ? { OP: 0 } : { OP: 1, INCLUDE_PAD: opts.countIncludePad === false ? 0 : 1 };
  x.gpu.dispatch(K.pool, constants, [x.buffer, y.buffer], params, workgroupsFor(n));
  return y;
}

/** Max over each window; padding counts as -inf and NaN propagates (as PyTorch). */
export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  return pool(x, opts, 'maxPool2d');
}

/** Mean over each window (PyTorch's avg_pool2d, count_include_pad as `countIncludePad`). */
export function avgPool2d(x: Tensor, opts: AvgPool2dOptions): Tensor {
  return pool(x, opts, 'avgPool2d');
}

/** Mean over H and W: [N, C, H, W] -> [N, C, 1, 1]. */
export function globalAvgPool(x: Tensor): Tensor {
  if (x.rank !== 4) {
    throw new TensorError(`globalAvgPool: x must be 4-D NCHW, got ${shapeStr(x.shape)}`);
  }
  return mean(x, [2, 3], true);
}
