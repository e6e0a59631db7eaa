/**
 * CPU references (float64) for attention as EDM's UNetBlock computes it, and for dropout.
 */
import type { NDArray } from './ndarray.ts';
import { randomRef, type RandomRefOptions } from './random.ts';

/**
 * q, k, v [B, C, L] (k and v share Lk; q has Lq). w[b, i, j] = softmax_j(sum_c q[b, c, i]
 * k[b, c, j] / sqrt(C)); out[b, c, i] = sum_j w[b, i, j] v[b, c, j] -> [B, C, Lq].
 */
export function attentionRef(q: NDArray, k: NDArray, v: NDArray): NDArray {
  const [B, C, Lq] = q.shape as [number, number, number];
  const Lk = k.shape[2] as number;
  const scale = 1 / Math.sqrt(C);
  const out = new Float64Array(B * C * Lq);
  const w = new Float64Array(Lk);
  for (let b = 0; b < B; b++) {
    const qo = b * C * Lq;
    const ko = b * C * Lk;
    for (let i = 0; i < Lq; i++) {
      let m = -Infinity;
      for (let j = 0; j < Lk; j++) {
        let s = 0;
        for (let c = 0; c < C; c++)
          s += (q.data[qo + c * Lq + i] as number) * (k.data[ko + c * Lk + j] as number);
        w[j] = s * scale;
        m = Math.max(m, w[j] as number);
      }
      let z = 0;
      for (let j = 0; j < Lk; j++) {
        w[j] = Math.exp((w[j] as number) - m);
        z += w[j] as number;
      }
      for (let c = 0; c < C; c++) {
        let a = 0;
        for (let j = 0; j < Lk; j++) a += (w[j] as number) * (v.data[ko + c * Lk + j] as number);
        out[qo + c * Lq + i] = a / z;
      }
    }
  }
  return { shape: [B, C, Lq], data: out };
}

/**
 * torch.nn.functional.dropout in training mode with the Philox stream of `rand`: element i is
 * kept iff u_i > f32(p), where u = randomRef(x.shape, uniform, o), and kept values are scaled
 * by 1 / (1 - p). p = 1 drops everything (x * 0).
 */
export function dropoutRef(x: NDArray, p: number, o: RandomRefOptions): NDArray {
  if (p === 0) return { shape: [...x.shape], data: Float64Array.from(x.data) };
  const u = randomRef(x.shape, false, o);
  const pf = Math.fround(p);
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const data = new Float64Array(x.data.length);
  for (let i = 0; i < data.length; i++)
    data[i] = (x.data[i] as number) * ((u[i] as number) > pf ? scale : 0);
  return { shape: [...x.shape], data };
}
