/** Moving test data between float64 references and GPU tensors. */
import { type Tensor, tensor } from '@pfgmpp/tensor/node';
import { type NDArray, nd } from '@pfgmpp/tensor/reference';
import { uniformValues } from './rng.ts';

/** The values rounded to f32 (what the GPU stores and what its results are compared to). */
export const f32 = (a: ArrayLike<number>): Float32Array => Float32Array.from(a);

/** A GPU tensor with the values and shape of a reference array. */
export const toGpu = (x: NDArray): Tensor => tensor(f32(x.data), x.shape);

/** A reference array of `shape` with seeded values uniform in [lo, hi), exact in f32. */
export function randomNd(shape: readonly number[], seed: number, lo = -1, hi = 1): NDArray {
  return nd(
    shape,
    uniformValues(
      shape.reduce((p, d) => p * d, 1),
      lo,
      hi,
      seed,
    ),
  );
}
