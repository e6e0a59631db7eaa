/**
 * A convolution's geometry, computed once per call, and the three passes every kernel row is
 * described by. Everything is in conv2d's terms: x [N, cin, H, W] correlated with
 * w [cout, cg, KH, KW] gives y [N, cout, OH, OW]. convTranspose2d is the same geometry run
 * backwards: its forward is pass `dx` (its input plays dy), its input gradient pass `y`, and its
 * weight gradient pass `dw` with the roles of x and dy swapped.
 */
import { Tensor } from '../../tensor.ts';

export type Two = [number, number];

export interface ConvGeometry {
  readonly N: number;
  readonly cin: number;
  readonly H: number;
  readonly W: number;
  readonly cout: number;
  readonly KH: number;
  readonly KW: number;
  readonly stride: Two;
  readonly padding: Two;
  readonly groups: number;
  readonly OH: number;
  readonly OW: number;
  /** Input channels per group (w.shape[1]). */
  readonly cg: number;
  /** Output channels per group. */
  readonly mg: number;
}

/** The geometry of x [N, cin, H, W] * w [cout, cin/groups, KH, KW] (shapes already checked). */
export function convGeometry(
  N: number,
  cin: number,
  H: number,
  W: number,
  cout: number,
  KH: number,
  KW: number,
  stride: Two,
  padding: Two,
  groups: number,
): ConvGeometry {
  const OH = Math.floor((H + 2 * padding[0] - KH) / stride[0]) + 1;
  const OW = Math.floor((W + 2 * padding[1] - KW) / stride[1]) + 1;
  return {
    N,
    cin,
    H,
    W,
    cout,
    KH,
    KW,
    stride,
    padding,
    groups,
    OH,
    OW,
    cg: cin / groups,
    mg: cout / groups,
  };
}

/**
 * conv2d's fused epilogue: y = ((conv + bias) + shift[n, co] + residual) * scale, in that order,
 * as the unfused ops would compute it. Rows that lack it get it as separate ops.
 */
export interface Epilogue {
  shift: Tensor | null;
  residual: Tensor | null;
  scale: number;
}

export const NO_EPILOGUE: Epilogue = { shift: null, residual: null, scale: 1 };

/** Pass y: x [N, cin, H, W], w [cout, cg, KH, KW], bias [cout] -> [N, cout, OH, OW]. */
export interface ForwardArgs {
  x: Tensor;
  w: Tensor;
  bias: Tensor | null;
  epi: Epilogue;
}

/** Pass dx: dy [N, cout, OH, OW], w, bias [cin] -> [N, cin, H, W] (conv_transpose2d). */
export interface InputGradArgs {
  dy: Tensor;
  w: Tensor;
  bias: Tensor | null;
}

/** Pass dw: dy [N, cout, OH, OW], x [N, cin, H, W] -> [cout, cg, KH, KW]. */
export interface WeightGradArgs {
  dy: Tensor;
  x: Tensor;
  /** Also return dy summed per channel (conv2d's bias gradient), where the row can. */
  sums: boolean;
}

export interface WeightGrad {
  gw: Tensor;
  /** [cout]: dy summed over images and pixels, or null where the row does not compute it. */
  sums: Tensor | null;
}

/** 3x3 at stride 1 with padding 1: the output keeps the input's size. */
export function isSame3x3(g: ConvGeometry): boolean {
  return (
    g.KH === 3 &&
    g.KW === 3 &&
    g.stride[0] === 1 &&
    g.stride[1] === 1 &&
    g.padding[0] === 1 &&
    g.padding[1] === 1 &&
    g.OH === g.H &&
    g.OW === g.W
  );
}

/** 1x1 at stride 1 without padding: per image a matmul of the weights with the pixel plane. */
export function isFlat(g: ConvGeometry): boolean {
  return (
    g.KH === 1 &&
    g.KW === 1 &&
    g.stride[0] === 1 &&
    g.stride[1] === 1 &&
    g.padding[0] === 0 &&
    g.padding[1] === 0
  );
}

/** The batch bucket of a tuning key: the next power of two (kernels scale alike within one). */
function batchBucket(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
}

/**
 * The shape class of a pass, as kernel choices are keyed (see choice.ts). Passes y and dx
 * compute every image on its own, and their key leaves the batch out: any batch size then
 * runs the same row, so image k of a sample does not depend on the batch it was drawn in. The
 * weight gradient sums over the images; its key has the batch's power of two.
 */
export function convKey(pass: 'y' | 'dx' | 'dw', g: ConvGeometry): string {
  const batch = pass === 'dw' ? ` n${batchBucket(g.N)}` : '';
  return (
    `conv.${pass} k${g.KH}x${g.KW} s${g.stride.join('x')} p${g.padding.join('x')} g${g.groups} ` +
    `c${g.cin}>${g.cout} i${g.H}x${g.W} o${g.OH}x${g.OW}${batch}`
  );
}

/** One output phase of a strided transposed conv along one axis (see phases()). */
export interface Phase {
  /** Output index offset (py) and the number of outputs in this phase. */
  p: number;
  count: number;
  /** Taps of the kernel that reach this phase, the last of them, and where they read x. */
  taps: number;
  k0: number;
  off: number;
}

/**
 * The output phases of pass dx along one axis: output size `size` from `inSize` inputs with a
 * kernel of `k` taps, stride `s` and padding `pad`. Output o = p + s*t takes kernel taps
 * kh = r + s*j (r = (p + pad) mod s) from input rows t + e - j, e = floor((p + pad) / s); as a
 * stride-1 correlation, tap j' = taps-1-j reads row t + (e - taps + 1) + j'. `before` and
 * `extent` are the zero rows a padded copy needs so that every read is inside it.
 */
export function phases(size: number, inSize: number, k: number, s: number, pad: number) {
  const list: Phase[] = [];
  for (let p = 0; p < s; p++) {
    const count = Math.ceil((size - p) / s);
    if (count <= 0) continue;
    const r = (p + pad) % s;
    const taps = r < k ? Math.ceil((k - r) / s) : 0;
    const e = Math.floor((p + pad) / s);
    list.push({ p, count, taps, k0: r + s * (taps - 1), off: e - taps + 1 });
  }
  const used = list.filter((f) => f.taps > 0);
  const before = Math.max(0, ...used.map((f) => -f.off));
  const extent = Math.max(
    inSize + before,
    ...used.map((f) => f.count - 1 + f.off + before + f.taps),
  );
  return { list, before, extent };
}

/**
 * One correlation over an unpadded input, the unit the general rows run: output pixel
 * (oy, ox) < (oh, ow) of channel m < mg of group g gets
 *   sum_{c < cg, i < kh, j < kw} w(g, m, c, k0 + (i, j) * step) *
 *     in[n, g*cg + c, oy*stride[0] + i + origin[0], ox*stride[1] + j + origin[1]]
 * (zero outside the input) and goes to out[n, g*mg + m, oy*outStride[0] + phase[0],
 * ox*outStride[1] + phase[1]]. Pass y is one correlation; pass dx one per output phase
 * (no multiplications by the zeros a strided transposed conv would insert).
 */
export interface Correlation {
  /** Taps; 0 taps (a phase no tap reaches) leaves the output at the bias. */
  kh: number;
  kw: number;
  /** The stored tap that tap (0, 0) reads, and the signed steps between taps. */
  k0: Two;
  step: Two;
  stride: Two;
  /** Where tap (0, 0) of output pixel (0, 0) reads the input; negative reads padding. */
  origin: Two;
  oh: number;
  ow: number;
  outStride: Two;
  phase: Two;
}

/** What a correlation reads and writes. */
export interface CorrelationOperands {
  /** Its input [N, groups*cg, h, w] (x for pass y, dy for pass dx), unpadded. */
  x: Tensor;
  /** The weights as stored: conv2d's layout, or read as conv_transpose2d's when `transposed`. */
  w: Tensor;
  transposed: boolean;
  bias: Tensor | null;
  groups: number;
  cg: number;
  mg: number;
  /** The output [N, groups*mg, y_h, y_w], written at this correlation's pixels. */
  y: Tensor;
}

/** Pass y as one correlation: x with w as stored, cin -> cout. */
export function forwardCorrelation(g: ConvGeometry): Correlation {
  return {
    kh: g.KH,
    kw: g.KW,
    k0: [0, 0],
    step: [1, 1],
    stride: g.stride,
    origin: [-g.padding[0], -g.padding[1]],
    oh: g.OH,
    ow: g.OW,
    outStride: [1, 1],
    phase: [0, 0],
  };
}

/**
 * Pass y through a row's `correlate` (rows that pad virtually, by bounds checks): the output
 * [N, cout, OH, OW] of the one correlation.
 */
export function forwardByCorrelation(
  g: ConvGeometry,
  a: ForwardArgs,
  correlate: (c: Correlation, o: CorrelationOperands) => void,
): Tensor {
  const y = Tensor.empty(a.x.gpu, [g.N, g.cout, g.OH, g.OW]);
  const o = { x: a.x, w: a.w, transposed: false, bias: a.bias, groups: g.groups, y };
  correlate(forwardCorrelation(g), { ...o, cg: g.cg, mg: g.mg });
  return y;
}

/** Pass dx the same way: the output [N, cin, H, W], one correlation per output phase. */
export function inputGradByCorrelation(
  g: ConvGeometry,
  a: InputGradArgs,
  correlate: (c: Correlation, o: CorrelationOperands) => void,
): Tensor {
  const y = Tensor.empty(a.dy.gpu, [g.N, g.cin, g.H, g.W]);
  const o = { x: a.dy, w: a.w, transposed: true, bias: a.bias, groups: g.groups, y };
  for (const c of inputGradCorrelations(g)) correlate(c, { ...o, cg: g.mg, mg: g.cg });
  return y;
}

/** Pass dx as one correlation per output phase: dy with w read transposed, cout -> cin. */
export function inputGradCorrelations(g: ConvGeometry): Correlation[] {
  const [sh, sw] = g.stride;
  const ry = phases(g.H, g.OH, g.KH, sh, g.padding[0]);
  const rx = phases(g.W, g.OW, g.KW, sw, g.padding[1]);
  const out: Correlation[] = [];
  for (const fy of ry.list) {
    for (const fx of rx.list) {
      const none = fy.taps * fx.taps === 0;
      out.push({
        kh: none ? 0 : fy.taps,
        kw: none ? 0 : fx.taps,
        k0: [fy.k0, fx.k0],
        step: [-sh, -sw],
        stride: [1, 1],
        origin: none ? [0, 0] : [fy.off, fx.off],
        oh: fy.count,
        ow: fx.count,
        outStride: [sh, sw],
        phase: [fy.p, fx.p],
      });
    }
  }
  return out;
}
