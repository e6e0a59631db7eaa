/** Tensors from CPU data and constants. */
import { TensorError } from '../errors.ts';
import { checkShape, sizeOf, Tensor } from '../tensor.ts';
import { full } from './elementwise.ts';
import { gpuOf, shapeStr } from './util.ts';

export { full };

/** A tensor with the given values (f32); `shape` defaults to [values.length]. */
export function tensor(
  values: ArrayLike<number>,
  shape: readonly number[] = [values.length],
  gpu = gpuOf(),
): Tensor {
  checkShape(shape);
  if (sizeOf(shape) !== values.length) {
    throw new TensorError(`tensor: ${values.length} values do not fill shape ${shapeStr(shape)}`);
  }
  const t = Tensor.empty(gpu, shape);
  const data = Float32Array.from(values);
  if (data.length > 0) gpu.upload(t.buffer, data);
  return t;
}

export const zeros = (shape: readonly number[], gpu = gpuOf()) => full(shape, 0, gpu);
export const ones = (shape: readonly number[], gpu = gpuOf()) => full(shape, 1, gpu);
export const zerosLike = (t: Tensor) => full(t.shape, 0, t.gpu);
export const onesLike = (t: Tensor) => full(t.shape, 1, t.gpu);
