/** A batched matmul as the kernel rows see it: operands read in place through strides. */
import type { Tensor } from '../../tensor.ts';

/** Element (r, c) of batch t of an operand at off + t*batch + r*row + c*col (batch 0: shared). */
export interface Strided {
  t: Tensor;
  off: number;
  batch: number;
  row: number;
  col: number;
}

/** C [batch, M, N] (dense) = A B: a holds (m, k), b holds (k, n); M, N, K > 0. */
export interface MatmulProblem {
  batch: number;
  M: number;
  N: number;
  K: number;
  a: Strided;
  b: Strided;
}

/** 'r' when an operand's rows are contiguous, 'c' when its columns are, else 's'. */
function layout(s: Strided): string {
  if (s.col === 1) return 'r';
  if (s.row === 1) return 'c';
  return 's';
}

/**
 * The shape class of a matmul, as kernel choices are keyed (see choice.ts): without the batch,
 * which every row computes matrix by matrix, so a batch's results do not depend on its size.
 */
export function matmulKey(p: MatmulProblem): string {
  return `matmul m${p.M} n${p.N} k${p.K} a${layout(p.a)} b${layout(p.b)}`;
}

/** What a matmul kernel row is: whether it runs a problem here, and how. */
export interface MatmulRow {
  readonly name: string;
  readonly shaders: readonly string[];
  readonly about: string;
  fits(p: MatmulProblem, gpu: Tensor['gpu']): boolean;
  /** Writes A B into c, dense [batch, M, N]. */
  run(p: MatmulProblem, c: Tensor): void;
}
