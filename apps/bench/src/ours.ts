/** Timings of our kernels: warm-up (pipeline creation), then `iters` runs, then a GPU sync. */
import {
  attention,
  backward,
  conv2d,
  type Gpu,
  groupNorm,
  matmul,
  randn,
  scope,
  type Tensor,
} from '@pfgmpp/tensor/node';

export interface TimingOpts {
  iters?: number;
  warmup?: number;
}

/**
 * Seconds per run of `op` (which enqueues GPU work and returns tensors to free), with the kernel
 * rows tuned for its shapes first (Gpu.tuneKernels; cached per adapter).
 */
export async function timeOp(
  gpu: Gpu,
  op: () => Tensor | Tensor[],
  opts: TimingOpts,
): Promise<number> {
  const run = () => scope(() => void op());
  await gpu.tuneKernels(run);
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

export interface Conv2dCase extends TimingOpts {
  batch: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  /** Square kernel size; stride 1, padding (k-1)/2 ('same'). */
  k: number;
}

/** FLOPs of one conv (forward, or either gradient): 2 * batch * cout * h * w * cin * k * k. */
const convFlops = (c: Conv2dCase) => 2 * c.batch * c.cout * c.h * c.w * c.cin * c.k * c.k;

/** GFLOP/s of conv2d's forward pass (NCHW, no bias). */
export async function oursConv2dGflops(gpu: Gpu, c: Conv2dCase): Promise<number> {
  const x = randn([c.batch, c.cin, c.h, c.w], { seed: 1 });
  const w = randn([c.cout, c.cin, c.k, c.k], { seed: 2 });
  const padding = (c.k - 1) / 2;
  const seconds = await timeOp(gpu, () => conv2d(x, w, null, { padding }), c);
  x.dispose();
  w.dispose();
  return convFlops(c) / seconds / 1e9;
}

/**
 * GFLOP/s of conv2d's backward pass: the input and weight gradients for a given output
 * gradient (two convs' worth of FLOPs). The forward pass runs before each timed backward and
 * is not timed; each run ends with a GPU sync.
 */
export async function oursConv2dBackwardGflops(gpu: Gpu, c: Conv2dCase): Promise<number> {
  const x = randn([c.batch, c.cin, c.h, c.w], { seed: 1 }).requireGrad();
  const w = randn([c.cout, c.cin, c.k, c.k], { seed: 2 }).requireGrad();
  const g = randn([c.batch, c.cout, c.h, c.w], { seed: 3 });
  const padding = (c.k - 1) / 2;
  let seconds = 0;
  const warmup = c.warmup ?? 1;
  const iters = c.iters ?? 3;
  for (let i = 0; i < warmup + iters; i++) {
    const y = conv2d(x, w, null, { padding });
    await gpu.sync();
    const t0 = performance.now();
    backward(y, g);
    await gpu.sync();
    if (i >= warmup) seconds += (performance.now() - t0) / 1000;
    for (const t of [y, x.grad, w.grad]) t?.dispose();
    x.grad = null;
    w.grad = null;
  }
  for (const t of [x, w, g]) t.dispose();
  return (2 * convFlops(c) * iters) / seconds / 1e9;
}

export interface GroupNormCase extends TimingOpts {
  batch: number;
  channels: number;
  h: number;
  w: number;
  groups: number;
}

/**
 * Effective GB/s of GroupNorm + SiLU forward: the tensor read once and written once
 * (2 * batch*channels*h*w * 4 bytes) per run, whatever the passes really move.
 */
export async function oursGroupNormGBs(gpu: Gpu, c: GroupNormCase): Promise<number> {
  const x = randn([c.batch, c.channels, c.h, c.w], { seed: 1 });
  const weight = randn([c.channels], { seed: 2 });
  const bias = randn([c.channels], { seed: 3 });
  const seconds = await timeOp(
    gpu,
    () => groupNorm(x, weight, bias, { groups: c.groups, silu: true }),
    c,
  );
  for (const t of [x, weight, bias]) t.dispose();
  return (2 * c.batch * c.channels * c.h * c.w * 4) / seconds / 1e9;
}

export interface AttentionCase extends TimingOpts {
  /** batch * heads */
  batch: number;
  /** Channels per head. */
  channels: number;
  /** Tokens (H * W). */
  tokens: number;
}

/** FLOPs of one attention forward: two [L, C] x [C, L]-sized products, 4 * B * L * L * C. */
export const attentionFlops = (c: AttentionCase) => 4 * c.batch * c.tokens * c.tokens * c.channels;

/** GFLOP/s of attention's forward pass (q, k, v [B, C, L]; softmax FLOPs not counted). */
export async function oursAttentionGflops(gpu: Gpu, c: AttentionCase): Promise<number> {
  const shape = [c.batch, c.channels, c.tokens];
  const q = randn(shape, { seed: 1 });
  const k = randn(shape, { seed: 2 });
  const v = randn(shape, { seed: 3 });
  const seconds = await timeOp(gpu, () => attention(q, k, v), c);
  for (const t of [q, k, v]) t.dispose();
  return attentionFlops(c) / seconds / 1e9;
}
