/**
 * Batched matmul with either operand transposed. Batch axes broadcast as NumPy's matmul does;
 * the operands are handed to the kernel rows in place, as strides (a batch that broadcasts
 * only partially is materialised first), and the row the device's kernel choices pick
 * (table.ts) computes C.
 */
import { needsGrad, record, save } from '../../autograd.ts';
import { TensorError } from '../../errors.ts';
import { K } from '../../kernels.ts';
import { Tensor } from '../../tensor.ts';
import { stridedCopy } from '../layout.ts';
import { sumTo } from '../reduce.ts';
import { broadcastShapes, broadcastStrides, gpuOf, shapeStr, stridesOf } from '../util.ts';
import type { Strided } from './problem.ts';
import { runMatmul } from './table.ts';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * Operand x [..., r, c] as (rows, cols) of op(x) per batch of `batch`: in place when its batch
 * is the full one or a single matrix (stride 0), else a materialised broadcast (owned).
 */
function operand(
  x: Tensor,
  batch: readonly number[],
  trans: boolean,
): { s: Strided; owned: Tensor | null } {
  const [r, c] = x.shape.slice(-2) as [number, number];
  const n = x.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const full = batch.reduce((p, d) => p * d, 1);
  let t = x;
  let owned: Tensor | null = null;
  if (n !== full && n !== 1) {
    const shape = [...batch, r, c];
    owned = Tensor.empty(x.gpu, shape);
    stridedCopy(x, owned, shape, broadcastStrides(x.shape, shape), stridesOf(shape));
    t = owned;
  }
  const batchStride = n === 1 && full > 1 ? 0 : r * c;
  // Element (i, j) of op(x): stored [i, j] -> i*c + j; transposed -> j*c + i.
  const [row, col] = trans ? [1, c] : [c, 1];
  return { s: { t, off: 0, batch: batchStride, row, col }, owned };
}

function matmulRaw(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  if (a.rank < 2 || b.rank < 2) {
    throw new TensorError(
      `matmul needs rank >= 2 operands, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`,
    );
  }
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const M = transA ? ac : ar;
  const Kd = transA ? ar : ac;
  const N = transB ? br : bc;
  if ((transB ? bc : br) !== Kd) {
    throw new TensorError(
      `matmul: inner sizes differ: ${shapeStr(a.shape)}${transA ? '^T' : ''} @ ${shapeStr(b.shape)}${transB ? '^T' : ''}`,
    );
  }
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const nBatch = batch.reduce((q, d) => q * d, 1);
  const gpu = gpuOf(a, b);
  const C = Tensor.empty(gpu, [...batch, M, N]);
  if (C.size === 0) return C;
  if (Kd === 0) {
    gpu.dispatch(K.fill, {}, [C.buffer], { n: C.size, value: 0 }, Math.ceil(C.size / 64));
    return C;
  }
  const A = operand(a, batch, transA);
  const B = operand(b, batch, transB);
  try {
    runMatmul({ batch: nBatch, M, N, K: Kd, a: A.s, b: B.s }, C);
  } catch (e) {
    C.dispose();
    throw e;
  } finally {
    A.owned?.dispose();
    B.owned?.dispose();
  }
  return C;
}

/** op(a) @ op(b) over the last two axes; leading axes broadcast. */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const c = matmulRaw(a, b, transA, transB);
  if (needsGrad([a, b])) {
    const as = save(a);
    const bs = save(b);
    record(
      c,
      [a, b],
      (g) => {
        // dA = g op(B)^T, dB = op(A)^T g, written back in each operand's stored layout.
        const ga = transA
          ? matmul(bs, g, { transA: transB, transB: true })
          : matmul(g, bs, { transB: !transB });
        const gb = transB
          ? matmul(g, as, { transA: true, transB: transA })
          : matmul(as, g, { transA: !transA });
        return [sumTo(ga, as.shape), sumTo(gb, bs.shape)];
      },
      [as, bs],
    );
  }
  return c;
}
