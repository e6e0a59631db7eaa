/**
 * Bilinear resizing of NCHW images (resize.wgsl), forward only (nothing trains through it):
 * PyTorch's half-pixel mapping or TensorFlow 1's legacy mapping that EDM's FID detector uses.
 */
import { needsGrad } from '../autograd.ts';
import { TensorError } from '../errors.ts';
import { K } from '../kernels.ts';
import { Tensor } from '../tensor.ts';
import { shapeStr, workgroupsFor } from './util.ts';

export interface ResizeBilinearOptions {
  /** Only false is implemented (both modes below are align_corners=False mappings). */
  alignCorners?: false;
  /**
   * 'half-pixel' (default): F.interpolate(mode='bilinear', align_corners=False), source =
   * max((dst + 0.5) * in/out - 0.5, 0). 'tf1': TF1 resize_bilinear without half-pixel centres,
   * source = dst * in/out (EDM's FID resize to 299x299).
   */
  mode?: 'half-pixel' | 'tf1';
}

const MODE = { 'half-pixel': 0, tf1: 1 } as const;

/** x [N, C, H, W] -> [N, C, outH, outW]; neighbours past the last pixel clamp to it. */
export function resizeBilinear(
  x: Tensor,
  size: readonly [number, number],
  opts: ResizeBilinearOptions = {},
): Tensor {
  if (x.rank !== 4) {
    throw new TensorError(`resizeBilinear: x must be 4-D NCHW, got ${shapeStr(x.shape)}`);
  }
  if (needsGrad([x])) {
    // Refused rather than silently cutting the gradient off.
    throw new TensorError(
      'resizeBilinear is forward only (no backward): call it under noGrad() or on tensors without requireGrad()',
    );
  }
  const [N, C, H, W] = x.shape as unknown as [number, number, number, number];
  const [OH, OW] = size;
  if (!size.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new TensorError(
      `resizeBilinear: size must be positive integers, got [${size.join(', ')}]`,
    );
  }
  if (opts.alignCorners !== undefined && opts.alignCorners !== false) {
    throw new TensorError('resizeBilinear: only alignCorners false is implemented');
  }
  const mode = opts.mode ?? 'half-pixel';
  if (!Object.hasOwn(MODE, mode)) throw new TensorError(`resizeBilinear: unknown mode '${mode}'`);
  if (H === 0 || W === 0) throw new TensorError('resizeBilinear: empty input');
  const y = Tensor.empty(x.gpu, [N, C, OH, OW]);
  const n = N * C * OH * OW;
  const params = { n, h: H, w: W, oh: OH, ow: OW, scale_h: H / OH, scale_w: W / OW };
  x.gpu.dispatch(K.resize, { MODE: MODE[mode] }, [x.buffer, y.buffer], params, workgroupsFor(n));
  return y;
}
