/** The public face of autograd: backward() with the ops it needs. */
import { runBackward } from '../autograd.ts';
import type { Tensor } from '../tensor.ts';
import { add } from './elementwise.ts';
import { onesLike } from './create.ts';

/**
 * Computes d(loss)/d(leaf) for every leaf with requireGrad(), accumulating into `.grad`.
 * `gradOutput` is required when `loss` has more than one element.
 */
export function backward(loss: Tensor, gradOutput?: Tensor): void {
  if (!gradOutput && loss.size !== 1) {
    throw new Error(
      `backward(): loss has shape [${loss.shape.join(', ')}]; pass gradOutput or reduce it to one value`,
    );
  }
  runBackward(loss, gradOutput, onesLike, add);
}
