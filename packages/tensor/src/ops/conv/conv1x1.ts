/**
 * Row conv1x1: the flat 1x1 (stride 1, no padding) on planes of a multiple of 4 pixels, with
 * subgroups of at least 8. Per image a matmul of the weights with the [channels, pixels]
 * plane: conv1x1.wgsl for the forward pass and the input gradient (the transposed weights),
 * conv1x1_wgrad.wgsl for the weight gradient (input channels per group a multiple of 4; with
 * the bias sums). The UNet's skip projections and attention's projections.
 */
import type { Gpu } from '../../gpu.ts';
import { K } from '../../kernels.ts';
import { Tensor } from '../../tensor.ts';
import { type ConvGeometry, isFlat, type WeightGrad } from './geometry.ts';
import type { ConvRow } from './row.ts';
import { chunkRows, flatView, hasSubgroups8, LANES, packWeights, sumChunks } from './shared.ts';

/** Output channels per tile for `m` channels per group: 32 from 24 on, else 16 or 8. */
export function conv1x1Rows(m: number): number {
  // 32-channel tiles from 24 channels on (a quarter of a tile idle at worst): each vec4 of x
  // then feeds twice the multiply-adds of a 16-channel tile.
  return m >= 24 ? 32 : m >= 9 ? 16 : 8;
}

/**
 * y [N, groups*mg, P] = the weights (packed K-major by conv_pack.wgsl, from `w` as stored)
 * times x [N, groups*cg, P] per image, P = 4 * p4 (conv1x1.wgsl).
 */
function correlate(
  x: Tensor,
  w: Tensor,
  transposed: boolean,
  bias: Tensor | null,
  groups: number,
  cg: number,
  mg: number,
  y: Tensor,
): void {
  const gpu = x.gpu;
  const [N, cTotal, , P] = x.shape as unknown as [number, number, number, number];
  const rows = conv1x1Rows(mg);
  const p4 = P / 4;
  const quads = N * p4;
  const mTiles = Math.ceil(mg / rows);
  const tiles = groups * mTiles;
  const work = gpu.workCounter();
  const packed = packWeights(w, {
    transposed,
    groups,
    mg,
    cg,
    kh: 1,
    kw: 1,
    kh0: 0,
    kw0: 0,
    dh: 1,
    dw: 1,
    rows,
  });
  gpu.dispatch(
    { ...K.conv1x1, workgroupSize: LANES },
    { ROWS: rows },
    [x.buffer, packed.buffer, bias ? bias.buffer : gpu.dummy, y.buffer, work.buffer],
    {
      quads,
      p4,
      cg,
      c_total: cTotal,
      mg,
      m_tiles: mTiles,
      slot: work.slot,
      y_c: groups * mg,
      has_bias: bias ? 1 : 0,
      tiles,
    },
    tiles * Math.ceil(quads / LANES),
  );
  packed.dispose();
}

/** Flat views of x and a new y, the correlation, and y (conv1x1.wgsl). */
function run(
  x: Tensor,
  w: Tensor,
  transposed: boolean,
  bias: Tensor | null,
  groups: number,
  cg: number,
  mg: number,
): Tensor {
  const [N, , H, W] = x.shape as unknown as [number, number, number, number];
  const y = Tensor.empty(x.gpu, [N, groups * mg, H, W]);
  const xf = flatView(x);
  const yf = flatView(y);
  correlate(xf, w, transposed, bias, groups, cg, mg, yf);
  xf.dispose();
  yf.dispose();
  return y;
}

/**
 * out[g*ag + k, c] = sum over images and pixels of a[n, g*ag + k, p] * b[n, g*bg + c, p],
 * a [N, aC, H, W], b [N, bC, H, W] (conv1x1_wgrad.wgsl): [aC, bg, 1, 1] and, when asked, a
 * summed per channel.
 */
function weightGrad(a: Tensor, b: Tensor, groups: number, withSums: boolean): WeightGrad {
  const [N, aC, H, W] = a.shape as unknown as [number, number, number, number];
  const bC = b.shape[1] as number;
  const gpu = a.gpu;
  const P = H * W;
  const ag = aC / groups;
  const bg = bC / groups;
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
  gpu.dispatch(
    K.conv1x1Wgrad,
    { KT: kt, SUMS: sums ? 1 : 0 },
    [a.buffer, b.buffer, partial.buffer, sums ? sums.buffer : gpu.dummy, work.buffer],
    {
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
    },
    chunks * tiles,
  );
  return {
    gw: sumChunks(partial, [aC, bg, 1, 1]),
    sums: sums ? sumChunks(sums, [aC]) : null,
  };
}

const planeFits = (g: ConvGeometry, gpu: Gpu) =>
  isFlat(g) && (g.H * g.W) % 4 === 0 && hasSubgroups8(gpu);

export const conv1x1Row: ConvRow = {
  name: 'conv1x1',
  shaders: ['conv1x1.wgsl', 'conv1x1_wgrad.wgsl'],
  about:
    '1x1 stride 1 without padding on planes of a multiple of 4 pixels, subgroups >= 8: conv1x1.wgsl (y and dx: at least 5 output channels per group), conv1x1_wgrad.wgsl (dw: input channels per group a multiple of 4; with the bias sums)',
  y: {
    epilogue: false,
    fits: (g, gpu) => planeFits(g, gpu) && g.mg >= 5,
    run: (g, a) => run(a.x, a.w, false, a.bias, g.groups, g.cg, g.mg),
  },
  dx: {
    fits: (g, gpu) => planeFits(g, gpu) && g.cg >= 5,
    run: (g, a) => run(a.dy, a.w, true, a.bias, g.groups, g.mg, g.cg),
  },
  dw: {
    sums: true,
    fits: (g, gpu) => planeFits(g, gpu) && g.cg % 4 === 0,
    run: (g, a) => weightGrad(a.dy, a.x, g.groups, a.sums),
  },
};
