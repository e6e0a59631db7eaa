/**
 * Random tensors from the counter-based Philox 4x32-10 stream (random.wgsl).
 *
 * seed + stream + offset fix every value on every device. With `perRow`, row r (index along
 * axis 0) uses stream `stream + r` (or `rowStreams[r]`), so the noise of image k does not
 * depend on the batch it is generated in. `offset` counts blocks of 4 values: draw the next
 * numbers of a row by advancing it by ceil(rowSize / 4).
 */
import { TensorError } from '../errors.ts';
import { K } from '../kernels.ts';
import { Tensor } from '../tensor.ts';
import { checkStreamPosition, gpuOf, workgroupsFor } from './util.ts';

export interface RandomOptions {
  seed: number;
  stream?: number;
  offset?: number;
  perRow?: boolean;
  rowStreams?: readonly number[];
}

function random(
  shape: readonly number[],
  normal: boolean,
  o: RandomOptions,
  gpu = gpuOf(),
): Tensor {
  checkStreamPosition('random', o);
  const t = Tensor.empty(gpu, shape);
  if (t.size === 0) return t;
  const perRow = o.perRow === true || o.rowStreams !== undefined;
  const rows = perRow ? (shape[0] as number) : 1;
  const cols = t.size / rows;
  const blocks = Math.ceil(cols / 4);
  let streams: Tensor | null = null;
  if (o.rowStreams) {
    if (o.rowStreams.length !== rows)
      throw new TensorError(`random: ${o.rowStreams.length} rowStreams for ${rows} rows`);
    streams = Tensor.empty(gpu, [rows]);
    gpu.upload(streams.buffer, Uint32Array.from(o.rowStreams));
  }
  const seed = BigInt(o.seed);
  const params = {
    rows,
    cols,
    blocks,
    explicit_streams: streams ? 1 : 0,
    seed_lo: Number(seed & 0xffffffffn),
    seed_hi: Number(seed >> 32n),
    stream: o.stream ?? 0,
    offset: o.offset ?? 0,
  };
  gpu.dispatch(
    K.random,
    { NORMAL: normal ? 1 : 0 },
    [t.buffer, streams?.buffer ?? gpu.dummy],
    params,
    workgroupsFor(rows * blocks),
  );
  streams?.dispose();
  return t;
}

/** Uniform in (0, 1). */
export const rand = (shape: readonly number[], options: RandomOptions, gpu?: Tensor['gpu']) =>
  random(shape, false, options, gpu);
/** Standard normal (Box-Muller). */
export const randn = (shape: readonly number[], options: RandomOptions, gpu?: Tensor['gpu']) =>
  random(shape, true, options, gpu);
