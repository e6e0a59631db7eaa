/**
 * The matmul kernel table: every row once, and `runMatmul`, which runs a problem through the
 * row the device's kernel choices pick (choice.ts). Table order is the choice before tuning:
 * on CPU rasterizers the subgroup row shaped for them first, on GPUs the tiled rows.
 */
import { type KernelProblem, registerRows } from '../../choice.ts';
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

const MATMUL_NAMES = MATMUL_ROWS.map((r) => r.name);
registerRows(MATMUL_NAMES);

const GPU_ORDER: readonly MatmulRow[] = [
  ...MATMUL_TILED_ROWS,
  ...MATMUL_ROWS.filter((r) => !MATMUL_TILED_ROWS.includes(r)),
];

export function matmulRowsFitting(p: MatmulProblem, gpu: Gpu): MatmulRow[] {
  return (gpu.isSoftware ? MATMUL_ROWS : GPU_ORDER).filter((r) => r.fits(p, gpu));
}

/** The elements an operand's strides reach, so a synthetic copy can be read the same way. */
function extent(s: Strided, batch: number, rows: number, cols: number): number {
  return s.off + (batch - 1) * s.batch + (rows - 1) * s.row + (cols - 1) * s.col + 1;
}

/** Runs `row` on random operands laid out as p's, and frees them. */
function bench(p: MatmulProblem, row: MatmulRow): void {
  const a = randn([extent(p.a, p.batch, p.M, p.K)], { seed: 1 });
  const b = randn([extent(p.b, p.batch, p.K, p.N)], { seed: 2 });
  const c = Tensor.empty(a.gpu, [p.batch, p.M, p.N]);
  row.run({ ...p, a: { ...p.a, t: a }, b: { ...p.b, t: b } }, c);
  for (const t of [a, b, c]) t.dispose();
}

export function matmulProblem(p: MatmulProblem, gpu: Gpu): KernelProblem<MatmulRow> {
  return {
    key: matmulKey(p),
    rows: matmulRowsFitting(p, gpu),
    table: MATMUL_NAMES,
    bench: (row) => bench(p, row),
    ...(p.batch > 1 && { benchSmall: (row: MatmulRow) => bench({ ...p, batch: 1 }, row) }),
  };
}

/** c [batch, M, N] (dense) = A B through the chosen row; no autograd, M, N, K > 0. */
export function runMatmul(p: MatmulProblem, c: Tensor): void {
  const gpu = c.gpu;
  gpu.kernels.pick(matmulProblem(p, gpu)).run(p, c);
}

/** The rows with their shaders, for the op table (registry.ts). */
export function describeMatmulRows(): string {
  return `${MATMUL_ROWS.map((r) => `${r.name} (${r.shaders.join(', ')})`).join(', ')}, chosen per adapter (ops/matmul/table.ts)`;
}
