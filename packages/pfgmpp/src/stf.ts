/**
 * Stable Target Field targets (SPEC 3.5): the posterior mean of the clean image given the noisy
 * one, estimated over a large reference batch x_1..x_M instead of the single clean image.
 *
 * - Diffusion: w_ij = softmax_j(-|x~_i - x_j|^2 / (2 sigma_i^2)).
 * - PFGM++: lift x~_i to (x~_i, r_i) and x_j to (x_j, 0) in R^{N+1}; d_ij = their distance;
 *   w_ij ∝ (min_k d_ik / (d_ij + 1e-7))^(N+D), normalised by (sum_j w_ij + 1e-7).
 * target_i = sum_j w_ij x_j.
 *
 * The GPU version takes |a - b|^2 = |a|^2 + |b|^2 - 2 a.b through one matmul (float32); the
 * official code works in float64. The weights are formed in log space (exact at the nearest
 * reference); use `stfTargetsRef` where float64 matters.
 */
import {
  add,
  affine,
  div,
  exp,
  log,
  matmul,
  maximum,
  min,
  mul,
  reshape,
  softmax,
  sqrt,
  sub,
  sum,
  type Tensor,
} from '@pfgmpp/tensor';
import { checkD } from './kernel.ts';

/** Targets [B, ...] for noisy x~ [B, ...], sigma [B, 1, 1, 1] and reference [M, ...] (GPU). */
export function stfTargets(noisy: Tensor, sigma: Tensor, reference: Tensor, D: number): Tensor {
  checkD(D, 'stfTargets');
  const B = noisy.shape[0] as number;
  const M = reference.shape[0] as number;
  const N = noisy.size / B;
  if (reference.size / M !== N)
    throw new RangeError(
      `stfTargets: reference rows have ${reference.size / M} values, noisy rows ${N}`,
    );
  const x = reshape(noisy, [B, N]);
  const ref = reshape(reference, [M, N]);
  const s = reshape(sigma, [B, 1]);
  const xx = sum(mul(x, x), 1, true);
  const rr = reshape(sum(mul(ref, ref), 1), [1, M]);
  const d2 = maximum(sub(add(xx, rr), mul(matmul(x, ref, { transB: true }), 2)), 0);
  let w: Tensor;
  if (!Number.isFinite(D)) {
    w = softmax(div(d2, mul(mul(s, s), -2)), 1);
  } else {
    const d = sqrt(add(d2, mul(mul(s, s), D)));
    const logW = mul(sub(log(min(d, 1, true)), log(affine(d, 1, 1e-7))), N + D);
    const e = exp(logW);
    w = div(e, affine(sum(e, 1, true), 1, 1e-7));
  }
  return reshape(matmul(w, ref), noisy.shape);
}

/** float64 reference of `stfTargets` (plain loops): noisy [B*N], sigma [B], reference [M*N]. */
export function stfTargetsRef(
  noisy: Float64Array,
  sigma: Float64Array,
  reference: Float64Array,
  N: number,
  D: number,
): Float64Array {
  checkD(D, 'stfTargetsRef');
  const B = sigma.length;
  const M = reference.length / N;
  const out = new Float64Array(B * N);
  for (let i = 0; i < B; i++) {
    const s = sigma[i] as number;
    const d2 = new Float64Array(M);
    for (let j = 0; j < M; j++) {
      let acc = 0;
      for (let k = 0; k < N; k++)
        acc += ((noisy[i * N + k] as number) - (reference[j * N + k] as number)) ** 2;
      d2[j] = acc;
    }
    const w = new Float64Array(M);
    if (!Number.isFinite(D)) {
      const logits = d2.map((v) => -v / (2 * s * s));
      const top = Math.max(...logits);
      let z = 0;
      logits.forEach((l, j) => {
        w[j] = Math.exp(l - top);
        z += w[j] as number;
      });
      for (let j = 0; j < M; j++) w[j] = (w[j] as number) / z;
    } else {
      const d = d2.map((v) => Math.sqrt(v + s * s * D));
      const dMin = Math.min(...d);
      let z = 0;
      d.forEach((dj, j) => {
        w[j] = (dMin / (dj + 1e-7)) ** (N + D);
        z += w[j] as number;
      });
      for (let j = 0; j < M; j++) w[j] = (w[j] as number) / (z + 1e-7);
    }
    for (let j = 0; j < M; j++)
      for (let k = 0; k < N; k++)
        out[i * N + k] =
          (out[i * N + k] as number) + (w[j] as number) * (reference[j * N + k] as number);
  }
  return out;
}
