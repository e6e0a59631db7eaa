/**
 * Dropout (torch.nn.functional.dropout, training mode) on the Philox stream of `rand`: the
 * same seed/stream/offset give the same mask on every device and in the CPU reference
 * (dropoutRef). Element i is kept iff u_i > p, where u = rand(x.shape, options) (uniform in
 * (0, 1)), so it is dropped with probability p (to 2^-24); kept values are scaled by
 * 1 / (1 - p). Dropped NaN/Inf give NaN (x * 0), as torch.
 *
 * One fused pass (dropout.wgsl draws the uniforms inline): the composite rand, affine + step,
 * mul, affine took 47.5 ms on 16x128x32x32 on lavapipe against 15.9 ms for rand alone; see
 * the registry row. The backward is the same kernel on the gradient (same mask and scale), so
 * nothing is saved. p = 0 returns a view of x; p = 1 gives x * 0.
 */
import { needsGrad, record } from '../autograd.ts';
import { TensorError } from '../errors.ts';
import { K } from '../kernels.ts';
import { Tensor } from '../tensor.ts';
import { affine } from './elementwise.ts';
import { reshape } from './layout.ts';
import { checkStreamPosition, gpuOf, workgroupsFor } from './util.ts';

export interface DropoutOptions {
  seed: number;
  stream?: number;
  /** First Philox block (4 values each), as for rand. */
  offset?: number;
}

function dropoutRaw(x: Tensor, p: number, o: DropoutOptions): Tensor {
  const gpu = gpuOf(x);
  const y = Tensor.empty(gpu, x.shape);
  if (x.size === 0) return y;
  const blocks = Math.ceil(x.size / 4);
  const seed = BigInt(o.seed);
  const params = {
    n: x.size,
    blocks,
    seed_lo: Number(seed & 0xffffffffn),
    seed_hi: Number(seed >> 32n),
    stream: o.stream ?? 0,
    offset: o.offset ?? 0,
    threshold: p,
    scale: 1 / (1 - p),
  };
  const vec4 = x.size % 4 === 0;
  gpu.dispatch(
    vec4 ? K.dropout4 : K.dropout,
    {},
    [x.buffer, y.buffer],
    params,
    workgroupsFor(blocks),
  );
  return y;
}

export function dropout(x: Tensor, p: number, options: DropoutOptions): Tensor {
  if (!(p >= 0 && p <= 1)) throw new TensorError(`dropout: p must be in [0, 1], got ${p}`);
  checkStreamPosition('dropout', options);
  if (p === 0) return reshape(x, x.shape);
  if (p === 1) return affine(x, 0, 0);
  // A copy: the backward must redraw this mask even if the caller advances its options object.
  const o = { seed: options.seed, stream: options.stream ?? 0, offset: options.offset ?? 0 };
  const y = dropoutRaw(x, p, o);
  if (needsGrad([x])) record(y, [x], (g) => [dropoutRaw(g, p, o)]);
  return y;
}
