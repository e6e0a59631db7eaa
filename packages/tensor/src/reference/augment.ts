/**
 * Float64 references for the augmentation resampling kernels (augment_upsample.wgsl,
 * grid_sample.wgsl, augment_downsample.wgsl), written the way PyTorch composes them in EDM's
 * pipeline: flip and pad as whole images, zero-interleave then 1-D filter each axis in turn,
 * build the normalised sampling grid explicitly, strided 1-D correlation then crop.
 */
import type { NDArray } from './ndarray.ts';

/** The 12-tap sym6 wavelet low-pass (SPEC 7.7). */
export const SYM6_TAPS: readonly number[] = [
  0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
  0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
  -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
];

type Plane = { h: number; w: number; v: Float64Array };

function planes(x: NDArray): Plane[] {
  const [N, C, H, W] = x.shape as unknown as [number, number, number, number];
  return Array.from({ length: N * C }, (_, q) => ({
    h: H,
    w: W,
    v: x.data.slice(q * H * W, (q + 1) * H * W),
  }));
}

function join(ps: Plane[], N: number, C: number): NDArray {
  const { h, w } = ps[0] as Plane;
  const data = new Float64Array(N * C * h * w);
  ps.forEach((p, q) => {
    data.set(p.v, q * h * w);
  });
  return { shape: [N, C, h, w], data };
}

const transpose = (p: Plane): Plane => {
  const v = new Float64Array(p.h * p.w);
  for (let i = 0; i < p.h; i++)
    for (let j = 0; j < p.w; j++) v[j * p.h + i] = p.v[i * p.w + j] as number;
  return { h: p.w, w: p.h, v };
};

/** Applies a row function to every row (then to every column through a transpose). */
function rows(p: Plane, f: (row: Float64Array) => Float64Array): Plane {
  const out = Array.from({ length: p.h }, (_, i) => f(p.v.slice(i * p.w, (i + 1) * p.w)));
  const w = (out[0] as Float64Array).length;
  const v = new Float64Array(p.h * w);
  out.forEach((r, i) => {
    v.set(r, i * w);
  });
  return { h: p.h, w, v };
}
const bothAxes = (p: Plane, f: (row: Float64Array) => Float64Array) =>
  transpose(rows(transpose(rows(p, f)), f));

/** torch F.pad(mode='reflect') of one row (pads below the row length). */
function reflectPad(row: Float64Array, before: number, after: number): Float64Array {
  const n = row.length;
  const out = new Float64Array(n + before + after);
  for (let i = 0; i < out.length; i++) {
    let s = i - before;
    while (s < 0 || s > n - 1) s = s < 0 ? -s : 2 * (n - 1) - s;
    out[i] = row[s] as number;
  }
  return out;
}

/** 1-D cross-correlation with zero padding `pad` on both sides and the given stride. */
function correlate(
  row: Float64Array,
  taps: readonly number[],
  pad: number,
  stride: number,
): Float64Array {
  const outLen = Math.floor((row.length + 2 * pad - taps.length) / stride) + 1;
  const out = new Float64Array(outLen);
  for (let o = 0; o < outLen; o++) {
    let acc = 0;
    taps.forEach((t, k) => {
      const i = o * stride + k - pad;
      if (i >= 0 && i < row.length) acc += t * (row[i] as number);
    });
    out[o] = acc;
  }
  return out;
}

/**
 * Reference of augmentUpsample: per-image mirror (flips [N, 2] = x, y), reflect padding by the
 * margins, then per axis: interleave zeros (dropping the trailing one) and correlate with the
 * reversed taps at padding 6 (a convolution with the taps).
 */
export function augmentUpsampleRef(
  x: NDArray,
  margins: { left: number; right: number; top: number; bottom: number },
  flips?: ArrayLike<number>,
): NDArray {
  const [N, C] = x.shape as unknown as [number, number];
  const reversed = [...SYM6_TAPS].reverse();
  const up = (row: Float64Array) => {
    const z = new Float64Array(2 * row.length - 1);
    row.forEach((v, i) => {
      z[2 * i] = v;
    });
    return correlate(z, reversed, 6, 1);
  };
  const out = planes(x).map((p, q) => {
    const b = Math.floor(q / C);
    let img = p;
    if (flips?.[2 * b]) img = rows(img, (r) => r.slice().reverse());
    if (flips?.[2 * b + 1]) img = transpose(rows(transpose(img), (r) => r.slice().reverse()));
    img = rows(img, (r) => reflectPad(r, margins.left, margins.right));
    img = transpose(rows(transpose(img), (r) => reflectPad(r, margins.top, margins.bottom)));
    return bothAxes(img, up);
  });
  return join(out, N, C);
}

/**
 * Reference of affineGridSample: the align_corners=False base grid ((2o + 1)/n - 1), theta
 * applied per output pixel, unnormalised to ((g + 1) n - 1) / 2, bilinear with zero padding.
 */
export function affineGridSampleRef(
  x: NDArray,
  theta: ArrayLike<number>,
  size: readonly [number, number],
): NDArray {
  const [N, C, H, W] = x.shape as unknown as [number, number, number, number];
  const [OH, OW] = size;
  const out = new Float64Array(N * C * OH * OW);
  for (let b = 0; b < N; b++) {
    const t = Array.from({ length: 6 }, (_, k) => theta[6 * b + k] as number);
    for (let c = 0; c < C; c++) {
      const base = (b * C + c) * H * W;
      const at = (iy: number, ix: number) =>
        ix >= 0 && ix < W && iy >= 0 && iy < H ? (x.data[base + iy * W + ix] as number) : 0;
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          const xn = (2 * ox + 1) / OW - 1;
          const yn = (2 * oy + 1) / OH - 1;
          const gx = t[0]! * xn + t[1]! * yn + t[2]!;
          const gy = t[3]! * xn + t[4]! * yn + t[5]!;
          const sx = ((gx + 1) * W - 1) / 2;
          const sy = ((gy + 1) * H - 1) / 2;
          // NaN coordinates fail every bounds check and leave NaN weights: the sample is NaN.
          const x0 = Math.floor(sx);
          const y0 = Math.floor(sy);
          const fx = sx - x0;
          const fy = sy - y0;
          out[((b * C + c) * OH + oy) * OW + ox] =
            (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
            fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
        }
      }
    }
  }
  return { shape: [N, C, OH, OW], data: out };
}

/**
 * Reference of augmentDownsample: per axis, correlate with the taps at stride 2 and padding 5,
 * then drop 3 outputs from each end.
 */
export function augmentDownsampleRef(x: NDArray): NDArray {
  const [N, C] = x.shape as unknown as [number, number];
  const down = (row: Float64Array) => correlate(row, SYM6_TAPS, 5, 2).slice(3, -3);
  return join(
    planes(x).map((p) => bothAxes(p, down)),
    N,
    C,
  );
}
