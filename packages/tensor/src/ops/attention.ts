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
import { matmul } from './matmul.ts';
import { gpuOf, shapeStr, uniformBlock, workgroupsFor } from './util.ts';

/** Column geometry of a [B, Lk, Lq] score tensor: vec4 columns when Lq is a multiple of 4. */
function columns(t: Tensor, scale: number) {
  const [B, Lk, Lq] = t.shape as [number, number, number];
  const vec4 = Lq % 4 === 0;
  const inner = vec4 ? Lq / 4 : Lq;
  return {
    vec4,
    params: uniformBlock([B, Lk, inner, { f: scale }]),
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
