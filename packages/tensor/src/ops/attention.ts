/**
 * Attention as in EDM's UNetBlock (SPEC 5.2): q, k, v [B, C, L] with B = batch * heads and
 * C = channels per head, L = H * W tokens.
 *
 *   w = softmax_j(q^T k / sqrt(C))    [B, Lq, Lk]   (einsum 'ncq,nck->nqk' with k / sqrt(C))
 *   out = v w^T                       [B, C, Lq]    (einsum 'nqk,nck->ncq')
 *
 * The scores are formed transposed, sT = k^T q [B, Lk, Lq] (matmul reads k transposed in
 * place), so that one fused kernel (attention_softmax.wgsl) scales them and takes the softmax
 * down each column with adjacent loads, and writes wT, which is already the [K, N] operand of
 * out = v wT. Against the composite (scale k, matmul transA, softmax, matmul transB) this
 * removes 6 passes over the B*L*L scores (max, sub, exp, sum, div, and matmul's transposing
 * copy of w) and the scale of k. On lavapipe at [16, 256, 256]: forward 116 vs 128 ms,
 * forward + backward 304 vs 508 ms; at [16, 64, 64] forward 3.3 vs 7.0 ms (more shapes in the
 * registry row). Backward: matmul's own, and attention_softmax_bwd.wgsl for the softmax.
 */
import { needsGrad, record, save } from '../autograd.ts';
import { TensorError } from '../errors.ts';
import { K } from '../kernels.ts';
import { Tensor } from '../tensor.ts';
import { reshape, slice, stridedCopy } from './layout.ts';
import { matmul } from './matmul/index.ts';
import type { Strided } from './matmul/problem.ts';
import { runMatmul } from './matmul/table.ts';
import { gpuOf, shapeStr, workgroupsFor } from './util.ts';

/** Column geometry of a [B, Lk, Lq] score tensor: vec4 columns when Lq is a multiple of 4. */
function columns(t: Tensor, scale: number) {
  const [B, Lk, Lq] = t.shape as [number, number, number];
  const vec4 = Lq % 4 === 0;
  const inner = vec4 ? Lq / 4 : Lq;
  return {
    vec4,
    params: { outer: B, k: Lk, inner, scale },
    groups: workgroupsFor(B * inner),
  };
}

/** dsT = scale * wT * (gT - sum_j gT wT), per column; no autograd (first-order backward). */
function columnSoftmaxBackward(w: Tensor, g: Tensor, scale: number): Tensor {
  const gpu = gpuOf(w, g);
  const ds = Tensor.empty(gpu, w.shape);
  const c = columns(w, scale);
  gpu.dispatch(
    c.vec4 ? K.attnSoftmaxBwd4 : K.attnSoftmaxBwd,
    {},
    [w.buffer, g.buffer, ds.buffer],
    c.params,
    c.groups,
  );
  return ds;
}

/** wT[b, :, i] = softmax(scale * sT[b, :, i]) for sT [B, Lk, Lq] (softmax over axis 1). */
function columnSoftmax(s: Tensor, scale: number): Tensor {
  const gpu = gpuOf(s);
  const w = Tensor.empty(gpu, s.shape);
  const c = columns(s, scale);
  gpu.dispatch(
    c.vec4 ? K.attnSoftmax4 : K.attnSoftmax,
    {},
    [s.buffer, w.buffer],
    c.params,
    c.groups,
  );
  if (needsGrad([s])) {
    const ws = save(w);
    record(w, [s], (g) => [columnSoftmaxBackward(ws, g, scale)], [ws]);
  }
  return w;
}

export function attention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const all = `${shapeStr(q.shape)}, ${shapeStr(k.shape)}, ${shapeStr(v.shape)}`;
  if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3)
    throw new TensorError(`attention: q, k, v must be [B, C, L], got ${all}`);
  const [B, C, Lq] = q.shape as [number, number, number];
  if (k.shape[0] !== B || k.shape[1] !== C || v.shape[0] !== B || v.shape[1] !== C)
    throw new TensorError(`attention: q, k, v need the same B and C, got ${all}`);
  if (k.shape[2] !== v.shape[2])
    throw new TensorError(`attention: k and v need the same length, got ${all}`);
  if (B * C * Lq * (k.shape[2] as number) === 0)
    throw new TensorError(`attention: empty inputs ${all}`);
  const sT = matmul(k, q, { transA: true }); // [B, Lk, Lq]
  // EDM divides k by sqrt(C) before the product; the kernel scales the f32 scores instead.
  const wT = columnSoftmax(sT, 1 / Math.sqrt(C));
  sT.dispose();
  const out = matmul(v, wT); // [B, C, Lk] @ [B, Lk, Lq] -> [B, C, Lq]
  wT.dispose();
  return out;
}

/**
 * attention(q, k, v) on EDM's interleaved qkv [B, C, 3, L] (channel 3c + j of the qkv
 * convolution is q, k, v for j = 0, 1, 2, per head: B = batch * heads, C = channels per head),
 * reading q, k and v in place instead of copying them out, and writing their gradients
 * straight into one [B, C, 3, L] gradient (no zero fills, pads and sums of three slices).
 * Needs C and L multiples of 4 (the matmul's vec4 columns); otherwise it slices and calls
 * attention(). Same arithmetic as attention() on the slices.
 */
export function attentionQKV(qkv: Tensor): Tensor {
  if (qkv.rank !== 4 || qkv.shape[2] !== 3) {
    throw new TensorError(`attentionQKV: qkv must be [B, C, 3, L], got ${shapeStr(qkv.shape)}`);
  }
  const [B, C, , L] = qkv.shape as [number, number, number, number];
  if (B * C * L === 0) throw new TensorError(`attentionQKV: empty input ${shapeStr(qkv.shape)}`);
  if (C % 4 !== 0 || L % 4 !== 0) {
    const part = (j: number) => {
      const s = slice(qkv, [0, 0, j, 0], [B, C, 1, L]);
      return reshape(s, [B, C, L]);
    };
    return attention(part(0), part(1), part(2));
  }
  const gpu = qkv.gpu;
  const batch = 3 * C * L; // one head's q, k, v
  // Slot j (q, k, v) of t [B, C, 3, L] as a matmul A operand: element (c, l) at j*L + c*3L + l,
  // read as [C, L] or, transposed, as [L, C].
  const slot = (t: Tensor, j: number, transposed: boolean): Strided => ({
    t,
    off: j * L,
    batch,
    row: transposed ? 1 : 3 * L,
    col: transposed ? 3 * L : 1,
  });
  // A dense [B, rows, n] tensor as an operand.
  const dense = (t: Tensor, n: number): Strided => ({
    t,
    off: 0,
    batch: t.size / B,
    row: n,
    col: 1,
  });
  // C [B, M, N] = A B over K.
  const mm = (a: Strided, b: Strided, c: Tensor, M: number, K: number, N: number) =>
    runMatmul({ batch: B, M, N, K, a, b }, c);
  // sT = k^T q [B, Lk, Lq]: A = k^T read in place, B = q rows (stride 3L).
  const sT = Tensor.empty(gpu, [B, L, L]);
  mm(slot(qkv, 1, true), { t: qkv, off: 0, batch, row: 3 * L, col: 1 }, sT, L, C, L);
  const scale = 1 / Math.sqrt(C);
  const wT = columnSoftmax(sT, scale); // sT is raw: nothing recorded
  sT.dispose();
  // out = v wT [B, C, Lq]: A = v rows in place.
  const out = Tensor.empty(gpu, [B, C, L]);
  mm(slot(qkv, 2, false), dense(wT, L), out, C, L, L);
  if (!needsGrad([qkv])) {
    wT.dispose();
    return out;
  }
  const qs = save(qkv);
  const ws = save(wT);
  wT.dispose();
  record(
    out,
    [qkv],
    (g) => {
      // dwT = v^T g [B, Lk, Lq]; dsT through the softmax.
      const dwT = Tensor.empty(gpu, [B, L, L]);
      mm(slot(qs, 2, true), dense(g, L), dwT, L, C, L);
      const dsT = columnSoftmaxBackward(ws, dwT, scale);
      dwT.dispose();
      // Transposed copies of g and q [B, L, C] (the B operands of dv^T and dk^T).
      const gT = Tensor.empty(gpu, [B, L, C]);
      stridedCopy(g, gT, [B, L, C], [C * L, 1, L], [L * C, C, 1]);
      const qT = Tensor.empty(gpu, [B, L, C]);
      stridedCopy(qs, qT, [B, L, C], [batch, 1, 3 * L], [L * C, C, 1]);
      // dv^T = wT g^T, dk^T = dsT q^T [B, Lk, C]; dq = k dsT [B, C, Lq].
      const dvT = Tensor.empty(gpu, [B, L, C]);
      mm(dense(ws, L), dense(gT, C), dvT, L, L, C);
      const dkT = Tensor.empty(gpu, [B, L, C]);
      mm(dense(dsT, L), dense(qT, C), dkT, L, L, C);
      const dq = Tensor.empty(gpu, [B, C, L]);
      mm(slot(qs, 1, false), dense(dsT, L), dq, C, L, L);
      for (const t of [dsT, gT, qT]) t.dispose();
      // Into [B, C, 3, L]: every element is written by exactly one of the three copies.
      const dqkv = Tensor.empty(gpu, [B, C, 3, L]);
      stridedCopy(dq, dqkv, [B, C, L], [C * L, L, 1], [batch, 3 * L, 1], 0, 0);
      stridedCopy(dkT, dqkv, [B, C, L], [L * C, 1, C], [batch, 3 * L, 1], 0, L);
      stridedCopy(dvT, dqkv, [B, C, L], [L * C, 1, C], [batch, 3 * L, 1], 0, 2 * L);
      for (const t of [dq, dkT, dvT]) t.dispose();
      return [dqkv];
    },
    [qs, ws],
  );
  return out;
}
