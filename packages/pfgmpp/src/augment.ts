/**
 * EDM's training augmentation (SPEC 7.7) with the multipliers EDM trains with: xflip 1e8, yflip 1,
 * scale 1, rotate_frac 1, aniso 1, translate_frac 1 (everything else off). The random draws, the
 * inverse geometric matrices, the padding margins and the 9 augment labels are computed here in
 * float64; the pixels are resampled on the GPU by three forward-only kernels of the tensor
 * package (augmentUpsample, affineGridSample, augmentDownsample).
 *
 * Per image, in order: x-flip and y-flip mirror the pixels exactly (EDM's pixel blitting, not a
 * matrix); then the inverse matrix G^-1 = S^-1(s, s) R(theta) R(-phi) S^-1(a, 1/a) R(phi)
 * T^-1(tx, ty) maps output to input coordinates (pixel units, origin at the image centre).
 * Because every geometric transform is enabled, the whole batch always goes through the
 * resampling, so an image whose transforms all came out "not applied" still changes by ~1e-5.
 *
 * Randomness: image k of micro-batch `step` reads PhiloxStream(seed, STREAM.augment, 8 (offset
 * + k), step + 1), so the draws depend on (seed, step, image index) only and a resumed run repeats
 * them exactly.
 */
import {
  affineGridSample,
  augmentDownsample,
  augmentUpsample,
  type AugmentMargins,
  noGrad,
  type Tensor,
  tensor,
} from '@pfgmpp/tensor';
import { PhiloxStream, STREAM } from './random.ts';

/** Width of the augment labels (the network's augment_dim when augmentation is on). */
export const AUGMENT_DIM = 9;

/** What `training_options.json` records under augment_kwargs (plus `p`). */
export const AUGMENT_KWARGS = {
  class_name: 'training.augment.AugmentPipe',
  xflip: 1e8,
  yflip: 1,
  scale: 1,
  rotate_frac: 1,
  aniso: 1,
  translate_frac: 1,
} as const;

/** EDM's spreads: log2 std of the scalings, std of the translation as a fraction of the size. */
const SCALE_STD = 0.2;
const ANISO_STD = 0.2;
const TRANSLATE_STD = 0.125;
/** Probability that anisotropic scaling acts along a rotated axis. */
const ANISO_ROTATE_PROB = 0.5;
/** Philox blocks reserved per image (19 uniforms are read; 32 are reserved). */
const BLOCKS_PER_IMAGE = 8;
/** The sym6 filter is 12 taps long; EDM pads by a quarter of it (3) on the low-resolution side. */
const HZ_PAD = 3;

/**
 * One image's transforms as applied: zeros where a transform was not applied. Angles in radians,
 * `scale`, `aniso`, `tx`, `ty` in units of their standard deviations (the label values).
 */
export interface AugmentDraw {
  xflip: 0 | 1;
  yflip: 0 | 1;
  /** xi_scale: the isotropic scale is 2^(0.2 xi). */
  scale: number;
  /** theta, U(-pi, pi). */
  rotate: number;
  /** xi_aniso: the anisotropic scale is 2^(0.2 xi) along one axis and its inverse across. */
  aniso: number;
  /** phi: the anisotropy axis angle (0 when axis-aligned). */
  anisoAngle: number;
  /** xi_tx, xi_ty: the shift is (0.125 W xi_tx, 0.125 H xi_ty) pixels. */
  tx: number;
  ty: number;
}

export const IDENTITY_DRAW: AugmentDraw = Object.freeze({
  xflip: 0,
  yflip: 0,
  scale: 0,
  rotate: 0,
  aniso: 0,
  anisoAngle: 0,
  tx: 0,
  ty: 0,
});

function checkP(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`augment: p must be in [0, 1], got ${p}`);
}

/**
 * The draws of `count` images of micro-batch `rng.step`, starting at image index `first` (the STF
 * reference images continue the numbering after the training images). Each transform is applied
 * with probability multiplier * p, tested with its own uniform after its value is drawn, as EDM
 * does.
 */
export function drawAugment(
  count: number,
  p: number,
  rng: { seed: number; step: number },
  first = 0,
): AugmentDraw[] {
  checkP(p);
  if (!(Number.isInteger(rng.step) && rng.step >= 0 && rng.step < 2 ** 32 - 1))
    throw new RangeError(`augment: rng.step must be an integer in [0, 2^32 - 1), got ${rng.step}`);
  return Array.from({ length: count }, (_, k) => {
    const s = new PhiloxStream(
      rng.seed,
      STREAM.augment,
      (first + k) * BLOCKS_PER_IMAGE,
      rng.step + 1,
    );
    const coin = () => (s.uniform() < 0.5 ? 0 : 1);
    const applied = (multiplier: number) => s.uniform() < multiplier * p;
    let w: 0 | 1 = coin();
    const xflip = applied(AUGMENT_KWARGS.xflip) ? w : 0;
    w = coin();
    const yflip = applied(AUGMENT_KWARGS.yflip) ? w : 0;
    const xs = s.normal();
    const scale = applied(AUGMENT_KWARGS.scale) ? xs : 0;
    const theta = (s.uniform() * 2 - 1) * Math.PI;
    const rotate = applied(AUGMENT_KWARGS.rotate_frac) ? theta : 0;
    const xa = s.normal();
    const phi = (s.uniform() * 2 - 1) * Math.PI;
    const aniso = applied(AUGMENT_KWARGS.aniso) ? xa : 0;
    const anisoAngle = s.uniform() < ANISO_ROTATE_PROB ? phi : 0;
    const t0 = s.normal();
    const t1 = s.normal();
    const shift = applied(AUGMENT_KWARGS.translate_frac);
    return {
      xflip,
      yflip,
      scale,
      rotate,
      aniso,
      anisoAngle,
      tx: shift ? t0 : 0,
      ty: shift ? t1 : 0,
    };
  });
}

/**
 * The 9 augment labels of each draw, [B * 9] row-major: xflip bit, yflip bit, xi_scale,
 * cos(theta) - 1, sin(theta), xi_aniso cos(phi), xi_aniso sin(phi), xi_tx, xi_ty.
 */
export function augmentLabels(draws: readonly AugmentDraw[]): Float64Array {
  const out = new Float64Array(draws.length * AUGMENT_DIM);
  draws.forEach((d, b) => {
    out.set(
      [
        d.xflip,
        d.yflip,
        d.scale,
        Math.cos(d.rotate) - 1,
        Math.sin(d.rotate),
        d.aniso * Math.cos(d.anisoAngle),
        d.aniso * Math.sin(d.anisoAngle),
        d.tx,
        d.ty,
      ],
      b * AUGMENT_DIM,
    );
  });
  return out;
}

/** 3x3 matrices, row-major in 9 numbers. */
export type Mat3 = readonly number[];

export function matmul3(a: Mat3, b: Mat3): number[] {
  const out: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let acc = 0;
      for (let k = 0; k < 3; k++) acc += (a[3 * i + k] as number) * (b[3 * k + j] as number);
      out.push(acc);
    }
  }
  return out;
}
const scale2d = (sx: number, sy: number): Mat3 => [sx, 0, 0, 0, sy, 0, 0, 0, 1];
const translate2d = (tx: number, ty: number): Mat3 => [1, 0, tx, 0, 1, ty, 0, 0, 1];
/** Counter-clockwise rotation by `a` in a y-down pixel frame's (x, y) coordinates. */
const rotate2d = (a: number): Mat3 => [
  Math.cos(a),
  -Math.sin(a),
  0,
  Math.sin(a),
  Math.cos(a),
  0,
  0,
  0,
  1,
];

/**
 * G^-1 of one draw for a W x H image: the product, left to right, of the inverse scale, the
 * rotation's inverse (rotating the sampling grid by theta), the inverse anisotropic scale
 * conjugated by the axis rotation, and the inverse translation.
 */
export function inverseMatrix(d: AugmentDraw, width: number, height: number): number[] {
  let g: Mat3 = scale2d(1, 1);
  const s = 2 ** (d.scale * SCALE_STD);
  g = matmul3(g, scale2d(1 / s, 1 / s));
  g = matmul3(g, rotate2d(d.rotate));
  const a = 2 ** (d.aniso * ANISO_STD);
  g = matmul3(g, rotate2d(-d.anisoAngle));
  g = matmul3(g, scale2d(1 / a, a));
  g = matmul3(g, rotate2d(d.anisoAngle));
  g = matmul3(g, translate2d(-d.tx * width * TRANSLATE_STD, -d.ty * height * TRANSLATE_STD));
  return g as number[];
}

/** What the GPU stages need: the padding, the upsampled size and the per-image 2x3 grid maps. */
export interface ResamplePlan {
  margins: AugmentMargins;
  /** Size of the sampling grid, (2H + 12) x (2W + 12). */
  gridSize: [number, number];
  /** Per image, the 2x3 theta of affine_grid in normalised coordinates, [B * 6]. */
  theta: Float64Array;
}

/**
 * SPEC 7.7 steps 1 and 3 on the host: the batch margins from the transformed corners, and each
 * G^-1 moved to the padded, 2x upsampled frame and then to normalised grid coordinates.
 */
export function resamplePlan(ginv: readonly Mat3[], width: number, height: number): ResamplePlan {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  // Largest overshoot of a transformed corner past the centre, over the batch: [-x, -y, x, y].
  const m = [-Infinity, -Infinity, -Infinity, -Infinity];
  for (const g of ginv) {
    for (const [x, y] of [
      [-cx, -cy],
      [cx, -cy],
      [cx, cy],
      [-cx, cy],
    ] as const) {
      const px = (g[0] as number) * x + (g[1] as number) * y + (g[2] as number);
      const py = (g[3] as number) * x + (g[4] as number) * y + (g[5] as number);
      m[0] = Math.max(m[0] as number, -px);
      m[1] = Math.max(m[1] as number, -py);
      m[2] = Math.max(m[2] as number, px);
      m[3] = Math.max(m[3] as number, py);
    }
  }
  const limit = [width - 1, height - 1, width - 1, height - 1];
  const [left, top, right, bottom] = m.map((v, i) => {
    const c = i % 2 === 0 ? cx : cy;
    return Math.ceil(Math.min(Math.max(v + 2 * HZ_PAD - c, 0), limit[i] as number));
  }) as [number, number, number, number];
  const upW = 2 * (width + left + right);
  const upH = 2 * (height + top + bottom);
  const outW = 2 * (width + 2 * HZ_PAD);
  const outH = 2 * (height + 2 * HZ_PAD);
  const theta = new Float64Array(ginv.length * 6);
  ginv.forEach((g0, b) => {
    // Re-centre on the padded image, then conjugate by the 2x scale and the half-pixel shift.
    let g = matmul3(translate2d((left - right) / 2, (top - bottom) / 2), g0);
    g = matmul3(matmul3(scale2d(2, 2), g), scale2d(0.5, 0.5));
    g = matmul3(matmul3(translate2d(-0.5, -0.5), g), translate2d(0.5, 0.5));
    // Pixels of the output grid -> normalised, and normalised -> pixels of the upsampled image.
    g = matmul3(matmul3(scale2d(2 / upW, 2 / upH), g), scale2d(outW / 2, outH / 2));
    theta.set(g.slice(0, 6), b * 6);
  });
  return { margins: { left, right, top, bottom }, gridSize: [outH, outW], theta };
}

/**
 * The resampling of SPEC 7.7 on the GPU for given inverse matrices and flips ([B * 2], x then y):
 * images [B, C, H, W] -> [B, C, H, W]. Runs without gradients.
 */
export function resampleImages(
  images: Tensor,
  ginv: readonly Mat3[],
  flips?: ArrayLike<number>,
): Tensor {
  const [B, , H, W] = images.shape as unknown as [number, number, number, number];
  if (images.rank !== 4 || ginv.length !== B)
    throw new RangeError(
      `augment: need images [B, C, H, W] and B matrices, got [${images.shape.join(', ')}] and ${ginv.length}`,
    );
  const plan = resamplePlan(ginv, W, H);
  return noGrad(() => {
    const up = augmentUpsample(images, plan.margins, flips);
    const grid = affineGridSample(up, plan.theta, plan.gridSize);
    up.dispose();
    const out = augmentDownsample(grid);
    grid.dispose();
    return out;
  });
}

/** Applies the given draws: images [B, C, H, W] -> augmented [B, C, H, W] and labels [B, 9]. */
export function applyAugment(
  images: Tensor,
  draws: readonly AugmentDraw[],
): { images: Tensor; labels: Tensor } {
  const [, , H, W] = images.shape as unknown as [number, number, number, number];
  const flips = draws.flatMap((d) => [d.xflip, d.yflip]);
  const out = resampleImages(
    images,
    draws.map((d) => inverseMatrix(d, W, H)),
    flips,
  );
  return {
    images: out,
    labels: tensor(augmentLabels(draws), [draws.length, AUGMENT_DIM], images.gpu),
  };
}

/**
 * EDM's AugmentPipe(p) on one micro-batch: draws from (seed, step, first + image index), then
 * `applyAugment`. The caller owns (or scopes) both returned tensors.
 */
export function augmentPipe(
  images: Tensor,
  p: number,
  rng: { seed: number; step: number },
  first = 0,
): { images: Tensor; labels: Tensor; draws: AugmentDraw[] } {
  const draws = drawAugment(images.shape[0] as number, p, rng, first);
  return { ...applyAugment(images, draws), draws };
}
