/**
 * In-place optimiser updates (adam.wgsl, ema.wgsl): one dispatch per parameter tensor, all in the open
 * batch. They overwrite their tensors' storage, so call them outside recorded graphs (after
 * `backward()`, under `noGrad`), as optimisers do.
 */
import { TensorError } from '../errors.ts';
import { K } from '../kernels.ts';
import type { Tensor } from '../tensor.ts';
import { gpuOf, sameShape, shapeStr, workgroupsFor } from './util.ts';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** 1-based step number (bias correction). */
  step: number;
  /** Replace NaN by 0 and +-inf by +-1e5 in the gradient first (EDM's training loop). */
  sanitize?: boolean;
}

/** Same shapes, and distinct storage: a buffer cannot be bound writable and readable at once. */
function sameShapes(name: string, ts: readonly Tensor[]): void {
  const first = ts[0] as Tensor;
  for (const t of ts) {
    if (!sameShape(t.shape, first.shape)) {
      throw new TensorError(
        `${name}: shapes differ: ${ts.map((x) => shapeStr(x.shape)).join(', ')}`,
      );
    }
  }
  if (new Set(ts.map((t) => t.buffer)).size !== ts.length) {
    throw new TensorError(`${name}: the tensors must not share storage`);
  }
}

/** One Adam step: updates `param`, `m` and `v` in place from `grad` (PyTorch's formula). */
export function adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, o: AdamOptions): void {
  sameShapes('adamStep', [param, grad, m, v]);
  if (!Number.isInteger(o.step) || o.step < 1)
    throw new TensorError(`adamStep: step must be an integer >= 1, got ${o.step}`);
  const beta1 = o.beta1 ?? 0.9;
  const beta2 = o.beta2 ?? 0.999;
  const gpu = gpuOf(param, grad, m, v);
  const params = {
    n: param.size,
    sanitize: o.sanitize ? 1 : 0,
    lr: o.lr,
    beta1,
    beta2,
    eps: o.eps ?? 1e-8,
    bc1: 1 - beta1 ** o.step,
    sqrt_bc2: Math.sqrt(1 - beta2 ** o.step),
    one_minus_beta1: 1 - beta1,
    one_minus_beta2: 1 - beta2,
  };
  gpu.dispatch(
    K.adam,
    {},
    [param.buffer, grad.buffer, m.buffer, v.buffer],
    params,
    workgroupsFor(param.size),
  );
}

/** ema <- param + beta * (ema - param), in place (EDM's EMA update with beta = ema_beta). */
export function emaUpdate(ema: Tensor, param: Tensor, beta: number): void {
  sameShapes('emaUpdate', [ema, param]);
  const gpu = gpuOf(ema, param);
  gpu.dispatch(
    K.ema,
    {},
    [ema.buffer, param.buffer],
    { n: ema.size, beta },
    workgroupsFor(ema.size),
  );
}
