/** Helpers shared by several convolution rows: weight packing, padding, chunked sums. */
import type { Gpu } from '../../gpu.ts';
import { K } from '../../kernels.ts';
import { Tensor } from '../../tensor.ts';
import { full } from '../elementwise.ts';
import { stridedCopy } from '../layout.ts';
import { sum } from '../reduce.ts';
import { workgroupsFor } from '../util.ts';
import type { Correlation, CorrelationOperands } from './geometry.ts';

/**
 * Invocations per workgroup of the subgroup-era kernels. Fixed: the workgroup size is a
 * pipeline constant, and every extra variant of these kernels costs up to seconds of shader
 * compilation on lavapipe. Lanes past the work of a small problem compute copies and store
 * nothing.
 */
export const LANES = 64;

/** Whether the kernels that hand values round by subgroupBroadcast in blocks of 8 can run. */
export function hasSubgroups8(gpu: Gpu): boolean {
  return gpu.hasSubgroupsOf(8);
}

/**
 * x [N, C, H, W] zero-padded to [N, C, hp, wp] with x at row `top`, column `left` (hp >= H +
 * top, wp >= W + left). Returns a view of x itself when nothing is added.
 */
export function padInput(x: Tensor, top: number, left: number, hp: number, wp: number): Tensor {
  const [N, C, H, W] = x.shape as unknown as [number, number, number, number];
  if (top === 0 && left === 0 && hp === H && wp === W) return x.view(x.shape, false);
  const xp = full([N, C, hp, wp], 0, x.gpu);
  stridedCopy(x, xp, [N * C, H, W], [H * W, W, 1], [hp * wp, wp, 1], 0, top * wp + left);
  return xp;
}

/** [N, C, H, W] viewed as [N, C, 1, H*W] (a handle to dispose). */
export function flatView(t: Tensor): Tensor {
  const [N, C, H, W] = t.shape as unknown as [number, number, number, number];
  return t.view([N, C, 1, H * W], false);
}

export interface PackSpec {
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
  /** conv3x3_same.wgsl's layout [groups, m_tiles, cg, rows, 12] instead of K-major tiles. */
  tapsTogether?: boolean;
}

/**
 * Weights in the K-major tile layout [groups, m_tiles, cg*kh*kw, rows] (conv.wgsl,
 * conv1x1.wgsl), or with `tapsTogether` conv3x3_same.wgsl's [groups, m_tiles, cg, rows, 12]
 * (conv_pack.wgsl).
 */
export function packWeights(w: Tensor, s: PackSpec): Tensor {
  const mTiles = Math.ceil(s.mg / s.rows);
  const k = s.tapsTogether ? 12 : s.cg * s.kh * s.kw;
  const n = s.groups * mTiles * s.cg * s.rows * (s.tapsTogether ? 12 : s.kh * s.kw);
  const out = Tensor.empty(w.gpu, [n]);
  w.gpu.dispatch(
    K.convPack,
    { TRANSPOSED: s.transposed ? 1 : 0, LAYOUT: s.tapsTogether ? 1 : 0 },
    [w.buffer, out.buffer],
    {
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
    },
    workgroupsFor(n / (s.tapsTogether ? 12 : s.rows)), // one invocation per line
  );
  return out;
}

/**
 * The weights of correlation `c` in K-major tiles of `rows` output channels (packWeights), or
 * null when it has no taps (a phase of a transposed conv that no tap reaches).
 */
export function packCorrelation(
  c: Correlation,
  o: Omit<CorrelationOperands, 'x' | 'y' | 'bias'>,
  rows: number,
): Tensor | null {
  if (c.kh * c.kw === 0) return null;
  return packWeights(o.w, {
    transposed: o.transposed,
    groups: o.groups,
    mg: o.mg,
    cg: o.cg,
    kh: c.kh,
    kw: c.kw,
    kh0: c.k0[0],
    kw0: c.k0[1],
    dh: c.step[0],
    dw: c.step[1],
    rows,
  });
}

/**
 * How the weight-gradient kernels split their reduction over `rowsTotal` rows of `rowWidth`
 * pixels: enough workgroups for every core (about 192 in all, `workgroupsPerChunk` each), but
 * chunks of a few hundred pixels so that the partial sums stay few.
 */
export function chunkRows(
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
export function sumChunks(partial: Tensor, shape: number[]): Tensor {
  const total = partial.shape[0] === 1 ? partial : sum(partial, 0);
  const out = total.view(shape);
  partial.dispose();
  if (total !== partial) total.dispose();
  return out;
}
