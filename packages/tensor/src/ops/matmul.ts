/**
 * Batched matmul with either operand transposed (matmul.wgsl).
 *
 * The kernel reads A through strides (any layout, in place) and B as [batch, K, N] with N a
 * multiple of 4. A B stored transposed, or with N not a multiple of 4, is copied once by the
 * strided-copy kernel (O(KN) next to O(MNK)); a padded result is cropped. Batch axes broadcast
 * as NumPy's matmul does.
 */
import { needsGrad, record, save } from '../autograd.ts';
import { TensorError } from '../errors.ts';
import { K } from '../kernels.ts';
import { Tensor } from '../tensor.ts';
import { stridedCopy } from './layout.ts';
import { sumTo } from './reduce.ts';
import { broadcastShapes, broadcastStrides, gpuOf, shapeStr, stridesOf } from './util.ts';

/** Rows of C per workgroup, and columns per invocation (N is padded to a multiple). */
const ROWS = 16;
const COLS = 4;
const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * Brings an operand [..., r, c] into the kernel layout [batch, K, P] (P = padded M or N).
 * `kMajor` says the stored operand already has K as its second-to-last axis.
 */
function toKernelLayout(
  x: Tensor,
  batch: readonly number[],
  kMajor: boolean,
  k: number,
  p: number,
  pPadded: number,
): { t: Tensor; batchStride: number; owned: boolean } {
  const xBatch = x.shape.slice(0, -2);
  const nBatch = xBatch.reduce((q, d) => q * d, 1);
  const fullBatch = batch.reduce((q, d) => q * d, 1);
  const plainBatch = nBatch === fullBatch || nBatch === 1;
  if (kMajor && p === pPadded && plainBatch) {
    return { t: x, batchStride: nBatch === 1 && fullBatch > 1 ? 0 : k * p, owned: false };
  }
  // Copy into [fullBatch or 1, K, pPadded]; padded columns are never read back into results.
  const outBatch = nBatch === 1 ? 1 : fullBatch;
  const t = Tensor.empty(x.gpu, [outBatch, k, pPadded]);
  const batchStrides =
    nBatch === 1 ? batch.map(() => 0) : broadcastStrides(xBatch, batch).map((s) => s * k * p);
  const boxBatch = nBatch === 1 ? [] : [...batch];
  const rowStride = x.shape[x.rank - 1] as number;
  // Source strides for (k, p) index: kMajor -> x[k, p]; else x[p, k].
  const srcKP = kMajor ? [rowStride, 1] : [1, rowStride];
  const box = [...boxBatch, k, p];
  const dstStrides = [...stridesOf(boxBatch).map((s) => s * k * pPadded), pPadded, 1];
  stridedCopy(x, t, box, [...(nBatch === 1 ? [] : batchStrides), ...srcKP], dstStrides);
  return { t, batchStride: outBatch === 1 && fullBatch > 1 ? 0 : k * pPadded, owned: true };
}

/** A read in place: element (m, k) of batch t at off + t * batch + m * row + k * col. */
export interface MatmulA {
  t: Tensor;
  off: number;
  batch: number;
  row: number;
  col: number;
}

/** B read in place, N contiguous: the vec4 of row k of batch t at off4 + t * batch4 + k * row4. */
export interface MatmulB {
  t: Tensor;
  off4: number;
  batch4: number;
  row4: number;
}

/** C [nBatch, M, Np] (dense) = A B over Kd, Np a multiple of 4; no autograd, Kd > 0. */
export function dispatchMatmul(
  A: MatmulA,
  B: MatmulB,
  C: Tensor,
  nBatch: number,
  M: number,
  Kd: number,
  Np: number,
): void {
  const gpu = C.gpu;
  const tilesM = Math.ceil(M / ROWS);
  // Lanes per workgroup: enough for the vec4 columns, 8..64.
  const lanes = Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(Np / COLS))));
  const colGroups = Math.ceil(Np / COLS / lanes);
  const sg = gpu.hasSubgroupsOf(8);
  const work = sg ? gpu.workCounter() : null;
  const params = {
    m: M,
    n4: Np / 4,
    k: Kd,
    tiles_m: tilesM,
    col_groups: colGroups,
    batches: nBatch,
    a_batch: A.batch,
    b_batch4: B.batch4,
    c_batch4: (M * Np) / 4,
    a_row: A.row,
    a_col: A.col,
    b_row4: B.row4,
    a_off: A.off,
    b_off4: B.off4,
  };
  const workgroups = nBatch * tilesM * colGroups;
  const buffers = [A.t.buffer, B.t.buffer, C.buffer];
  if (work) {
    const spec = { ...K.matmulSg, workgroupSize: lanes };
    gpu.dispatch(spec, {}, [...buffers, work.buffer], { ...params, slot: work.slot }, workgroups);
  } else {
    gpu.dispatch({ ...K.matmul, workgroupSize: lanes }, {}, buffers, params, workgroups);
  }
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
  // A in place unless its batch broadcasts partially (then materialise the broadcast).
  const nA = a.shape.slice(0, -2).reduce((q, d) => q * d, 1);
  let A = a;
  if (nA !== nBatch && nA !== 1) {
    A = Tensor.empty(gpu, [...batch, ar, ac]);
    const full = [...batch, ar, ac];
    stridedCopy(a, A, full, broadcastStrides(a.shape, full), stridesOf(full));
  }
  const aBatchStride = nA === 1 && nBatch > 1 ? 0 : ar * ac;
  // Element (m, k) of op(A): stored [M, K] -> m * ac + k; stored [K, M] -> k * ac + m.
  const [aRow, aCol] = transA ? [1, ac] : [ac, 1];
  const Np = roundUp(Math.max(N, 1), COLS);
  const B = toKernelLayout(b, batch, !transB, Kd, N, Np);
  const direct = Np === N;
  const C = Tensor.empty(gpu, direct ? [...batch, M, N] : [nBatch, M, Np]);
  if (Kd === 0) {
    gpu.dispatch(K.fill, {}, [C.buffer], { n: C.size, value: 0 }, Math.ceil(C.size / 64));
  } else if (M > 0 && N > 0) {
    dispatchMatmul(
      { t: A, off: 0, batch: aBatchStride, row: aRow, col: aCol },
      { t: B.t, off4: 0, batch4: B.batchStride / 4, row4: Np / 4 },
      C,
      nBatch,
      M,
      Kd,
      Np,
    );
  }
  if (A !== a) A.dispose();
  if (B.owned) B.t.dispose();
  if (direct) return C;
  const out = Tensor.empty(gpu, [...batch, M, N]);
  stridedCopy(C, out, [nBatch, M, N], [M * Np, Np, 1], [M * N, N, 1]);
  C.dispose();
  return out;
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
