/**
 * Rows matmul_tiled_BMxBN: batched matmul as a workgroup-tiled GEMM for GPUs
 * (matmul_tiled.wgsl on lib/gemm_tile.wgsl), both operands read in place through their
 * strides (either layout, offsets, broadcast batches: no copies, no padding), the load order
 * of each operand chosen to match its storage so that global loads coalesce. The tile shapes
 * are the convolution's (ops/conv/conv_tiled.ts), one row each.
 */
import { K } from '../../kernels.ts';
import type { Tensor } from '../../tensor.ts';
import {
  type TileShape,
  TILE_SHAPES,
  tileConstants,
  tileFits,
  tileName,
} from '../conv/conv_tiled.ts';
import type { MatmulProblem, MatmulRow } from './problem.ts';

function run(s: TileShape, p: MatmulProblem, c: Tensor): void {
  const tilesM = Math.ceil(p.M / (s.tm * s.wy));
  const tilesN = Math.ceil(p.N / (s.tn * s.wx));
  const wgs = p.batch * tilesM * tilesN;
  c.gpu.dispatch(
    { ...K.matmulTiled, workgroupSize: s.wx * s.wy },
    {
      ...tileConstants(s),
      A_MFAST: p.a.col !== 1 && p.a.row === 1 ? 1 : 0,
      B_KFAST: p.b.col !== 1 && p.b.row === 1 ? 1 : 0,
    },
    [p.a.t.buffer, p.b.t.buffer, c.buffer],
    {
      m: p.M,
      n: p.N,
      k: p.K,
      tiles_m: tilesM,
      tiles_n: tilesN,
      wgs,
      a_off: p.a.off,
      a_batch: p.a.batch,
      a_row: p.a.row,
      a_col: p.a.col,
      b_off: p.b.off,
      b_batch: p.b.batch,
      b_row: p.b.row,
      b_col: p.b.col,
    },
    wgs,
  );
}

function makeRow(s: TileShape): MatmulRow {
  return {
    name: `matmul_tiled_${tileName(s)}`,
    shaders: ['matmul_tiled.wgsl', 'lib/gemm_tile.wgsl'],
    about: `workgroup-tiled GEMM, ${tileName(s)} tiles, ${s.tm}x${s.tn} per invocation of 16x16, operands in place through strides`,
    fits: (_p, gpu) => tileFits(s, gpu),
    run: (p, c) => run(s, p, c),
  };
}

export const MATMUL_TILED_ROWS: readonly MatmulRow[] = TILE_SHAPES.map(makeRow);
