/**
 * The matmul kernel table: every row once, and `runMatmul`, which runs a problem through the
 * row the device's kernel choices pick (choice.ts). Table order is the choice before tuning:
 * on CPU rasterizers the subgroup row shaped for them first, on GPUs the tiled rows.
 */
import { describeRows, type KernelProblem, kernelProblem, registerRows } from '../../choice.ts';
import type { Gpu } from '../../gpu.ts';
import { Tensor } from '../../tensor.ts';
import { randn } from '../random.ts';
import { matmulPlainRow, matmulSgRow } from './matmul.ts';
import { MATMUL_TILED_ROWS } from './matmul_tiled.ts';
import { type MatmulProblem, type MatmulRow, matmulKey, type Strided } from './problem.ts';

export const MATMUL_ROWS: readonly MatmulRow[] = [
  matmulSgRow,
  matmulPlainRow,
  ...MATMUL_TILED_ROWS,
];

registerRows(MATMUL_ROWS);

/** On GPUs: the tiled rows first. */
const GPU_ORDER: readonly MatmulRow[] = [
  ...MATMUL_TILED_ROWS,
  ...MATMUL_ROWS.filter((r) => !MATMUL_TILED_ROWS.includes(r)),
];

/** The elements an operand's strides reach, so a synthetic copy can be read the same way. */
function extent(s: Strided, batch: number, rows: number, cols: number): number {
  return s.off + (batch - 1) * s.batch + (rows - 1) * s.row + (cols - 1) * s.col + 1;
}

/** Random operands laid out as p's (the elements their strides reach). */
function operandsOf(p: MatmulProblem): Tensor[] {
  return [
    randn([extent(p.a, p.batch, p.M, p.K)], { seed: 1 }),
    randn([extent(p.b, p.batch, p.K, p.N)], { seed: 2 }),
  ];
}

/** Runs `row` on `operands` (operandsOf) and frees its output. */
function bench(p: MatmulProblem, row: MatmulRow, operands: Tensor[]): void {
  const [a, b] = operands as [Tensor, Tensor];
  const c = Tensor.empty(a.gpu, [p.batch, p.M, p.N]);
  try {
    row.run({ ...p, a: { ...p.a, t: a }, b: { ...p.b, t: b } }, c);
  } finally {
    c.dispose();
  }
}

/** A matmul as the kernel choices see it (its key, rows and benches). */
export function matmulProblem(p: MatmulProblem, gpu: Gpu): KernelProblem<MatmulRow> {
  return kernelProblem({
    key: matmulKey(p),
    table: gpu.isSoftware ? MATMUL_ROWS : GPU_ORDER,
    fits: (row) => row.fits(p, gpu),
    shape: p,
    one: p.batch > 1 ? () => ({ ...p, batch: 1 }) : null,
    inputs: operandsOf,
    run: (row, shape, operands) => bench(shape, row, operands),
  });
}

/** c [batch, M, N] (dense) = A B through the chosen row; no autograd, M, N, K > 0. */
export function runMatmul(p: MatmulProblem, c: Tensor): void {
  const gpu = c.gpu;
  gpu.kernels.pick(matmulProblem(p, gpu)).run(p, c);
}

/** The rows with their shaders, for the op table (registry.ts). */
export function describeMatmulRows(): string {
  return describeRows(MATMUL_ROWS, 'ops/matmul/table.ts');
}
