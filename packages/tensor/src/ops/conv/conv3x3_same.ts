/**
 * Row conv3x3_same: the same-size 3x3 (stride 1, padding 1) on rows of 4, 8, 16 or 32 pixels,
 * with subgroups of at least 8: conv3x3_same.wgsl for the forward pass (with conv2d's epilogue
 * in its store) and the input gradient (the kernel flipped), conv3x3_same_wgrad.wgsl for the
 * weight gradient (with the bias sums). Lanes share a window's edge pixels through
 * subgroupShuffle and read the unpadded operands as vec4: the UNet's main kernel on CPU
 * rasterizers (docs/architecture.md, "Convolution").
 */
import type { Gpu } from '../../gpu.ts';
import { K } from '../../kernels.ts';
import { Tensor } from '../../tensor.ts';
import {
  type ConvGeometry,
  type Epilogue,
  isSame3x3,
  NO_EPILOGUE,
  type WeightGrad,
} from './geometry.ts';
import type { ConvRow } from './row.ts';
import { chunkRows, hasSubgroups8, LANES, packWeights, sumChunks } from './shared.ts';

function fits(g: ConvGeometry, gpu: Gpu): boolean {
  return isSame3x3(g) && [4, 8, 16, 32].includes(g.W) && hasSubgroups8(gpu);
}

/**
 * A same-size 3x3 correlation of unpadded x [N, groups*cg, H, W] giving mg channels per group:
 * the weights are read as stored (`transposed`: convTranspose2d's layout) from tap k0 on with
 * signed steps `step` (see conv_pack.wgsl).
 */
function correlate(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  groups: number,
  mg: number,
  transposed: boolean,
  k0: number,
  step: number,
  epi: Epilogue,
): Tensor {
  const [N, cTotal, H, W] = x.shape as unknown as [number, number, number, number];
  const gpu = x.gpu;
  // Two output rows per lane where the height is even (1.0-1.2x faster than one row with
  // 16-channel tiles on lavapipe, measured on the UNet's shapes); else one.
  const tall = H % 2 === 0 ? 2 : 1;
  const rows = tall === 2 ? 8 : mg >= 9 ? 16 : 8;
  const cg = cTotal / groups;
  const y = Tensor.empty(gpu, [N, groups * mg, H, W]);
  const lpr = W / 4;
  const quads = N * (H / tall) * lpr;
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
    {
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
    },
    tiles * laneGroups,
  );
  packed.dispose();
  return y;
}

/**
 * out[g*ag + k, c, i, j] = sum_{n, oy, ox} a[n, g*ag + k, oy, ox] *
 * b[n, g*bg + c, oy + i - 1, ox + j - 1] (zero outside), a and b both [N, *, H, W]
 * (conv3x3_same_wgrad.wgsl): [aC, bg, 3, 3] and, when asked, a summed per channel.
 */
function weightGrad(a: Tensor, b: Tensor, groups: number, withSums: boolean): WeightGrad {
  const [N, aC, H, W] = a.shape as unknown as [number, number, number, number];
  const bC = b.shape[1] as number;
  const gpu = a.gpu;
  const ag = aC / groups;
  const bg = bC / groups;
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
  const { rowsPerChunk, chunks } = chunkRows(rowsTotal, W, tiles * laneGroups);
  const partial = Tensor.empty(gpu, [chunks, aC, bg * 9]);
  const sums = withSums ? Tensor.empty(gpu, [chunks, aC]) : null;
  const work = gpu.workCounter();
  gpu.dispatch(
    { ...K.conv3x3SameWgrad, workgroupSize: lanes },
    { LPR: W / 4, KT: kt, SUMS: sums ? 1 : 0 },
    [a.buffer, b.buffer, partial.buffer, sums ? sums.buffer : gpu.dummy, work.buffer],
    {
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
      chunks,
    },
    chunks * tiles * laneGroups,
  );
  return {
    gw: sumChunks(partial, [aC, bg, 3, 3]),
    sums: sums ? sumChunks(sums, [aC]) : null,
  };
}

export const conv3x3SameRow: ConvRow = {
  name: 'conv3x3_same',
  shaders: ['conv3x3_same.wgsl', 'conv3x3_same_wgrad.wgsl'],
  about:
    '3x3 stride 1 padding 1 on rows of 4-32 pixels, subgroups >= 8: conv3x3_same.wgsl (y with the epilogue; dx flipped), conv3x3_same_wgrad.wgsl (dw with the bias sums)',
  y: {
    epilogue: true,
    fits,
    run: (g, a) => correlate(a.x, a.w, a.bias, g.groups, g.mg, false, 0, 1, a.epi),
  },
  dx: {
    fits,
    // y[o] = sum_j x[o + 1 - j] w[j]: a correlation with the kernel flipped (taps 2, 1, 0).
    run: (g, a) => correlate(a.dy, a.w, a.bias, g.groups, g.cg, true, 2, -1, NO_EPILOGUE),
  },
  dw: {
    sums: true,
    fits,
    run: (g, a) => weightGrad(a.dy, a.x, g.groups, a.sums),
  },
};
