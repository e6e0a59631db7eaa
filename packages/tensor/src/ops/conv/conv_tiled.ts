/**
 * Rows conv_tiled_BMxBN: convolution as a workgroup-tiled implicit GEMM, the shape real GPUs
 * reward (lib/gemm_tile.wgsl): a BM x BN block of output channels x pixels per workgroup of
 * 256 invocations, operand blocks staged in workgroup memory, TM x TN outputs per invocation
 * in registers. conv_tiled.wgsl runs pass y and pass dx (one correlation per output phase),
 * gathering the input through the window with bounds checks (no padded copy) and reading the
 * weights as stored; conv_tiled_wgrad.wgsl runs pass dw with its pixel reduction split into
 * chunks. Any kernel size, stride, padding and groups. Three tile shapes, each its own row,
 * for the tuner to choose from per adapter; an adapter whose limits cannot hold a tile does
 * not get that row.
 */
import type { Gpu } from '../../gpu.ts';
import { K } from '../../kernels.ts';
import { Tensor } from '../../tensor.ts';
import {
  type ConvGeometry,
  type Correlation,
  type CorrelationOperands,
  forwardByCorrelation,
  inputGradByCorrelation,
} from './geometry.ts';
import type { ConvRow } from './row.ts';
import { sumChunks } from './shared.ts';

/** A tile shape of lib/gemm_tile.wgsl: BM = tm*wy rows by BN = tn*wx columns, bk deep. */
export interface TileShape {
  tm: number;
  tn: number;
  wx: number;
  wy: number;
  bk: number;
}

/**
 * The instantiated shapes: 128x64 with 8x4 per invocation (the best published WGSL GEMM tile
 * on an A100), 64x64 with 4x4, and 32x32 with 2x2 for problems too small to fill a GPU with
 * large tiles. All with 16x16 invocations.
 */
export const TILE_SHAPES: readonly TileShape[] = [
  { tm: 8, tn: 4, wx: 16, wy: 16, bk: 8 },
  { tm: 4, tn: 4, wx: 16, wy: 16, bk: 16 },
  { tm: 2, tn: 2, wx: 16, wy: 16, bk: 16 },
];

export const tileName = (s: TileShape) => `${s.tm * s.wy}x${s.tn * s.wx}`;

/** The override constants of a tile shape, within lib/gemm_tile.wgsl's limits. */
export function tileConstants(s: TileShape): Record<string, number> {
  if (!(s.tm <= 8 && s.tm * s.tn <= 64 && s.wx * s.wy <= 1024)) {
    throw new Error(`tile ${tileName(s)}: TM <= 8, TM x TN <= 64 and WX x WY <= 1024 are needed`);
  }
  return { TM: s.tm, TN: s.tn, WX: s.wx, WY: s.wy, BK: s.bk };
}

/** Whether the adapter's limits hold a workgroup of this tile shape. */
export function tileFits(s: TileShape, gpu: Gpu): boolean {
  const l = gpu.device.limits;
  const invocations = s.wx * s.wy;
  const bytes = (s.tm * s.wy + 1 + s.tn * s.wx + 1) * s.bk * 4; // blocks of pitch BM+1, BN+1
  return (
    l.maxComputeInvocationsPerWorkgroup >= invocations &&
    l.maxComputeWorkgroupSizeX >= invocations &&
    l.maxComputeWorkgroupStorageSize >= bytes
  );
}

function correlate(s: TileShape, c: Correlation, o: CorrelationOperands): void {
  const gpu = o.x.gpu;
  const [N, cTotal, h, w] = o.x.shape as unknown as [number, number, number, number];
  const [, yC, yH, yW] = o.y.shape as unknown as [number, number, number, number];
  const n = N * c.oh * c.ow;
  const tilesM = Math.ceil(o.mg / (s.tm * s.wy));
  const tilesN = Math.ceil(n / (s.tn * s.wx));
  const wgs = o.groups * tilesM * tilesN;
  gpu.dispatch(
    { ...K.convTiled, workgroupSize: s.wx * s.wy },
    { ...tileConstants(s), TRANSPOSED: o.transposed ? 1 : 0 },
    [o.x.buffer, o.w.buffer, o.bias ? o.bias.buffer : gpu.dummy, o.y.buffer],
    {
      m: o.mg,
      n,
      tiles_m: tilesM,
      tiles_n: tilesN,
      wgs,
      k: o.cg * c.kh * c.kw,
      cg: o.cg,
      c_total: cTotal,
      h,
      w,
      kh: c.kh,
      kw: c.kw,
      sh: c.stride[0],
      sw: c.stride[1],
      top: c.origin[0],
      left: c.origin[1],
      oh: c.oh,
      ow: c.ow,
      full_kh: o.w.shape[2] as number,
      full_kw: o.w.shape[3] as number,
      kh0: c.k0[0],
      kw0: c.k0[1],
      dh: c.step[0],
      dw: c.step[1],
      y_c: yC,
      y_h: yH,
      y_w: yW,
      osy: c.outStride[0],
      osx: c.outStride[1],
      y_off: c.phase[0] * yW + c.phase[1],
      has_bias: o.bias ? 1 : 0,
    },
    wgs,
  );
}

/** Workgroups the weight gradient aims for: enough to fill a large GPU. */
const WGRAD_TARGET_WORKGROUPS = 512;

function weightGrad(s: TileShape, g: ConvGeometry, dy: Tensor, x: Tensor): Tensor {
  const gpu = dy.gpu;
  const k = g.N * g.OH * g.OW;
  const e = g.cg * g.KH * g.KW;
  const tilesM = Math.ceil(g.mg / (s.tm * s.wy));
  const tilesN = Math.ceil(e / (s.tn * s.wx));
  const perItem = g.groups * tilesM * tilesN;
  // Chunks of at least 16 steps of the k loop, enough of them to fill the device.
  const maxChunks = Math.max(1, Math.ceil(k / (16 * s.bk)));
  const chunks = Math.min(maxChunks, Math.max(1, Math.ceil(WGRAD_TARGET_WORKGROUPS / perItem)));
  const perChunk = Math.ceil(k / chunks / s.bk) * s.bk;
  const realChunks = Math.ceil(k / perChunk);
  const partial = Tensor.empty(gpu, [realChunks, g.cout, e]);
  const wgs = realChunks * perItem;
  gpu.dispatch(
    { ...K.convTiledWgrad, workgroupSize: s.wx * s.wy },
    // dy is read pixel-fast (A k-fast), x through the window pixel-fast too (B k-fast).
    { ...tileConstants(s), A_MFAST: 0, B_KFAST: 1 },
    [dy.buffer, x.buffer, partial.buffer],
    {
      m: g.mg,
      n: e,
      tiles_m: tilesM,
      tiles_n: tilesN,
      wgs,
      k,
      per_chunk: perChunk,
      groups: g.groups,
      cout: g.cout,
      cin: g.cin,
      cg: g.cg,
      h: g.H,
      w: g.W,
      kh: g.KH,
      kw: g.KW,
      oh: g.OH,
      ow: g.OW,
      sh: g.stride[0],
      sw: g.stride[1],
      ph: g.padding[0],
      pw: g.padding[1],
    },
    wgs,
  );
  return sumChunks(partial, [g.cout, g.cg, g.KH, g.KW]);
}

function makeRow(s: TileShape): ConvRow {
  const fits = (_g: ConvGeometry, gpu: Gpu) => tileFits(s, gpu);
  return {
    name: `conv_tiled_${tileName(s)}`,
    shaders: ['conv_tiled.wgsl', 'conv_tiled_wgrad.wgsl', 'lib/gemm_tile.wgsl'],
    about: `any kernel, stride, padding and groups: workgroup-tiled implicit GEMM, ${tileName(s)} tiles, ${s.tm}x${s.tn} per invocation of 16x16 (y; dx per output phase; dw in chunks)`,
    y: {
      epilogue: false,
      fits,
      run: (g, a) => forwardByCorrelation(g, a, (c, o) => correlate(s, c, o)),
    },
    dx: {
      fits,
      run: (g, a) => inputGradByCorrelation(g, a, (c, o) => correlate(s, c, o)),
    },
    dw: {
      sums: false,
      fits,
      run: (g, a) => ({ gw: weightGrad(s, g, a.dy, a.x), sums: null }),
    },
  };
}

export const CONV_TILED_ROWS: readonly ConvRow[] = TILE_SHAPES.map(makeRow);
