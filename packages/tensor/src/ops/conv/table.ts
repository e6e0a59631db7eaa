/**
 * The convolution kernel table: every row once, and the three passes run through the row the
 * device's kernel choices pick (choice.ts). Table order is the choice before tuning: on CPU
 * rasterizers the subgroup kernels shaped for them first, on GPUs the workgroup-tiled rows.
 */
import { describeRows, type KernelProblem, kernelProblem, registerRows } from '../../choice.ts';
import type { Gpu } from '../../gpu.ts';
import type { Tensor } from '../../tensor.ts';
import { randn } from '../random.ts';
import { conv1x1Row } from './conv1x1.ts';
import { conv3x3SameRow } from './conv3x3_same.ts';
import { convGemmRow } from './conv_gemm.ts';
import { convRowsRow, convRowsSgRow } from './conv_rows.ts';
import { CONV_TILED_ROWS } from './conv_tiled.ts';
import {
  type ConvGeometry,
  convKey,
  type ForwardArgs,
  type InputGradArgs,
  NO_EPILOGUE,
  type WeightGrad,
  type WeightGradArgs,
} from './geometry.ts';
import { resample2x2Row } from './resample2x2.ts';
import type { ConvRow } from './row.ts';

/** Every convolution row, in the order tried first on CPU rasterizers. */
export const CONV_ROWS: readonly ConvRow[] = [
  conv3x3SameRow,
  conv1x1Row,
  resample2x2Row,
  convGemmRow,
  convRowsSgRow,
  convRowsRow,
  ...CONV_TILED_ROWS,
];

registerRows(CONV_ROWS);

/** On GPUs: the special-shape and tiled rows, then the rest. */
const GPU_ORDER: readonly ConvRow[] = [
  resample2x2Row,
  ...CONV_TILED_ROWS,
  ...CONV_ROWS.filter((r) => r !== resample2x2Row && !CONV_TILED_ROWS.includes(r)),
];

type Pass = 'y' | 'dx' | 'dw';

const rnd = (shape: number[], seed: number) => randn(shape, { seed });

/** Random inputs of pass `pass` of geometry g: [w, x or dy, dy for dw]. */
function inputsOf(pass: Pass, g: ConvGeometry): Tensor[] {
  const w = rnd([g.cout, g.cg, g.KH, g.KW], 2);
  const x = () => rnd([g.N, g.cin, g.H, g.W], 1);
  const dy = () => rnd([g.N, g.cout, g.OH, g.OW], 3);
  if (pass === 'y') return [w, x()];
  if (pass === 'dx') return [w, dy()];
  return [w, dy(), x()];
}

/** Runs one pass of `row` on `inputs` (inputsOf) and frees its outputs. */
function benchPass(pass: Pass, g: ConvGeometry, row: ConvRow, inputs: Tensor[]): void {
  const [w, a, b] = inputs as [Tensor, Tensor, Tensor | undefined];
  const made: Tensor[] = [];
  try {
    if (pass === 'y') made.push(row.y!.run(g, { x: a, w, bias: null, epi: NO_EPILOGUE }));
    else if (pass === 'dx') made.push(row.dx!.run(g, { dy: a, w, bias: null }));
    else {
      const r = row.dw!.run(g, { dy: a, x: b as Tensor, sums: true });
      made.push(r.gw, ...(r.sums ? [r.sums] : []));
    }
  } finally {
    for (const t of made) t.dispose();
  }
}

/** One pass of geometry g as the kernel choices see it (its key, rows and benches). */
export function convProblem(pass: Pass, g: ConvGeometry, gpu: Gpu): KernelProblem<ConvRow> {
  return kernelProblem({
    key: convKey(pass, g),
    table: gpu.isSoftware ? CONV_ROWS : GPU_ORDER,
    fits: (row) => row[pass]?.fits(g, gpu) ?? false,
    shape: g,
    one: g.N > 1 ? () => ({ ...g, N: 1 }) : null,
    inputs: (shape) => inputsOf(pass, shape),
    run: (row, shape, inputs) => benchPass(pass, shape, row, inputs),
  });
}

/** Pass y through the chosen row (its output without the epilogue where the row lacks it). */
export function forwardPass(g: ConvGeometry, a: ForwardArgs): { y: Tensor; fused: boolean } {
  const gpu = a.x.gpu;
  const row = gpu.kernels.pick(convProblem('y', g, gpu));
  return { y: row.y!.run(g, a), fused: row.y!.epilogue };
}

export function inputGradPass(g: ConvGeometry, a: InputGradArgs): Tensor {
  const gpu = a.dy.gpu;
  return gpu.kernels.pick(convProblem('dx', g, gpu)).dx!.run(g, a);
}

export function weightGradPass(g: ConvGeometry, a: WeightGradArgs): WeightGrad {
  const gpu = a.dy.gpu;
  return gpu.kernels.pick(convProblem('dw', g, gpu)).dw!.run(g, a);
}

/** The rows that have pass `pass`, with their shaders, for the op table (registry.ts). */
export function describeConvRows(pass: Pass): string {
  return describeRows(
    CONV_ROWS.filter((r) => r[pass]),
    'ops/conv/table.ts',
  );
}
