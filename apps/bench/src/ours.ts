/** Timings of our kernels: warm-up (pipeline creation), then `iters` runs, then a GPU sync. */
import { type Gpu, matmul, randn, scope, type Tensor } from '@pfgmpp/tensor/node';

export interface TimingOpts {
  iters?: number;
  warmup?: number;
}

/** Seconds per run of `op` (which enqueues GPU work and returns tensors to free). */
export async function timeOp(
  gpu: Gpu,
  op: () => Tensor | Tensor[],
  opts: TimingOpts,
): Promise<number> {
  const run = () => scope(() => void op());
  for (let i = 0; i < (opts.warmup ?? 2); i++) run();
  await gpu.sync();
  const iters = opts.iters ?? 5;
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) run();
  await gpu.sync();
  return (performance.now() - t0) / 1000 / iters;
}

export interface MatmulCase extends TimingOpts {
  batch: number;
  m: number;
  k: number;
  n: number;
}

export async function oursMatmulGflops(gpu: Gpu, c: MatmulCase): Promise<number> {
  const shapeA = c.batch > 1 ? [c.batch, c.m, c.k] : [c.m, c.k];
  const shapeB = c.batch > 1 ? [c.batch, c.k, c.n] : [c.k, c.n];
  const a = randn(shapeA, { seed: 1 });
  const b = randn(shapeB, { seed: 2 });
  const seconds = await timeOp(gpu, () => matmul(a, b), c);
  a.dispose();
  b.dispose();
  return (2 * c.batch * c.m * c.n * c.k) / seconds / 1e9;
}
