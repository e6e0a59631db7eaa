/**
 * The three resampling stages of EDM's augmentation pipeline (SPEC 7.7), forward only (nothing
 * trains through augmentation): reflect padding + sym6 2x upsampling (augment_upsample.wgsl),
 * per-image affine bilinear sampling with zero padding (grid_sample.wgsl, PyTorch's
 * affine_grid + grid_sample with align_corners=False), and sym6 2x downsampling with a 3-pixel
 * crop (augment_downsample.wgsl). The matrices and margins come from the host
 * (packages/pfgmpp/src/augment.ts).
 */
import { needsGrad } from '../autograd.ts';
import { TensorError } from '../errors.ts';
import { K } from '../kernels.ts';
import { Tensor } from '../tensor.ts';
import { tensor } from './create.ts';
import { shapeStr, workgroupsFor } from './util.ts';

/** Reflect-padding margins in pixels (each at most the image size minus 1 along its axis). */
export interface AugmentMargins {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function nchw(name: string, x: Tensor): [number, number, number, number] {
  if (x.rank !== 4) throw new TensorError(`${name}: x must be 4-D NCHW, got ${shapeStr(x.shape)}`);
  if (needsGrad([x])) {
    throw new TensorError(
      `${name} is forward only (no backward): call it under noGrad() or on tensors without requireGrad()`,
    );
  }
  const s = x.shape as unknown as [number, number, number, number];
  if (s.some((d) => d === 0)) throw new TensorError(`${name}: empty input ${shapeStr(x.shape)}`);
  return s;
}

/**
 * x [N, C, H, W] -> [N, C, 2(H + top + bottom), 2(W + left + right)]: mirror each image whose
 * flag is set (`flips` [N, 2] as x-flip, y-flip in {0, 1}; default none), reflect-pad by the
 * margins, zero-interleave and filter with the sym6 low-pass (convolution order, padding 6).
 */
export function augmentUpsample(
  x: Tensor,
  margins: AugmentMargins,
  flips?: ArrayLike<number>,
): Tensor {
  const [N, C, H, W] = nchw('augmentUpsample', x);
  const { left, right, top, bottom } = margins;
  for (const [name, v, n] of [
    ['left', left, W],
    ['right', right, W],
    ['top', top, H],
    ['bottom', bottom, H],
  ] as const) {
    if (!(Number.isInteger(v) && v >= 0 && v <= n - 1)) {
      throw new TensorError(
        `augmentUpsample: margin ${name} must be an integer in [0, ${n - 1}] for ${shapeStr(x.shape)}, got ${v}`,
      );
    }
  }
  const f = flips ?? new Float32Array(2 * N);
  if (f.length !== 2 * N) {
    throw new TensorError(
      `augmentUpsample: flips must hold 2 values per image (${2 * N}), got ${f.length}`,
    );
  }
  const HP = H + top + bottom;
  const WP = W + left + right;
  const y = Tensor.empty(x.gpu, [N, C, 2 * HP, 2 * WP]);
  const flipT = tensor(
    Array.from(f, (v) => (v ? 1 : 0)),
    [N, 2],
    x.gpu,
  );
  const n = N * C * 4 * HP * WP;
  const params = { n, c: C, h: H, w: W, top, left, hp: HP, wp: WP };
  x.gpu.dispatch(
    K.augmentUpsample,
    {},
    [x.buffer, flipT.buffer, y.buffer],
    params,
    workgroupsFor(n),
  );
  flipT.dispose();
  return y;
}

/**
 * F.grid_sample(x, F.affine_grid(theta, [N, C, OH, OW], align_corners=False), mode='bilinear',
 * padding_mode='zeros', align_corners=False): `theta` holds N row-major 2x3 matrices in
 * normalised coordinates ([-1, 1] spans the outer pixel edges). The pixel-space map is formed in
 * float64 on the host and rounded once to float32.
 */
export function affineGridSample(
  x: Tensor,
  theta: ArrayLike<number>,
  size: readonly [number, number],
): Tensor {
  const [N, C, H, W] = nchw('affineGridSample', x);
  const [OH, OW] = size;
  if (!size.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new TensorError(
      `affineGridSample: size must be positive integers, got [${size.join(', ')}]`,
    );
  }
  if (theta.length !== 6 * N) {
    throw new TensorError(
      `affineGridSample: theta must hold 6 values per image (${6 * N}), got ${theta.length}`,
    );
  }
  const a = new Float64Array(6 * N);
  for (let b = 0; b < N; b++) {
    // Output pixel o -> normalised (2o + 1)/OW - 1 -> theta -> source pixel ((g + 1) W - 1) / 2.
    for (const [row, extent] of [
      [0, W],
      [1, H],
    ] as const) {
      const t0 = theta[6 * b + 3 * row] as number;
      const t1 = theta[6 * b + 3 * row + 1] as number;
      const t2 = theta[6 * b + 3 * row + 2] as number;
      // g = t0 (2 ox + 1 - OW)/OW + t1 (2 oy + 1 - OH)/OH + t2
      const gx = (2 * t0) / OW;
      const gy = (2 * t1) / OH;
      const g0 = t0 * (1 / OW - 1) + t1 * (1 / OH - 1) + t2;
      a[6 * b + 3 * row] = (gx * extent) / 2;
      a[6 * b + 3 * row + 1] = (gy * extent) / 2;
      a[6 * b + 3 * row + 2] = ((g0 + 1) * extent - 1) / 2;
    }
  }
  const y = Tensor.empty(x.gpu, [N, C, OH, OW]);
  const aT = tensor(a, [N, 6], x.gpu);
  const n = N * C * OH * OW;
  const params = { n, c: C, h: H, w: W, oh: OH, ow: OW };
  x.gpu.dispatch(K.gridSample, {}, [x.buffer, aT.buffer, y.buffer], params, workgroupsFor(n));
  aT.dispose();
  return y;
}

/**
 * x [N, C, IH, IW] (even sizes, at least 14) -> [N, C, IH/2 - 6, IW/2 - 6]: sym6 low-pass in
 * correlation order with stride 2 and padding 5 along both axes, then 3 pixels cropped per side.
 */
export function augmentDownsample(x: Tensor): Tensor {
  const [N, C, IH, IW] = nchw('augmentDownsample', x);
  if (IH % 2 || IW % 2 || IH < 14 || IW < 14) {
    throw new TensorError(
      `augmentDownsample: height and width must be even and at least 14, got ${shapeStr(x.shape)}`,
    );
  }
  const OH = IH / 2 - 6;
  const OW = IW / 2 - 6;
  const y = Tensor.empty(x.gpu, [N, C, OH, OW]);
  const n = N * C * OH * OW;
  const params = { n, ih: IH, iw: IW, oh: OH, ow: OW };
  x.gpu.dispatch(K.augmentDownsample, {}, [x.buffer, y.buffer], params, workgroupsFor(n));
  return y;
}
