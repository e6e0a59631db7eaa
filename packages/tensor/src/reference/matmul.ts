/** CPU reference for batched matmul with optional transposes and batch broadcasting. */
import { broadcastShapes, type NDArray, stridesOf } from './ndarray.ts';

export function matmulRef(a: NDArray, b: NDArray, transA = false, transB = false): NDArray {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [ar, ac] = [a.shape[ra - 2] as number, a.shape[ra - 1] as number];
  const [br, bc] = [b.shape[rb - 2] as number, b.shape[rb - 1] as number];
  const M = transA ? ac : ar;
  const K = transA ? ar : ac;
  const N = transB ? br : bc;
  if ((transB ? bc : br) !== K) throw new Error('matmulRef: inner sizes differ');
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const nb = batch.reduce((p, d) => p * d, 1);
  const offsetIn = (shape: readonly number[], bi: number) => {
    const bs = shape.slice(0, -2);
    const padded = [...Array(batch.length - bs.length).fill(1), ...bs];
    const st = stridesOf(padded);
    const outSt = stridesOf(batch);
    let off = 0;
    for (let d = 0; d < batch.length; d++) {
      const coord = Math.floor(bi / (outSt[d] as number)) % (batch[d] as number);
      if (padded[d] !== 1) off += coord * (st[d] as number);
    }
    return off * (shape[shape.length - 2] as number) * (shape[shape.length - 1] as number);
  };
  const out = new Float64Array(nb * M * N);
  for (let bi = 0; bi < nb; bi++) {
    const oa = offsetIn(a.shape, bi);
    const ob = offsetIn(b.shape, bi);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const va = a.data[oa + (transA ? k * ac + m : m * ac + k)] as number;
          const vb = b.data[ob + (transB ? n * bc + k : k * bc + n)] as number;
          s += va * vb;
        }
        out[(bi * M + m) * N + n] = s;
      }
    }
  }
  return { shape: [...batch, M, N], data: out };
}
