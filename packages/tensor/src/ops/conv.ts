/**
 * 2-D convolution in NCHW with PyTorch semantics: conv2d (cross-correlation) and
 * convTranspose2d, with stride, zero padding, output padding and groups (dilation 1).
 *
 * Three kernels do all of it:
 * - conv.wgsl: an implicit-GEMM correlation of a zero-padded input with packed weights. It
 *   runs conv2d's forward, convTranspose2d's forward and hence each one's input gradient
 *   (conv2d's is a transposed conv, convTranspose2d's a conv).
 * - conv_pack.wgsl: weights into conv.wgsl's K-major tiles, optionally flipped or with the taps
 *   of one output phase.
 * - conv_wgrad.wgsl: both weight gradients, which are the same correlation of the operand on
 *   the output-pixel grid with the padded other operand, summed over images and pixels.
 * Three more take the shapes that carry most of a UNet's work, with subgroups: the same-size
 * 3x3 (stride 1, padding 1) on rows of 4 to 32 pixels, conv3x3_same.wgsl (forward and input
 * gradient) and conv3x3_same_wgrad.wgsl (weight gradient), and the flat 1x1 on planes of a
 * multiple of 4 pixels, conv1x1.wgsl (forward and input gradient). They read the operands
 * unpadded as vec4 (the 3x3 kernels share window edges between lanes); 1.35-2.5x the general
 * kernels on lavapipe, where every non-constant load is a loop over the SIMD lanes.
 * For the general kernels padding is materialised once per call (fill + strided copy,
 * O(input)), so they never bounds-check inside their loops. A transposed conv with stride s
 * runs as s*s stride-1 correlations, one per output phase (py, px), each with the taps of the
 * kernel that reach that phase: no multiplications by inserted zeros.
 */
import { needsGrad, record, save } from '../autograd.ts';
import { TensorError } from '../errors.ts';
import type { Gpu } from '../gpu.ts';
import { K } from '../kernels.ts';
import { type ConvPair, convPair } from '../reference/conv.ts';
import { Tensor } from '../tensor.ts';
import { add, full, mul } from './elementwise.ts';
import { stridedCopy } from './layout.ts';
import { sum } from './reduce.ts';
import { shapeStr, workgroupsFor } from './util.ts';

export interface Conv2dOptions {
  /** Step between output pixels, in input pixels (default 1). */
  stride?: ConvPair;
  /** Zeros added on each side of the input (default 0). */
  padding?: ConvPair;
  /** Input and output channels split into this many independent groups (default 1). */
  groups?: number;
}

/**
 * conv2d's fused epilogue: y = ((conv + bias) + shift[n, co] + residual) * scale, in that order,
 * as the unfused ops would compute it (EDM's UNetBlock adds the embedding after conv0, and adds
 * the skip and scales after conv1). The 3x3 same-size kernel applies it in its store; other
 * shapes run the separate ops.
 */
export interface Conv2dEpilogue {
  /** [N, Cout]: added per image and output channel, after the bias. */
  shift?: Tensor | null;
  /** The output's shape: added after the shift. */
  residual?: Tensor | null;
  /** Multiplies the sum (default 1). */
  scale?: number;
}

interface Epilogue {
  shift: Tensor | null;
  residual: Tensor | null;
  scale: number;
}

const NO_EPILOGUE: Epilogue = { shift: null, residual: null, scale: 1 };

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/columns at the bottom/right of the output, each < stride (default 0). */
  outputPadding?: ConvPair;
}

type Two = [number, number];

/** Output channels per workgroup (1, 4 or 8) for `m` channels per group, up to 8. */
function rowsUpTo8(m: number): number {
  if (m >= 5) return 8;
  if (m >= 2) return 4;
  return 1;
}

interface TilePlan {
  /** Channels per workgroup (the ROWS override): 1, 4, 8 or 16. */
  rows: number;
  /** The KFIX override of conv.wgsl: 3 or 1 for an unrolled 3x3 or 1x1 kernel, else 0. */
  kfix: number;
}

/**
 * Tile shape for a correlation with `m` output channels per group and a kh x kw kernel at
 * column stride sw. The unrolled kernels (KFIX) take 1.5-2.5 s each to compile on lavapipe,
 * so only the shapes that carry a UNet's work get them: 3x3 at stride 1 with subgroups, in
 * tiles of 8 channels (32 accumulators fit AVX-512's 32 vector registers: measured 15-30%
 * faster than 16 channels, whose accumulators spill), and 1x1 at stride 1 in tiles of 16 (more
 * multiply-adds per loaded input value: 1.6x faster than 8). Everything else shares a few
 * generic pipelines with at most 8 channels per workgroup.
 */
function planTiles(gpu: Gpu, m: number, kh: number, kw: number, sw: number): TilePlan {
  if (kh === 3 && kw === 3 && sw === 1 && m >= 5 && useSubgroups(gpu)) return { rows: 8, kfix: 3 };
  if (kh === 1 && kw === 1 && sw === 1 && m >= 9) return { rows: 16, kfix: 1 };
  return { rows: rowsUpTo8(m), kfix: 0 };
}

/**
 * Whether conv_rows_sg.wgsl can be used: subgroups of at least 8 invocations. SwiftShader's
 * 4-wide subgroups, devices without the feature, and `gpu.subgroupsAllowed = false` (tests) use
 * conv_rows_plain.wgsl.
 */
function useSubgroups(gpu: Gpu): boolean {
  return gpu.hasSubgroupsOf(8);
}

/**
 * Invocations per workgroup of conv.wgsl and conv_wgrad.wgsl. Fixed: the workgroup size is a
 * pipeline constant, and every extra variant of these kernels costs up to seconds of shader
 * compilation on lavapipe. Lanes past the work of a small problem compute copies and store
 * nothing.
 */
const LANES = 64;

function dims4(t: Tensor, what: string, op: string): [number, number, number, number] {
  if (t.rank !== 4) {
    throw new TensorError(`${op}: ${what} must be 4-D, got ${shapeStr(t.shape)}`);
  }
  return t.shape as unknown as [number, number, number, number];
}

function checkPair(v: Two, min: number, what: string, op: string): void {
  if (!v.every((d) => Number.isInteger(d) && d >= min)) {
    throw new TensorError(`${op}: ${what} must be integers >= ${min}, got [${v.join(', ')}]`);
  }
}

/**
 * x [N, C, H, W] zero-padded to [N, C, hp, wp] with x at row `top`, column `left` (hp >= H +
 * top, wp >= W + left). Returns a view of x itself when nothing is added.
 */
function padInput(x: Tensor, top: number, left: number, hp: number, wp: number): Tensor {
  const [N, C, H, W] = x.shape as unknown as [number, number, number, number];
  if (top === 0 && left === 0 && hp === H && wp === W) return x.view(x.shape, false);
  const xp = full([N, C, hp, wp], 0, x.gpu);
  stridedCopy(x, xp, [N * C, H, W], [H * W, W, 1], [hp * wp, wp, 1], 0, top * wp + left);
  return xp;
}

interface PackSpec {
  /** Weights stored as conv_transpose2d's [groups*cg, mg, KH, KW] (else conv2d's). */
  transposed: boolean;
  groups: number;
  mg: number;
  cg: number;
  /** Taps of the correlation and where they start in the stored kernel, with signed steps. */
  kh: number;
  kw: number;
  kh0: number;
  kw0: number;
  dh: number;
  dw: number;
  rows: number;
  /** conv3x3_same.wgsl's layout [groups, m_tiles, cg, rows, 12] instead of conv.wgsl's. */
  tapsTogether?: boolean;
}

/**
 * Weights in conv.wgsl's layout [groups, m_tiles, cg*kh*kw, rows], or with `tapsTogether`
 * conv3x3_same.wgsl's [groups, m_tiles, cg, rows, 12] (conv_pack.wgsl).
 */
function packWeights(w: Tensor, s: PackSpec): Tensor {
  const mTiles = Math.ceil(s.mg / s.rows);
  const k = s.tapsTogether ? 12 : s.cg * s.kh * s.kw;
  const n = s.groups * mTiles * s.cg * s.rows * (s.tapsTogether ? 12 : s.kh * s.kw);
  const out = Tensor.empty(w.gpu, [n]);
  const params = {
    n,
    rows: s.rows,
    k,
    m_tiles: mTiles,
    mg: s.mg,
    cg: s.cg,
    kh: s.kh,
    kw: s.kw,
    full_kh: w.shape[2] as number,
    full_kw: w.shape[3] as number,
    kh0: s.kh0,
    kw0: s.kw0,
    dh: s.dh,
    dw: s.dw,
  };
  w.gpu.dispatch(
    K.convPack,
    { TRANSPOSED: s.transposed ? 1 : 0, LAYOUT: s.tapsTogether ? 1 : 0 },
    [w.buffer, out.buffer],
    params,
    workgroupsFor(n / (s.tapsTogether ? 12 : s.rows)), // one invocation per line
  );
  return out;
}

/** One dispatch of conv.wgsl: see the header there for the meaning of each field. */
interface Correlation {
  xp: Tensor;
  groups: number;
  cg: number;
  mg: number;
  /** The weights as stored: conv2d's layout, or conv_transpose2d's when `transposed`. */
  w: Tensor;
  transposed: boolean;
  /** Taps of the correlation (kh x kw; 0 taps: the output is the bias), the stored tap that
   * tap (0, 0) reads and the signed steps between taps (see conv_pack.wgsl). */
  kh: number;
  kw: number;
  k0: Two;
  step: Two;
  stride: Two;
  /** Where tap (0, 0) of output pixel (0, 0) reads xp. */
  rowOff: number;
  colOff: number;
  /** The output grid of this dispatch. */
  oh: number;
  ow: number;
  y: Tensor;
  /** Output pixel (oy, ox) goes to y[.., oy*osy + py, ox*osx + px]. */
  outStride: Two;
  phase: Two;
  bias: Tensor | null;
}

/**
 * A flat 1x1 correlation (x [N, c_total, 1, P], y [N, y_c, 1, P], P a multiple of 4) through
 * conv1x1.wgsl; false where that kernel does not apply (the caller runs conv.wgsl).
 */
function correlate1x1(c: Correlation): boolean {
  const [N, cTotal, hp, wp] = c.xp.shape as unknown as [number, number, number, number];
  const [, yC, yH, yW] = c.y.shape as unknown as [number, number, number, number];
  const flat =
    c.kh === 1 &&
    c.kw === 1 &&
    c.stride[0] === 1 &&
    c.stride[1] === 1 &&
    c.outStride[0] === 1 &&
    c.outStride[1] === 1 &&
    c.rowOff === 0 &&
    c.colOff === 0 &&
    c.oh === 1 &&
    hp === 1 &&
    yH === 1 &&
    wp === c.ow &&
    yW === c.ow &&
    c.ow % 4 === 0;
  const gpu = c.y.gpu;
  if (!flat || c.mg < 5 || !useSubgroups(gpu)) return false;
  // 32-channel tiles from 24 channels on (a quarter of a tile idle at worst): each vec4 of x
  // then feeds twice the multiply-adds of a 16-channel tile.
  const rows = c.mg >= 24 ? 32 : c.mg >= 9 ? 16 : 8;
  const p4 = c.ow / 4;
  const quads = N * p4;
  if (quads === 0) return true;
  const mTiles = Math.ceil(c.mg / rows);
  const tiles = c.groups * mTiles;
  const laneGroups = Math.ceil(quads / LANES);
  const work = gpu.workCounter();
  const packed = packWeights(c.w, {
    transposed: c.transposed,
    groups: c.groups,
    mg: c.mg,
    cg: c.cg,
    kh: 1,
    kw: 1,
    kh0: c.k0[0],
    kw0: c.k0[1],
    dh: 1,
    dw: 1,
    rows,
  });
  const params = {
    quads,
    p4,
    cg: c.cg,
    c_total: cTotal,
    mg: c.mg,
    m_tiles: mTiles,
    slot: work.slot,
    y_c: yC,
    has_bias: c.bias ? 1 : 0,
    tiles,
  };
  gpu.dispatch(
    { ...K.conv1x1, workgroupSize: LANES },
    { ROWS: rows },
    [c.xp.buffer, packed.buffer, c.bias ? c.bias.buffer : gpu.dummy, c.y.buffer, work.buffer],
    params,
    tiles * laneGroups,
  );
  packed.dispose();
  return true;
}

/** Packs the weights for one correlation and runs it (conv_pack.wgsl, then conv.wgsl). */
function correlate(c: Correlation): void {
  if (correlate1x1(c)) return;
  const [N, cTotal, hp, wp] = c.xp.shape as unknown as [number, number, number, number];
  const [, yC, yH, yW] = c.y.shape as unknown as [number, number, number, number];
  const q = Math.ceil(c.ow / 4);
  const quads = N * c.oh * q;
  if (quads === 0 || c.mg === 0) return;
  const gpu = c.y.gpu;
  const [sh, sw] = c.stride;
  const { rows, kfix } = planTiles(gpu, c.mg, c.kh, c.kw, sw);
  const xOff = c.rowOff * wp + c.colOff;
  const mTiles = Math.ceil(c.mg / rows);
  const tiles = c.groups * mTiles;
  const lanes = LANES;
  const laneGroups = Math.ceil(quads / lanes);
  const packed =
    c.kh * c.kw === 0
      ? null
      : packWeights(c.w, {
          transposed: c.transposed,
          groups: c.groups,
          mg: c.mg,
          cg: c.cg,
          kh: c.kh,
          kw: c.kw,
          kh0: c.k0[0],
          kw0: c.k0[1],
          dh: c.step[0],
          dw: c.step[1],
          rows,
        });
  // The plain kernel binds the counter too (one layout for both), and leaves it alone.
  const work = gpu.workCounter();
  const params = {
    quads,
    q,
    oh: c.oh,
    ow: c.ow,
    c_total: cTotal,
    hp,
    wp,
    cg: c.cg,
    mg: c.mg,
    m_tiles: mTiles,
    lane_groups: laneGroups,
    kh: c.kh,
    kw: c.kw,
    sh,
    sw,
    x_off: xOff,
    y_c: yC,
    y_h: yH,
    y_w: yW,
    osy: c.outStride[0],
    osx: c.outStride[1],
    y_off: c.phase[0] * yW + c.phase[1],
    has_bias: c.bias ? 1 : 0,
    tiles,
    wgs: tiles * laneGroups,
    slot: work.slot,
  };
  gpu.dispatch(
    { ...(useSubgroups(gpu) ? K.convSg : K.conv), workgroupSize: lanes },
    { ROWS: rows, SLIDE: sw === 1 ? 1 : 0, KFIX: kfix },
    [
      c.xp.buffer,
      packed ? packed.buffer : gpu.dummy,
      c.bias ? c.bias.buffer : gpu.dummy,
      c.y.buffer,
      work.buffer,
    ],
    params,
    tiles * laneGroups,
  );
  packed?.dispose();
}

/**
 * Whether the same-size 3x3 kernels apply to rows of `w` pixels: rows of whole quads that tile
 * a block of 8 lanes, and subgroups of at least 8.
 */
function same3x3Fits(gpu: Gpu, w: number): boolean {
  return useSubgroups(gpu) && [4, 8, 16, 32].includes(w);
}

/**
 * A 3x3 correlation at stride 1 with one pixel of zero padding on every side (conv2d's "same"
 * 3x3 and its input gradient) on unpadded x [N, groups*cg, H, W], W in {4, 8, 16, 32}:
 * conv3x3_same.wgsl. The weights are read as stored (`transposed`: convTranspose2d's layout)
 * from tap k0 on with signed steps `step` (see conv_pack.wgsl). Returns null where the kernel
 * does not apply (no subgroups of 8, other widths).
 */
function correlateSame3x3(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  groups: number,
  mg: number,
  transposed: boolean,
  k0: number,
  step: number,
  epi: Epilogue,
): Tensor | null {
  const [N, cTotal, H, W] = x.shape as unknown as [number, number, number, number];
  const gpu = x.gpu;
  if (!same3x3Fits(gpu, W)) return null;
  // Two output rows per lane where the height is even (1.0-1.2x faster than one row with
  // 16-channel tiles on lavapipe, measured on the UNet's shapes); else one.
  const tall = H % 2 === 0 ? 2 : 1;
  const rows = tall === 2 ? 8 : mg >= 9 ? 16 : 8;
  const cg = cTotal / groups;
  const y = Tensor.empty(gpu, [N, groups * mg, H, W]);
  const lpr = W / 4;
  const quads = N * (H / tall) * lpr;
  if (quads === 0 || mg === 0) return y;
  const mTiles = Math.ceil(mg / rows);
  const tiles = groups * mTiles;
  const laneGroups = Math.ceil(quads / LANES);
  const work = gpu.workCounter();
  const packed = packWeights(w, {
    transposed,
    groups,
    mg,
    cg,
    kh: 3,
    kw: 3,
    kh0: k0,
    kw0: k0,
    dh: step,
    dw: step,
    rows,
    tapsTogether: true,
  });
  const params = {
    quads,
    lpr,
    h: H,
    cg,
    c_total: cTotal,
    mg,
    m_tiles: mTiles,
    slot: work.slot,
    y_c: groups * mg,
    flags: (bias ? 1 : 0) | (epi.shift ? 2 : 0) | (epi.residual ? 4 : 0),
    tiles,
    scale: epi.scale,
  };
  gpu.dispatch(
    { ...K.conv3x3Same, workgroupSize: LANES },
    { ROWS: rows, TALL: tall },
    [
      x.buffer,
      packed.buffer,
      bias ? bias.buffer : gpu.dummy,
      epi.shift ? epi.shift.buffer : gpu.dummy,
      epi.residual ? epi.residual.buffer : gpu.dummy,
      y.buffer,
      work.buffer,
    ],
    params,
    tiles * laneGroups,
  );
  packed.dispose();
  return y;
}

/** Whether a 3x3 kernel at stride 1 with padding 1 (and no output padding) keeps the size. */
function isSame3x3(kh: number, kw: number, stride: Two, padding: Two, outPad: Two = [0, 0]) {
  return (
    kh === 3 &&
    kw === 3 &&
    stride[0] === 1 &&
    stride[1] === 1 &&
    padding[0] === 1 &&
    padding[1] === 1 &&
    outPad[0] === 0 &&
    outPad[1] === 0
  );
}

/**
 * A 1x1 stride-1 correlation without padding is a per-image matmul: each plane is treated as
 * one long row, so quads of 4 pixels never straddle short rows.
 */
function isFlat(kh: number, kw: number, stride: Two, padding: Two): boolean {
  return (
    kh === 1 &&
    kw === 1 &&
    stride[0] === 1 &&
    stride[1] === 1 &&
    padding[0] === 0 &&
    padding[1] === 0
  );
}

/** [N, C, H, W] viewed as [N, C, 1, H*W] (a handle to dispose). */
const flatView = (t: Tensor) => {
  const [N, C, H, W] = t.shape as unknown as [number, number, number, number];
  return t.view([N, C, 1, H * W], false);
};

/** conv2d without autograd: x [N, Cin, H, W], w [Cout, Cin/G, KH, KW]. */
function conv2dRaw(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  stride: Two,
  padding: Two,
  groups: number,
  epi: Epilogue = NO_EPILOGUE,
): Tensor {
  const [Cout, , KH, KW] = w.shape as unknown as [number, number, number, number];
  if (isSame3x3(KH, KW, stride, padding)) {
    const y = correlateSame3x3(x, w, bias, groups, Cout / groups, false, 0, 1, epi);
    if (y) return y;
  }
  const y =
    resample2x2(x, w, bias, stride, padding, [0, 0], groups, false) ??
    correlateAny(x, w, bias, stride, padding, groups);
  return epi === NO_EPILOGUE ? y : applyEpilogue(y, epi);
}

/**
 * EDM's resampling with the filter [1, 1]: a depthwise 2x2 conv at stride 2 without padding
 * (down, w % 4 == 0) or its transpose (up, w % 2 == 0), with resample2x2.wgsl; null for any
 * other shape.
 */
function resample2x2(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  stride: Two,
  padding: Two,
  outputPadding: Two,
  groups: number,
  up: boolean,
): Tensor | null {
  const [N, C, H, W] = x.shape as unknown as [number, number, number, number];
  const [w0, w1, KH, KW] = w.shape as unknown as [number, number, number, number];
  const fits =
    KH === 2 &&
    KW === 2 &&
    stride[0] === 2 &&
    stride[1] === 2 &&
    padding[0] === 0 &&
    padding[1] === 0 &&
    outputPadding[0] === 0 &&
    outputPadding[1] === 0 &&
    groups === C &&
    w0 === C &&
    w1 === 1 &&
    W % (up ? 2 : 4) === 0 &&
    H >= (up ? 1 : 2);
  if (!fits) return null;
  const gpu = x.gpu;
  const rows = up ? H : Math.floor(H / 2);
  const y = Tensor.empty(gpu, up ? [N, C, 2 * H, 2 * W] : [N, C, rows, W / 2]);
  const halfW = up ? W / 2 : W / 4;
  const pairs = N * C * rows * halfW;
  if (pairs === 0) return y;
  gpu.dispatch(
    up ? K.resampleUp : K.resampleDown,
    {},
    [x.buffer, w.buffer, bias ? bias.buffer : gpu.dummy, y.buffer],
    { pairs, half_w: halfW, rows, c: C, in_h: H, has_bias: bias ? 1 : 0 },
    workgroupsFor(pairs),
  );
  return y;
}

/** The epilogue as separate ops, for the kernels that lack it (no autograd; consumes y). */
function applyEpilogue(y: Tensor, epi: Epilogue): Tensor {
  const [N, C] = y.shape as unknown as [number, number];
  let out = y;
  const step = (next: Tensor) => {
    out.dispose();
    out = next;
  };
  if (epi.shift) {
    const s = epi.shift.view([N, C, 1, 1], false);
    step(add(out, s));
    s.dispose();
  }
  if (epi.residual) step(add(out, epi.residual));
  if (epi.scale !== 1) step(mul(out, epi.scale));
  return out;
}

/** conv2dRaw's general path: the row kernels (conv.wgsl) or the flat 1x1 kernel. */
function correlateAny(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  stride: Two,
  padding: Two,
  groups: number,
): Tensor {
  const [N, , H, W] = x.shape as unknown as [number, number, number, number];
  const [Cout, cg, KH, KW] = w.shape as unknown as [number, number, number, number];
  const [ph, pw] = padding;
  const OH = Math.floor((H + 2 * ph - KH) / stride[0]) + 1;
  const OW = Math.floor((W + 2 * pw - KW) / stride[1]) + 1;
  const y = Tensor.empty(x.gpu, [N, Cout, OH, OW]);
  const flat = isFlat(KH, KW, stride, padding);
  const xp = flat ? flatView(x) : padInput(x, ph, pw, H + 2 * ph, W + 2 * pw);
  const yout = flat ? flatView(y) : y;
  correlate({
    xp,
    groups,
    cg,
    mg: Cout / groups,
    w,
    transposed: false,
    kh: KH,
    kw: KW,
    k0: [0, 0],
    step: [1, 1],
    stride: flat ? [1, 1] : stride,
    rowOff: 0,
    colOff: 0,
    oh: flat ? 1 : OH,
    ow: flat ? OH * OW : OW,
    y: yout,
    outStride: [1, 1],
    phase: [0, 0],
    bias,
  });
  xp.dispose();
  if (yout !== y) yout.dispose();
  return y;
}

/** The output phases of a strided transposed conv along one axis. */
interface Phase {
  /** Output index offset (py) and the number of outputs in this phase. */
  p: number;
  count: number;
  /** Taps of the kernel that reach this phase, the last of them, and where they read x. */
  taps: number;
  k0: number;
  off: number;
}

function phases(size: number, inSize: number, k: number, s: number, pad: number) {
  const list: Phase[] = [];
  for (let p = 0; p < s; p++) {
    const count = Math.ceil((size - p) / s);
    if (count <= 0) continue;
    // Output o = p + s*t takes kernel taps kh = r + s*j (r = (p + pad) mod s) from input rows
    // iy = t + e - j, e = floor((p + pad) / s). As a correlation, tap j' = taps-1-j reads row
    // t + (e - taps + 1) + j'.
    const r = (p + pad) % s;
    const taps = r < k ? Math.ceil((k - r) / s) : 0;
    const e = Math.floor((p + pad) / s);
    list.push({ p, count, taps, k0: r + s * (taps - 1), off: e - taps + 1 });
  }
  // Zero rows in front so that every read index is >= 0, and behind so that every read is in.
  const used = list.filter((f) => f.taps > 0);
  const before = Math.max(0, ...used.map((f) => -f.off));
  const extent = Math.max(
    inSize + before,
    ...used.map((f) => f.count - 1 + f.off + before + f.taps),
  );
  return { list, before, extent };
}

/** convTranspose2d without autograd: x [N, Cin, H, W], w [Cin, Cout/G, KH, KW]. */
function convTranspose2dRaw(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  stride: Two,
  padding: Two,
  outputPadding: Two,
  groups: number,
): Tensor {
  const [N, Cin, H, W] = x.shape as unknown as [number, number, number, number];
  const [, mg, KH, KW] = w.shape as unknown as [number, number, number, number];
  const [sh, sw] = stride;
  if (isSame3x3(KH, KW, stride, padding, outputPadding)) {
    // y[o] = sum_j x[o + 1 - j] w[j]: a correlation with the kernel flipped (taps 2, 1, 0).
    const y = correlateSame3x3(x, w, bias, groups, mg, true, 2, -1, NO_EPILOGUE);
    if (y) return y;
  }
  const r = resample2x2(x, w, bias, stride, padding, outputPadding, groups, true);
  if (r) return r;
  const OH = (H - 1) * sh - 2 * padding[0] + KH + outputPadding[0];
  const OW = (W - 1) * sw - 2 * padding[1] + KW + outputPadding[1];
  const y = Tensor.empty(x.gpu, [N, mg * groups, OH, OW]);
  const common = { groups, cg: Cin / groups, mg, w, transposed: true, bias };
  if (isFlat(KH, KW, stride, padding)) {
    const xp = flatView(x);
    const yout = flatView(y);
    correlate({
      ...common,
      xp,
      kh: 1,
      kw: 1,
      k0: [0, 0],
      step: [1, 1],
      stride: [1, 1],
      rowOff: 0,
      colOff: 0,
      oh: 1,
      ow: H * W,
      y: yout,
      outStride: [1, 1],
      phase: [0, 0],
    });
    xp.dispose();
    yout.dispose();
    return y;
  }
  const ry = phases(OH, H, KH, sh, padding[0]);
  const rx = phases(OW, W, KW, sw, padding[1]);
  const xp = padInput(x, ry.before, rx.before, ry.extent, rx.extent);
  for (const fy of ry.list) {
    for (const fx of rx.list) {
      const none = fy.taps * fx.taps === 0; // no tap reaches this phase: bias only
      correlate({
        ...common,
        xp,
        kh: none ? 0 : fy.taps,
        kw: none ? 0 : fx.taps,
        k0: [fy.k0, fx.k0],
        step: [-sh, -sw],
        stride: [1, 1],
        rowOff: none ? 0 : fy.off + ry.before,
        colOff: none ? 0 : fx.off + rx.before,
        oh: fy.count,
        ow: fx.count,
        y,
        outStride: [sh, sw],
        phase: [fy.p, fx.p],
      });
    }
  }
  xp.dispose();
  return y;
}

/**
 * The weight gradient shared by both convolutions:
 * out[g*ag + a, c, i, j] = sum_{n, oy, ox} a[n, g*ag + a, oy, ox] *
 *   bp[n, g*bg + c, oy*sh + i, ox*sw + j], with bp already zero-padded. Returns [A_C, bg, kh, kw].
 */
function weightGrad(
  a: Tensor,
  bp: Tensor,
  groups: number,
  kh: number,
  kw: number,
  stride: Two,
): Tensor {
  const [N, aC, aH, aW] = a.shape as unknown as [number, number, number, number];
  const [, bC, hp, wp] = bp.shape as unknown as [number, number, number, number];
  const ag = aC / groups;
  const bg = bC / groups;
  const [sh, sw] = stride;
  const gpu = a.gpu;
  if (N * aH * aW === 0) return full([aC, bg, kh, kw], 0, gpu);
  const slide = sw === 1 && kw >= 2;
  const kwq = Math.ceil(kw / 4);
  const eTotal = bg * kh * kw;
  const items = slide ? bg * kh * kwq : Math.ceil(eTotal / 4);
  const lanes = LANES;
  // Few items (without the sliding window): spare lanes take pixel phases, in blocks of whole
  // subgroups (phases must divide the row length aW).
  const sgSize = Math.max(
    8,
    (gpu.adapterInfo as { subgroupMaxSize?: number }).subgroupMaxSize ?? 8,
  );
  let ipw = lanes;
  let phases = 1;
  if (!slide && items * 2 <= lanes) {
    ipw = Math.ceil(items / sgSize) * sgSize;
    for (let p = 2; p * ipw <= lanes; p *= 2) if (aW % p === 0) phases = p;
    if (phases === 1) ipw = lanes;
  }
  const laneGroups = Math.ceil(items / ipw);
  // 16-channel tiles (slow to compile; 15-30% faster here than 8) for the shapes that carry a
  // UNet's work, as in planTiles.
  const sg = useSubgroups(gpu);
  const hot = (kh === 3 && kw === 3 && sw === 1 && sg) || (kh === 1 && kw === 1 && sw === 1);
  const rows = ag >= 9 && hot ? 16 : rowsUpTo8(ag);
  const aTiles = Math.ceil(ag / rows);
  const tiles = groups * aTiles;
  const rowsTotal = N * aH;
  const { rowsPerChunk, chunks: realChunks } = chunkRows(rowsTotal, aW, tiles * laneGroups);
  const partial = Tensor.empty(gpu, [realChunks * phases, aC, eTotal]);
  // The plain kernel binds the counter too (one layout for both), and leaves it alone.
  const work = gpu.workCounter();
  const params = {
    rows_total: rowsTotal,
    a_h: aH,
    a_w: aW,
    a_c: aC,
    ag,
    a_tiles: aTiles,
    bg,
    b_c: bC,
    hp,
    wp,
    kh,
    kw,
    sh,
    sw,
    x_off: 0,
    items,
    lane_groups: laneGroups,
    rows_per_chunk: rowsPerChunk,
    kwq,
    tiles,
    e_total: eTotal,
    chunks: realChunks,
    ipw,
    phases,
    wgs: realChunks * tiles * laneGroups,
    slot: work.slot,
  };
  gpu.dispatch(
    { ...(sg ? K.convWgradSg : K.convWgrad), workgroupSize: lanes },
    { ROWS: rows, SLIDE: slide ? 1 : 0 },
    [a.buffer, bp.buffer, partial.buffer, work.buffer],
    params,
    realChunks * tiles * laneGroups,
  );
  return sumChunks(partial, [aC, bg, kh, kw]);
}

/**
 * How the weight-gradient kernels split their reduction over the rows (image, row) of the
 * output grid: enough workgroups for every core (about 192 in all, `workgroupsPerChunk` each),
 * but chunks of a few hundred pixels so that the partial sums stay few.
 */
function chunkRows(
  rowsTotal: number,
  rowWidth: number,
  workgroupsPerChunk: number,
): { rowsPerChunk: number; chunks: number } {
  const perChunkMin = Math.ceil(256 / Math.max(rowWidth, 1));
  const chunks = Math.max(
    1,
    Math.min(Math.ceil(rowsTotal / perChunkMin), Math.ceil(192 / workgroupsPerChunk)),
  );
  const rowsPerChunk = Math.ceil(rowsTotal / chunks);
  return { rowsPerChunk, chunks: Math.ceil(rowsTotal / rowsPerChunk) };
}

/** The partial sums [chunks, ...] of a weight gradient summed over chunks, viewed as `shape`. */
function sumChunks(partial: Tensor, shape: number[]): Tensor {
  const total = partial.shape[0] === 1 ? partial : sum(partial, 0);
  const out = total.view(shape);
  partial.dispose();
  if (total !== partial) total.dispose();
  return out;
}

/**
 * The weight gradient of a same-size 3x3 correlation (stride 1, padding 1) on unpadded
 * operands: out[g*ag + k, c, i, j] = sum_{n, oy, ox} a[n, g*ag + k, oy, ox] *
 * b[n, g*bg + c, oy + i - 1, ox + j - 1] (zero outside), a and b both [N, *, H, W] with W in
 * {4, 8, 16, 32} (conv3x3_same_wgrad.wgsl). Returns [A_C, bg, 3, 3], or null where the kernel
 * does not apply.
 */
function weightGradSame3x3(
  a: Tensor,
  b: Tensor,
  groups: number,
  withSums: boolean,
): WeightGrad | null {
  const [N, aC, H, W] = a.shape as unknown as [number, number, number, number];
  const bC = b.shape[1] as number;
  const gpu = a.gpu;
  if (!same3x3Fits(gpu, W)) return null;
  const ag = aC / groups;
  const bg = bC / groups;
  if (N * H === 0) {
    return { gw: full([aC, bg, 3, 3], 0, gpu), sums: withSums ? full([aC], 0, gpu) : null };
  }
  const items = bg; // one lane per channel of b, with its three kernel rows
  // Whole subgroups of 8, up to 32 lanes: few channels of b leave no subgroup idle.
  const lanes = Math.min(K.conv3x3SameWgrad.workgroupSize, Math.ceil(items / 8) * 8);
  const laneGroups = Math.ceil(items / lanes);
  // 16 channels of a per workgroup where there are more than 8 (1.06-1.24x faster than 8 on
  // the UNet's shapes on lavapipe: each vec4 of b serves twice the multiply-adds).
  const kt = ag > 8 ? 16 : 8;
  const aTiles = Math.ceil(ag / kt);
  const tiles = groups * aTiles;
  const rowsTotal = N * H;
  const { rowsPerChunk, chunks: realChunks } = chunkRows(rowsTotal, W, tiles * laneGroups);
  const partial = Tensor.empty(gpu, [realChunks, aC, bg * 9]);
  const sums = withSums ? Tensor.empty(gpu, [realChunks, aC]) : null;
  const work = gpu.workCounter();
  const params = {
    rows_total: rowsTotal,
    h: H,
    a_c: aC,
    ag,
    a_tiles: aTiles,
    bg,
    b_c: bC,
    slot: work.slot,
    rows_per_chunk: rowsPerChunk,
    tiles,
    chunks: realChunks,
  };
  gpu.dispatch(
    { ...K.conv3x3SameWgrad, workgroupSize: lanes },
    { LPR: W / 4, KT: kt, SUMS: sums ? 1 : 0 },
    [a.buffer, b.buffer, partial.buffer, sums ? sums.buffer : gpu.dummy, work.buffer],
    params,
    realChunks * tiles * laneGroups,
  );
  return {
    gw: sumChunks(partial, [aC, bg, 3, 3]),
    sums: sums ? sumChunks(sums, [aC]) : null,
  };
}

/** A weight gradient and, when asked for, the sums of the output-grid operand per channel. */
interface WeightGrad {
  gw: Tensor;
  /** [aC]: conv2d's bias gradient, from the weight-gradient kernel's own loads. */
  sums: Tensor | null;
}

/**
 * The weight gradient of a flat 1x1 conv (stride 1, no padding) with conv1x1_wgrad.wgsl:
 * a [N, aC, H, W] on the output grid, b [N, bC, H, W]; returns [aC, bC/groups, 1, 1], or null
 * where the kernel does not apply (no subgroups, H*W or bC/groups not a multiple of 4).
 */
function weightGrad1x1(a: Tensor, b: Tensor, groups: number, withSums: boolean): WeightGrad | null {
  const [N, aC, H, W] = a.shape as unknown as [number, number, number, number];
  const bC = b.shape[1] as number;
  const gpu = a.gpu;
  const P = H * W;
  const ag = aC / groups;
  const bg = bC / groups;
  if (!useSubgroups(gpu) || P % 4 !== 0 || bg % 4 !== 0) return null;
  if (N * P === 0) {
    return { gw: full([aC, bg, 1, 1], 0, gpu), sums: withSums ? full([aC], 0, gpu) : null };
  }
  const kt = ag > 16 ? 32 : ag > 8 ? 16 : 8;
  const kTiles = Math.ceil(ag / kt);
  const cTiles = Math.ceil(bg / 32);
  const tiles = groups * kTiles * cTiles;
  const p4 = P / 4;
  const quads = N * p4;
  // Chunks of at least 64 quads, about 192 workgroups in all (as the 3x3 weight gradient).
  const { rowsPerChunk: perChunk, chunks } = chunkRows(quads, 4, tiles);
  const partial = Tensor.empty(gpu, [chunks, aC, bg]);
  const sums = withSums ? Tensor.empty(gpu, [chunks, aC]) : null;
  const work = gpu.workCounter();
  const params = {
    p4,
    quads,
    quads_per_chunk: perChunk,
    chunks,
    a_c: aC,
    ag,
    k_tiles: kTiles,
    b_c: bC,
    bg,
    c_tiles: cTiles,
    tiles,
    slot: work.slot,
  };
  gpu.dispatch(
    K.conv1x1Wgrad,
    { KT: kt, SUMS: sums ? 1 : 0 },
    [a.buffer, b.buffer, partial.buffer, sums ? sums.buffer : gpu.dummy, work.buffer],
    params,
    chunks * tiles,
  );
  return {
    gw: sumChunks(partial, [aC, bg, 1, 1]),
    sums: sums ? sumChunks(sums, [aC]) : null,
  };
}

interface Checked {
  stride: Two;
  padding: Two;
  groups: number;
}

function checkCommon(
  op: string,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  biasSize: number,
  options: Conv2dOptions,
): Checked {
  const stride = convPair(options.stride, 1);
  const padding = convPair(options.padding, 0);
  const groups = options.groups ?? 1;
  checkPair(stride, 1, 'stride', op);
  checkPair(padding, 0, 'padding', op);
  if (!Number.isInteger(groups) || groups < 1) {
    throw new TensorError(`${op}: groups must be an integer >= 1, got ${groups}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== biasSize)) {
    throw new TensorError(`${op}: bias must be [${biasSize}], got ${shapeStr(bias.shape)}`);
  }
  for (const t of bias ? [w, bias] : [w]) {
    if (t.gpu !== x.gpu) throw new TensorError(`${op}: tensors live on different GPU devices`);
  }
  return { stride, padding, groups };
}

/**
 * PyTorch's F.conv2d: x [N, Cin, H, W], w [Cout, Cin/groups, KH, KW], bias [Cout] or null;
 * returns [N, Cout, floor((H + 2ph - KH)/sh) + 1, floor((W + 2pw - KW)/sw) + 1].
 * NaN and Inf in x reach exactly the outputs whose window holds them. The zero padding is
 * multiplied like data (as PyTorch's im2col path), so a NaN weight also turns the outputs
 * whose tap falls on padding into NaN. `options.shift`, `residual` and `scale` add the fused
 * epilogue ((conv + bias) + shift[n, c] + residual) * scale (Conv2dEpilogue), differentiable in
 * shift and residual.
 */
export function conv2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null = null,
  options: Conv2dOptions & Conv2dEpilogue = {},
): Tensor {
  const op = 'conv2d';
  const [, Cin, H, W] = dims4(x, 'x', op);
  const [Cout, cg, KH, KW] = dims4(w, 'w', op);
  const { stride, padding, groups } = checkCommon(op, x, w, bias, Cout, options);
  if (cg * groups !== Cin || Cout % groups !== 0) {
    throw new TensorError(
      `conv2d: x ${shapeStr(x.shape)} and w ${shapeStr(w.shape)} do not fit groups=${groups} ` +
        `(need Cin = w.shape[1] * groups and Cout divisible by groups)`,
    );
  }
  if (H + 2 * padding[0] < KH || W + 2 * padding[1] < KW || KH < 1 || KW < 1) {
    throw new TensorError(
      `conv2d: kernel ${KH}x${KW} is larger than the padded input ${H + 2 * padding[0]}x${W + 2 * padding[1]}`,
    );
  }
  const epi = checkEpilogue(x, Cout, H, W, KH, KW, stride, padding, options);
  const y = conv2dRaw(x, w, bias, stride, padding, groups, epi);
  const inputs = [x, w, bias, epi.shift, epi.residual].filter((t): t is Tensor => t !== null);
  if (needsGrad(inputs)) {
    const xs = save(x);
    const ws = save(w);
    const [OH, OW] = [y.shape[2] as number, y.shape[3] as number];
    // Rows/columns of x that the strided windows skip at the end come back as output padding.
    const outputPadding: Two = [
      H - ((OH - 1) * stride[0] - 2 * padding[0] + KH),
      W - ((OW - 1) * stride[1] - 2 * padding[1] + KW),
    ];
    const wantX = x.requiresGrad;
    const wantW = w.requiresGrad;
    const wantB = bias?.requiresGrad ?? false;
    const wantShift = epi.shift?.requiresGrad ?? false;
    const wantRes = epi.residual?.requiresGrad ?? false;
    const scale = epi.scale;
    record(
      y,
      inputs,
      (gOut) => {
        // Every term of the epilogue's sum gets the output gradient times the scale.
        const g = scale === 1 ? gOut : mul(gOut, scale);
        const gx = wantX
          ? convTranspose2dRaw(g, ws, null, stride, padding, outputPadding, groups)
          : null;
        let gw: Tensor | null = null;
        const flat = isFlat(KH, KW, stride, padding);
        // The bias gradient comes with the weight gradient's kernel where it has one (no pass of
        // its own over g); with a shift it sums the shift's gradient instead.
        const sums = wantB && !wantShift;
        let fused: WeightGrad | null = null;
        if (wantW && isSame3x3(KH, KW, stride, padding)) {
          fused = weightGradSame3x3(g, xs, groups, sums);
        }
        if (wantW && flat) fused = weightGrad1x1(g, xs, groups, sums);
        if (fused) gw = fused.gw;
        if (wantW && !gw) {
          const a = flat ? g.view([g.shape[0] as number, Cout, 1, OH * OW], false) : g;
          const bp = flat
            ? xs.view([xs.shape[0] as number, Cin, 1, H * W], false)
            : padInput(xs, padding[0], padding[1], H + 2 * padding[0], W + 2 * padding[1]);
          gw = weightGrad(a, bp, groups, KH, KW, flat ? [1, 1] : stride);
          bp.dispose();
          if (a !== g) a.dispose();
        }
        // The shift's gradient sums over the pixels; the bias's then only over the images.
        const gShift = wantShift ? sum(g, [2, 3]) : null;
        const gb = wantB ? (gShift ? sum(gShift, [0]) : (fused?.sums ?? sum(g, [0, 2, 3]))) : null;
        const gRes = wantRes ? g : null;
        if (g !== gOut && !gRes) g.dispose();
        const all = [gx, gw, bias ? gb : undefined, epi.shift ? gShift : undefined];
        if (epi.residual) all.push(gRes);
        return all.filter((t) => t !== undefined);
      },
      [xs, ws],
    );
  }
  return y;
}

/** Validates conv2d's epilogue options against the output [N, Cout, OH, OW]. */
function checkEpilogue(
  x: Tensor,
  Cout: number,
  H: number,
  W: number,
  KH: number,
  KW: number,
  stride: Two,
  padding: Two,
  o: Conv2dEpilogue,
): Epilogue {
  const shift = o.shift ?? null;
  const residual = o.residual ?? null;
  const scale = o.scale ?? 1;
  if (!shift && !residual && scale === 1) return NO_EPILOGUE;
  const N = x.shape[0] as number;
  const OH = Math.floor((H + 2 * padding[0] - KH) / stride[0]) + 1;
  const OW = Math.floor((W + 2 * padding[1] - KW) / stride[1]) + 1;
  if (shift && (shift.rank !== 2 || shift.shape[0] !== N || shift.shape[1] !== Cout)) {
    throw new TensorError(`conv2d: shift must be [${N}, ${Cout}], got ${shapeStr(shift.shape)}`);
  }
  const out = [N, Cout, OH, OW];
  if (residual && shapeStr(residual.shape) !== shapeStr(out)) {
    throw new TensorError(
      `conv2d: residual must have the output's shape ${shapeStr(out)}, got ${shapeStr(residual.shape)}`,
    );
  }
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new TensorError(`conv2d: scale must be a finite number, got ${scale}`);
  }
  for (const t of [shift, residual]) {
    if (t && t.gpu !== x.gpu)
      throw new TensorError('conv2d: tensors live on different GPU devices');
  }
  return { shift, residual, scale };
}

/**
 * PyTorch's F.conv_transpose2d: x [N, Cin, H, W], w [Cin, Cout/groups, KH, KW], bias [Cout]
 * or null; returns [N, Cout, (H-1)*sh - 2ph + KH + oph, (W-1)*sw - 2pw + KW + opw]. The
 * gradient of conv2d with respect to its input.
 */
export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null = null,
  options: ConvTranspose2dOptions = {},
): Tensor {
  const op = 'convTranspose2d';
  const [, Cin, H, W] = dims4(x, 'x', op);
  const [wIn, mg, KH, KW] = dims4(w, 'w', op);
  const groups0 = options.groups ?? 1;
  const { stride, padding, groups } = checkCommon(op, x, w, bias, mg * groups0, options);
  const outputPadding = convPair(options.outputPadding, 0);
  checkPair(outputPadding, 0, 'outputPadding', op);
  if (wIn !== Cin || Cin % groups !== 0) {
    throw new TensorError(
      `convTranspose2d: x ${shapeStr(x.shape)} and w ${shapeStr(w.shape)} do not fit ` +
        `groups=${groups} (need w.shape[0] = Cin, divisible by groups)`,
    );
  }
  if (outputPadding[0] >= stride[0] || outputPadding[1] >= stride[1]) {
    throw new TensorError(
      `convTranspose2d: outputPadding [${outputPadding.join(', ')}] must be smaller than stride [${stride.join(', ')}]`,
    );
  }
  const OH = (H - 1) * stride[0] - 2 * padding[0] + KH + outputPadding[0];
  const OW = (W - 1) * stride[1] - 2 * padding[1] + KW + outputPadding[1];
  if (OH < 1 || OW < 1 || KH < 1 || KW < 1) {
    throw new TensorError(`convTranspose2d: the output would be ${OH}x${OW}`);
  }
  const y = convTranspose2dRaw(x, w, bias, stride, padding, outputPadding, groups);
  const inputs = bias ? [x, w, bias] : [x, w];
  if (needsGrad(inputs)) {
    const xs = save(x);
    const ws = save(w);
    const wantX = x.requiresGrad;
    const wantW = w.requiresGrad;
    const wantB = bias?.requiresGrad ?? false;
    record(
      y,
      inputs,
      (g) => {
        const gx = wantX ? conv2dRaw(g, ws, null, stride, padding, groups) : null;
        let gw: Tensor | null = null;
        if (wantW && isSame3x3(KH, KW, stride, padding, outputPadding)) {
          gw = weightGradSame3x3(xs, g, groups, false)?.gw ?? null;
        }
        if (wantW && isFlat(KH, KW, stride, padding)) {
          gw = weightGrad1x1(xs, g, groups, false)?.gw ?? null;
        }
        if (wantW && !gw) {
          const gp = padInput(g, padding[0], padding[1], OH + 2 * padding[0], OW + 2 * padding[1]);
          gw = weightGrad(xs, gp, groups, KH, KW, stride);
          gp.dispose();
        }
        const gb = wantB ? sum(g, [0, 2, 3]) : null;
        return [gx, gw, gb];
      },
      [xs, ws],
    );
  }
  return y;
}
