/**
 * Rows conv_rows_plain and conv_rows_sg: the general implicit-GEMM kernels for any kernel size,
 * stride, padding and groups. conv.wgsl correlates a zero-padded copy of the input (written
 * once per call, so the inner loop never bounds-checks) with weights packed by conv_pack.wgsl,
 * ROWS output channels x 4 adjacent pixels per invocation; pass dx runs it once per output
 * phase; conv_wgrad.wgsl sums the weight gradient over chunks of rows. conv_rows_sg hands the
 * weights round by subgroupBroadcast and takes work items from a counter (conv_rows_sg.wgsl,
 * subgroups of at least 8); conv_rows_plain runs everywhere (conv_rows_plain.wgsl).
 */
import type { Gpu } from '../../gpu.ts';
import { K } from '../../kernels.ts';
import { Tensor } from '../../tensor.ts';
import {
  type ConvGeometry,
  type Correlation,
  type CorrelationOperands,
  forwardCorrelation,
  inputGradCorrelations,
  isFlat,
  phases,
  type Two,
} from './geometry.ts';
import type { ConvRow } from './row.ts';
import {
  chunkRows,
  flatView,
  hasSubgroups8,
  LANES,
  packCorrelation,
  padInput,
  sumChunks,
} from './shared.ts';

/** Output channels per workgroup (1, 4 or 8) for `m` channels per group, up to 8. */
function rowsUpTo8(m: number): number {
  if (m >= 5) return 8;
  if (m >= 2) return 4;
  return 1;
}

/**
 * Tile shape for `m` output channels per group and a kh x kw kernel at column stride sw. The
 * unrolled kernels (KFIX) take 1.5-2.5 s each to compile on lavapipe, so only the shapes that
 * carry a UNet's work get them: 3x3 at stride 1 with subgroups, in tiles of 8 channels (32
 * accumulators fit AVX-512's 32 vector registers: measured 15-30% faster than 16 channels,
 * whose accumulators spill), and 1x1 at stride 1 in tiles of 16 (more multiply-adds per loaded
 * input value: 1.6x faster than 8). Everything else shares a few generic pipelines with at most
 * 8 channels per workgroup.
 */
function planTiles(sg: boolean, m: number, kh: number, kw: number, sw: number) {
  if (kh === 3 && kw === 3 && sw === 1 && m >= 5 && sg) return { rows: 8, kfix: 3 };
  if (kh === 1 && kw === 1 && sw === 1 && m >= 9) return { rows: 16, kfix: 1 };
  return { rows: rowsUpTo8(m), kfix: 0 };
}

/** The operands, with the input zero-padded so that every read lands inside it. */
interface Padded extends Omit<CorrelationOperands, 'x'> {
  xp: Tensor;
  /** Where the unpadded input starts in xp. */
  before: Two;
}

/** One correlation through conv_pack.wgsl and conv.wgsl. */
function correlate(sg: boolean, c: Correlation, o: Padded): void {
  const [N, cTotal, hp, wp] = o.xp.shape as unknown as [number, number, number, number];
  const [, yC, yH, yW] = o.y.shape as unknown as [number, number, number, number];
  const q = Math.ceil(c.ow / 4);
  const quads = N * c.oh * q;
  if (quads === 0 || o.mg === 0) return;
  const gpu = o.y.gpu;
  const [sh, sw] = c.stride;
  const { rows, kfix } = planTiles(sg, o.mg, c.kh, c.kw, sw);
  const taps = c.kh * c.kw > 0;
  const xOff = taps ? (c.origin[0] + o.before[0]) * wp + c.origin[1] + o.before[1] : 0;
  const mTiles = Math.ceil(o.mg / rows);
  const tiles = o.groups * mTiles;
  const laneGroups = Math.ceil(quads / LANES);
  const packed = packCorrelation(c, o, rows);
  // The plain kernel binds the counter too (one layout for both), and leaves it alone.
  const work = gpu.workCounter();
  gpu.dispatch(
    { ...(sg ? K.convSg : K.conv), workgroupSize: LANES },
    { ROWS: rows, SLIDE: sw === 1 ? 1 : 0, KFIX: kfix },
    [
      o.xp.buffer,
      packed ? packed.buffer : gpu.dummy,
      o.bias ? o.bias.buffer : gpu.dummy,
      o.y.buffer,
      work.buffer,
    ],
    {
      quads,
      q,
      oh: c.oh,
      ow: c.ow,
      c_total: cTotal,
      hp,
      wp,
      cg: o.cg,
      mg: o.mg,
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
      has_bias: o.bias ? 1 : 0,
      tiles,
      wgs: tiles * laneGroups,
      slot: work.slot,
    },
    tiles * laneGroups,
  );
  packed?.dispose();
}

function forward(sg: boolean, g: ConvGeometry, x: Tensor, w: Tensor, bias: Tensor | null) {
  const y = Tensor.empty(x.gpu, [g.N, g.cout, g.OH, g.OW]);
  const common = { w, transposed: false, bias, groups: g.groups, cg: g.cg, mg: g.mg };
  if (isFlat(g)) {
    // Each plane as one long row: quads of 4 pixels never straddle short rows.
    const [xf, yf] = [flatView(x), flatView(y)];
    const c = { ...forwardCorrelation(g), oh: 1, ow: g.OH * g.OW };
    correlate(sg, c, { ...common, xp: xf, before: [0, 0], y: yf });
    xf.dispose();
    yf.dispose();
    return y;
  }
  const [ph, pw] = g.padding;
  const xp = padInput(x, ph, pw, g.H + 2 * ph, g.W + 2 * pw);
  correlate(sg, forwardCorrelation(g), { ...common, xp, before: [ph, pw], y });
  xp.dispose();
  return y;
}

function inputGrad(sg: boolean, g: ConvGeometry, dy: Tensor, w: Tensor, bias: Tensor | null) {
  const y = Tensor.empty(dy.gpu, [g.N, g.cin, g.H, g.W]);
  const common = { w, transposed: true, bias, groups: g.groups, cg: g.mg, mg: g.cg };
  if (isFlat(g)) {
    const [df, yf] = [flatView(dy), flatView(y)];
    const c = { ...forwardCorrelation(g), oh: 1, ow: g.H * g.W };
    correlate(sg, c, { ...common, xp: df, before: [0, 0], y: yf });
    df.dispose();
    yf.dispose();
    return y;
  }
  // One padded copy of dy serves every output phase.
  const ry = phases(g.H, g.OH, g.KH, g.stride[0], g.padding[0]);
  const rx = phases(g.W, g.OW, g.KW, g.stride[1], g.padding[1]);
  const xp = padInput(dy, ry.before, rx.before, ry.extent, rx.extent);
  for (const c of inputGradCorrelations(g)) {
    correlate(sg, c, { ...common, xp, before: [ry.before, rx.before], y });
  }
  xp.dispose();
  return y;
}

/**
 * out[g*ag + a, c, i, j] = sum_{n, oy, ox} a[n, g*ag + a, oy, ox] *
 *   bp[n, g*bg + c, oy*sh + i, ox*sw + j], bp already zero-padded: [aC, bg, kh, kw]
 * (conv_wgrad.wgsl, then the chunks summed).
 */
function weightGradPadded(
  sg: boolean,
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
  const slide = sw === 1 && kw >= 2;
  const kwq = Math.ceil(kw / 4);
  const eTotal = bg * kh * kw;
  const items = slide ? bg * kh * kwq : Math.ceil(eTotal / 4);
  // Few items (without the sliding window): spare lanes take pixel phases, in blocks of whole
  // subgroups (phases must divide the row length aW).
  const sgSize = Math.max(
    8,
    (gpu.adapterInfo as { subgroupMaxSize?: number }).subgroupMaxSize ?? 8,
  );
  let ipw = LANES;
  let pixelPhases = 1;
  if (!slide && items * 2 <= LANES) {
    ipw = Math.ceil(items / sgSize) * sgSize;
    for (let p = 2; p * ipw <= LANES; p *= 2) if (aW % p === 0) pixelPhases = p;
    if (pixelPhases === 1) ipw = LANES;
  }
  const laneGroups = Math.ceil(items / ipw);
  // 16-channel tiles (slow to compile; 15-30% faster here than 8) for the shapes that carry a
  // UNet's work, as in planTiles.
  const hot = (kh === 3 && kw === 3 && sw === 1 && sg) || (kh === 1 && kw === 1 && sw === 1);
  const rows = ag >= 9 && hot ? 16 : rowsUpTo8(ag);
  const aTiles = Math.ceil(ag / rows);
  const tiles = groups * aTiles;
  const rowsTotal = N * aH;
  const { rowsPerChunk, chunks } = chunkRows(rowsTotal, aW, tiles * laneGroups);
  const partial = Tensor.empty(gpu, [chunks * pixelPhases, aC, eTotal]);
  // The plain kernel binds the counter too (one layout for both), and leaves it alone.
  const work = gpu.workCounter();
  gpu.dispatch(
    { ...(sg ? K.convWgradSg : K.convWgrad), workgroupSize: LANES },
    { ROWS: rows, SLIDE: slide ? 1 : 0 },
    [a.buffer, bp.buffer, partial.buffer, work.buffer],
    {
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
      chunks,
      ipw,
      phases: pixelPhases,
      wgs: chunks * tiles * laneGroups,
      slot: work.slot,
    },
    chunks * tiles * laneGroups,
  );
  return sumChunks(partial, [aC, bg, kh, kw]);
}

function weightGrad(sg: boolean, g: ConvGeometry, dy: Tensor, x: Tensor): Tensor {
  if (isFlat(g)) {
    const [df, xf] = [flatView(dy), flatView(x)];
    const gw = weightGradPadded(sg, df, xf, g.groups, 1, 1, [1, 1]);
    df.dispose();
    xf.dispose();
    return gw;
  }
  const [ph, pw] = g.padding;
  const xp = padInput(x, ph, pw, g.H + 2 * ph, g.W + 2 * pw);
  const gw = weightGradPadded(sg, dy, xp, g.groups, g.KH, g.KW, g.stride);
  xp.dispose();
  return gw;
}

function makeRow(sg: boolean): ConvRow {
  const fits = sg ? (_g: ConvGeometry, gpu: Gpu) => hasSubgroups8(gpu) : () => true;
  const lib = sg ? 'conv_rows_sg.wgsl' : 'conv_rows_plain.wgsl';
  return {
    name: sg ? 'conv_rows_sg' : 'conv_rows_plain',
    shaders: ['conv.wgsl', 'conv_wgrad.wgsl', lib],
    about: sg
      ? 'any kernel, stride, padding and groups, subgroups >= 8: conv.wgsl + conv_rows_sg.wgsl (y; dx per output phase) on a zero-padded copy, conv_wgrad.wgsl (dw), weights by subgroup broadcast, work items from a counter'
      : 'any kernel, stride, padding and groups, any adapter: conv.wgsl + conv_rows_plain.wgsl (y; dx per output phase) on a zero-padded copy, conv_wgrad.wgsl (dw)',
    y: { epilogue: false, fits, run: (g, a) => forward(sg, g, a.x, a.w, a.bias) },
    dx: { fits, run: (g, a) => inputGrad(sg, g, a.dy, a.w, a.bias) },
    dw: {
      sums: false,
      fits,
      run: (g, a) => ({ gw: weightGrad(sg, g, a.dy, a.x), sums: null }),
    },
  };
}

export const convRowsSgRow = makeRow(true);
export const convRowsRow = makeRow(false);
