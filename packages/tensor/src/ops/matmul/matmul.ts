/**
 * Rows matmul_sg and matmul_plain: 16 rows of C by one vec4 column per invocation, no
 * workgroup memory, shaped for CPU rasterizers (docs/architecture.md, "Matmul"). They read A
 * through strides in place and B as [batch, K, N] with N contiguous: a B in any other layout,
 * or with N not a multiple of 4, is copied once (O(KN) next to O(MNK)) and a padded result
 * cropped. matmul_sg (matmul_sg.wgsl) shares A's rows by subgroupBroadcast and takes work items
 * from a counter (subgroups of at least 8); matmul_plain (matmul.wgsl) runs everywhere.
 */
import type { Gpu } from '../../gpu.ts';
import { K } from '../../kernels.ts';
import { Tensor } from '../../tensor.ts';
import { stridedCopy } from '../layout.ts';
import type { MatmulProblem, MatmulRow, Strided } from './problem.ts';

/** Rows of C per workgroup, and columns per invocation (N is padded to a multiple). */
const ROWS = 16;
const COLS = 4;

/** B as the kernels read it: vec4 rows of N (padded) contiguous values; a copy if needed. */
function vec4Operand(p: MatmulProblem, np: number): { b: Strided; owned: boolean } {
  const b = p.b;
  const inPlace =
    b.col === 1 && np === p.N && b.off % 4 === 0 && b.row % 4 === 0 && b.batch % 4 === 0;
  if (inPlace) return { b, owned: false };
  const nb = b.batch === 0 ? 1 : p.batch;
  const t = Tensor.empty(b.t.gpu, [nb, p.K, np]);
  // Columns past N stay unwritten: they only feed columns of C that are cropped.
  stridedCopy(b.t, t, [nb, p.K, p.N], [b.batch, b.row, b.col], [p.K * np, np, 1], b.off, 0);
  return { b: { t, off: 0, batch: nb === 1 ? 0 : p.K * np, row: np, col: 1 }, owned: true };
}

function run(sg: boolean, p: MatmulProblem, c: Tensor): void {
  const gpu = c.gpu;
  const np = Math.ceil(p.N / COLS) * COLS;
  const { b, owned } = vec4Operand(p, np);
  const out = np === p.N ? c : Tensor.empty(gpu, [p.batch, p.M, np]);
  const tilesM = Math.ceil(p.M / ROWS);
  // Lanes per workgroup: enough for the vec4 columns, 8..64.
  const lanes = Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(np / COLS))));
  const colGroups = Math.ceil(np / COLS / lanes);
  const params = {
    m: p.M,
    n4: np / 4,
    k: p.K,
    tiles_m: tilesM,
    col_groups: colGroups,
    batches: p.batch,
    a_batch: p.a.batch,
    b_batch4: b.batch / 4,
    c_batch4: (p.M * np) / 4,
    a_row: p.a.row,
    a_col: p.a.col,
    b_row4: b.row / 4,
    a_off: p.a.off,
    b_off4: b.off / 4,
  };
  const workgroups = p.batch * tilesM * colGroups;
  const buffers = [p.a.t.buffer, b.t.buffer, out.buffer];
  if (sg) {
    const work = gpu.workCounter();
    const spec = { ...K.matmulSg, workgroupSize: lanes };
    gpu.dispatch(spec, {}, [...buffers, work.buffer], { ...params, slot: work.slot }, workgroups);
  } else {
    gpu.dispatch({ ...K.matmul, workgroupSize: lanes }, {}, buffers, params, workgroups);
  }
  if (owned) b.t.dispose();
  if (out !== c) {
    stridedCopy(out, c, [p.batch, p.M, p.N], [p.M * np, np, 1], [p.M * p.N, p.N, 1]);
    out.dispose();
  }
}

export const matmulSgRow: MatmulRow = {
  name: 'matmul_sg',
  shaders: ['matmul_sg.wgsl'],
  about:
    '16x4 register tiles, A rows by subgroup broadcast, work items from a counter (subgroups >= 8); B copied to [batch, K, N/4] vec4 rows where not already so',
  fits: (_p, gpu: Gpu) => gpu.hasSubgroupsOf(8),
  run: (p, c) => run(true, p, c),
};

export const matmulPlainRow: MatmulRow = {
  name: 'matmul_plain',
  shaders: ['matmul.wgsl'],
  about:
    '16x4 register tiles, any adapter; B copied to [batch, K, N/4] vec4 rows where not already so',
  fits: () => true,
  run: (p, c) => run(false, p, c),
};
