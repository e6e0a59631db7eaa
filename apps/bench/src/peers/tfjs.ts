/**
 * Peer benchmark: TensorFlow.js (tfjs-core + tfjs-backend-webgpu) on the Node Dawn adapter
 * from the `webgpu` npm package.
 *
 * What tfjs-backend-webgpu needs in Node (v20 has no `navigator` global):
 *  - `globalThis.navigator.gpu`: checked when the backend module is *loaded* (it only registers
 *    the 'webgpu' backend if it is present) and again in the WebGPUBackend constructor; the
 *    default backend factory calls `navigator.gpu.requestAdapter()`.
 *  - the WebGPU globals from `webgpu`'s `globals`: the enums `GPUBufferUsage`, `GPUMapMode`,
 *    `GPUTextureUsage` (bare identifiers when buffers are created and read back) and the
 *    classes `GPUBuffer` / `GPUTexture` (`instanceof` checks when binding tensors to a
 *    dispatch: a missing `GPUBuffer` is a ReferenceError on the first kernel).
 * Nothing else (no document/canvas/OffscreenCanvas) is touched by the matMul/conv2d paths.
 *
 * Because registration happens at module load, the backend is imported dynamically *after* the
 * globals are installed.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { getDevice } from '@pfgmpp/tensor/node';

/**
 * Awaits a promise of Dawn (tfjs's queue or readback) the way our own waits do (Gpu.settle):
 * Dawn's Node bindings otherwise spin the main thread while it is pending, which on a software
 * adapter takes a core from the kernels and would slow the peer for a reason not its own.
 */
async function settled<T>(promise: Promise<T>): Promise<T> {
  return (await getDevice()).settle(promise);
}

export interface InitTfjsOptions {
  /**
   * Run tfjs on this existing device (e.g. the one our own kernels use) instead of letting tfjs
   * request its own adapter/device. tfjs requires nothing special of it; it checks
   * `device.features.has('timestamp-query')` only for profiling.
   */
  device?: GPUDevice;
  /** Adapter info for `device`; tfjs only uses it to tune for Intel GPUs. */
  adapterInfo?: GPUAdapterInfo;
  /** The `GPU` object to expose as `navigator.gpu`; defaults to an existing one or `create([])`. */
  gpu?: GPU;
}

export interface TfjsInfo {
  /** tfjs-core version (tfjs-backend-webgpu is pinned to the same version by its peer dep). */
  version: string;
  /** Active tfjs backend name; always 'webgpu' when initTfjs resolves. */
  backend: string;
}

let initialized: TfjsInfo | null = null;
/** Device created by tfjs itself (destroyed by disposeTfjs); null when the caller's device is used. */
let ownedDevice: GPUDevice | null = null;
/** True while the 'webgpu' factory is ours, wrapping a caller-provided device. */
let customDeviceRegistered = false;
/** The factory tfjs-backend-webgpu registered itself, saved while a custom one replaces it. */
let defaultFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | null = null;

async function installWebGpuGlobals(gpuOverride: GPU | undefined): Promise<GPU> {
  const g = globalThis as Record<string, unknown>;
  const dawn = await import('webgpu');
  const dawnGlobals = dawn.globals as Record<string, unknown>;
  // Only fill what is missing: another module (our own runtime) may already have done
  // `Object.assign(globalThis, globals)` and its classes must stay the ones `instanceof` sees.
  for (const [name, value] of Object.entries(dawnGlobals)) {
    if (g[name] === undefined) g[name] = value;
  }
  const nav = g.navigator as { gpu?: GPU } | undefined;
  const gpu: GPU = gpuOverride ?? nav?.gpu ?? dawn.create([]);

  if (nav === undefined) {
    // Node 20: no navigator at all.
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu },
      configurable: true,
      writable: true,
      enumerable: false,
    });
  } else if (nav.gpu !== gpu) {
    // Node >= 21 has a Navigator object without `gpu`.
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  }
  const installed = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (installed !== gpu) {
    throw new Error('tfjs peer: could not install navigator.gpu in this runtime');
  }
  return gpu;
}

/**
 * Makes tfjs use its WebGPU backend on the Node Dawn adapter. Throws (never falls back to the CPU
 * backend) if the 'webgpu' backend cannot be initialised.
 */
export async function initTfjs(opts: InitTfjsOptions = {}): Promise<TfjsInfo> {
  if (initialized !== null && opts.device === undefined && tf.getBackend() === 'webgpu') {
    return initialized;
  }
  // Switching devices: release the previous backend (and a device tfjs created) first.
  await disposeTfjs();
  await installWebGpuGlobals(opts.gpu);
  const backendModule = await import('@tensorflow/tfjs-backend-webgpu');

  if (opts.device !== undefined) {
    const device = opts.device;
    const adapterInfo = opts.adapterInfo;
    const current = tf.findBackendFactory('webgpu');
    if (current !== null) {
      // Keep tfjs' own factory (own adapter + device) so disposeTfjs can restore it.
      if (!customDeviceRegistered) defaultFactory = current;
      tf.removeBackend('webgpu');
    }
    const ok = tf.registerBackend(
      'webgpu',
      () => new backendModule.WebGPUBackend(device, adapterInfo),
      3,
    );
    if (!ok) throw new Error('tfjs peer: registerBackend("webgpu") refused the custom device');
    customDeviceRegistered = true;
  } else if (tf.findBackendFactory('webgpu') === null) {
    throw new Error(
      'tfjs peer: @tensorflow/tfjs-backend-webgpu did not register the "webgpu" backend ' +
        '(navigator.gpu was not visible when the module was first loaded)',
    );
  }

  const ok = await tf.setBackend('webgpu');
  await tf.ready();
  const backend = tf.getBackend();
  if (!ok || backend !== 'webgpu') {
    throw new Error(
      `tfjs peer: failed to initialise the tfjs "webgpu" backend (setBackend returned ${ok}, ` +
        `active backend is ${JSON.stringify(backend)}); refusing to fall back to another backend`,
    );
  }
  ownedDevice = opts.device === undefined ? webgpuBackend().device : null;
  initialized = { version: tf.version_core, backend };
  return initialized;
}

function webgpuBackend(): WebGPUBackend {
  if (tf.getBackend() !== 'webgpu') {
    throw new Error(`tfjs peer: active backend is ${JSON.stringify(tf.getBackend())}, not webgpu`);
  }
  return tf.backend() as WebGPUBackend;
}

/** The GPUDevice tfjs runs on (its own one unless initTfjs was given a device). */
export function tfjsDevice(): GPUDevice {
  return webgpuBackend().device;
}

/**
 * How the end of a timed loop is synchronised with the GPU:
 *  - 'queue': submit tfjs' pending (batched) commands, then wait for `queue.onSubmittedWorkDone()`.
 *  - 'readback': `await last.data()`, i.e. copy the last result to a staging buffer and map it
 *    (includes one result-sized readback in the timed region).
 */
export type SyncMode = 'queue' | 'readback';

/** Submits tfjs' pending commands and waits until the GPU has finished all submitted work. */
async function flushAndWait(): Promise<void> {
  const backend = webgpuBackend();
  // tfjs records dispatches into a command encoder and only submits every
  // WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE (15) dispatches or on readback: flush the remainder.
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  await settled(backend.queue.onSubmittedWorkDone());
}

async function syncGpu(last: tf.Tensor, mode: SyncMode): Promise<void> {
  if (mode === 'readback') {
    await settled(last.data());
  } else {
    await flushAndWait();
  }
}

interface TimingOpts {
  iters?: number;
  warmup?: number;
  sync?: SyncMode;
}

/**
 * Runs `op` (which must return a fresh tensor and keep no other intermediates alive) `warmup`
 * times, synchronises, then times `iters` runs plus the final GPU synchronisation.
 * Returns elapsed seconds of the timed part.
 */
async function timeOp(op: () => tf.Tensor, t: TimingOpts): Promise<number> {
  const iters = t.iters ?? 10;
  const warmup = t.warmup ?? 2;
  const sync = t.sync ?? 'queue';
  if (!Number.isInteger(iters) || iters < 1) throw new Error(`iters must be >= 1, got ${iters}`);
  // At least one warm-up: it uploads the (CPU-resident) inputs and compiles the pipelines.
  if (!Number.isInteger(warmup) || warmup < 1) {
    throw new Error(`warmup must be >= 1, got ${warmup}`);
  }

  for (let i = 0; i < warmup; i++) {
    const out = op();
    if (i === warmup - 1) {
      // Real readback once: makes sure the work is done and the result is finite.
      const values = await settled(out.data());
      const first = values[0];
      if (first === undefined || !Number.isFinite(first)) {
        out.dispose();
        throw new Error('tfjs peer: warm-up produced a non-finite result');
      }
    }
    out.dispose();
  }
  await flushAndWait();

  const tensorsBefore = tf.memory().numTensors;
  const start = performance.now();
  let last: tf.Tensor | null = null;
  for (let i = 0; i < iters; i++) {
    last?.dispose();
    last = op();
  }
  if (last === null) throw new Error('unreachable');
  await syncGpu(last, sync);
  const seconds = (performance.now() - start) / 1000;
  last.dispose();

  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked !== 0) throw new Error(`tfjs peer: timed loop leaked ${leaked} tensors`);
  return seconds;
}

export interface MatmulOpts extends TimingOpts {
  batch: number;
  m: number;
  k: number;
  n: number;
}

/** GFLOP/s of tf.matMul: [m,k]@[k,n] when batch == 1, else [batch,m,k]@[batch,k,n]. */
export async function tfjsMatmulGflops(opts: MatmulOpts): Promise<number> {
  await initTfjs();
  const { batch, m, k, n } = opts;
  const aShape = batch > 1 ? [batch, m, k] : [m, k];
  const bShape = batch > 1 ? [batch, k, n] : [k, n];
  const a = tf.randomUniform(aShape, -1, 1, 'float32');
  const b = tf.randomUniform(bShape, -1, 1, 'float32');
  try {
    const seconds = await timeOp(() => tf.matMul(a, b), opts);
    const iters = opts.iters ?? 10;
    return (2 * batch * m * n * k * iters) / seconds / 1e9;
  } finally {
    a.dispose();
    b.dispose();
  }
}

export interface Conv2dOpts extends TimingOpts {
  batch: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  /** Square kernel size (3 for the 3x3 benchmark); stride 1, 'same' padding. */
  k: number;
}

/**
 * GFLOP/s of tf.conv2d, stride 1, 'same' padding. tfjs is NHWC: x [batch,h,w,cin], filter
 * [k,k,cin,cout]; same FLOPs as the NCHW conv we compare against: 2*batch*cout*h*w*cin*k*k.
 */
export async function tfjsConv2dGflops(opts: Conv2dOpts): Promise<number> {
  await initTfjs();
  const { batch, cin, cout, h, w, k } = opts;
  const x = tf.randomUniform([batch, h, w, cin], -1, 1, 'float32') as tf.Tensor4D;
  const filter = tf.randomUniform([k, k, cin, cout], -1, 1, 'float32') as tf.Tensor4D;
  try {
    const seconds = await timeOp(() => tf.conv2d(x, filter, 1, 'same', 'NHWC'), opts);
    const iters = opts.iters ?? 10;
    return (2 * batch * cout * h * w * cin * k * k * iters) / seconds / 1e9;
  } finally {
    x.dispose();
    filter.dispose();
  }
}

/**
 * GFLOP/s of the backward pass of tf.conv2d (stride 1, 'same'): the input gradient
 * (Conv2DBackpropInput, through tf.conv2dTranspose) and the filter gradient
 * (Conv2DBackpropFilter, through the engine: tfjs-core has no public op for it) of a given
 * output gradient dy. Each is one conv's worth of FLOPs: 2 * 2*batch*cout*h*w*cin*k*k per run.
 */
export async function tfjsConv2dBackwardGflops(opts: Conv2dOpts): Promise<number> {
  await initTfjs();
  const { batch, cin, cout, h, w, k } = opts;
  const x = tf.randomUniform([batch, h, w, cin], -1, 1, 'float32') as tf.Tensor4D;
  const filter = tf.randomUniform([k, k, cin, cout], -1, 1, 'float32') as tf.Tensor4D;
  const dy = tf.randomUniform([batch, h, w, cout], -1, 1, 'float32') as tf.Tensor4D;
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [k, k, cin, cout] };
  try {
    const seconds = await timeOp(
      () =>
        tf.tidy(() => {
          tf.conv2dTranspose(dy, filter, [batch, h, w, cin], 1, 'same'); // dL/dx
          return tf
            .engine()
            .runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap);
        }) as tf.Tensor,
      opts,
    );
    const iters = opts.iters ?? 10;
    return (2 * (2 * batch * cout * h * w * cin * k * k) * iters) / seconds / 1e9;
  } finally {
    x.dispose();
    filter.dispose();
    dy.dispose();
  }
}

export interface GroupNormOpts extends TimingOpts {
  batch: number;
  channels: number;
  h: number;
  w: number;
  groups: number;
}

/**
 * Effective GB/s of GroupNorm + SiLU composed from tfjs ops (tfjs has no GroupNorm): NHWC x
 * [batch, h, w, channels] viewed as [batch, h, w, groups, channels/groups], tf.moments over
 * (h, w, channels/groups), (x - mean) * rsqrt(var + 1e-5), then * gamma + beta and
 * x * sigmoid(x). Same byte count as ours: the tensor read once and written once per run.
 */
export async function tfjsGroupNormGBs(opts: GroupNormOpts): Promise<number> {
  await initTfjs();
  const { batch, channels, h, w, groups } = opts;
  const x = tf.randomNormal([batch, h, w, channels], 0, 1, 'float32') as tf.Tensor4D;
  const gamma = tf.randomNormal([channels], 0, 1, 'float32');
  const beta = tf.randomNormal([channels], 0, 1, 'float32');
  try {
    const seconds = await timeOp(
      () =>
        tf.tidy(() => {
          const xg = tf.reshape(x, [batch, h, w, groups, channels / groups]);
          const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
          const xhat = tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, 1e-5)));
          const z = tf.add(tf.mul(tf.reshape(xhat, [batch, h, w, channels]), gamma), beta);
          return tf.mul(z, tf.sigmoid(z));
        }),
      opts,
    );
    const iters = opts.iters ?? 10;
    return (2 * batch * channels * h * w * 4 * iters) / seconds / 1e9;
  } finally {
    x.dispose();
    gamma.dispose();
    beta.dispose();
  }
}

export interface AttentionOpts extends TimingOpts {
  batch: number;
  channels: number;
  tokens: number;
}

/**
 * GFLOP/s of attention composed from tfjs ops, as EDM computes it on q, k, v [B, C, L]:
 * w = softmax(q^T (k / sqrt(C))) [B, L, L] (tf.matMul with transposeA, tf.softmax over the key
 * axis), out = v w^T [B, C, L] (tf.matMul with transposeB). FLOPs as ours: 4 * B * L * L * C.
 */
export async function tfjsAttentionGflops(opts: AttentionOpts): Promise<number> {
  await initTfjs();
  const { batch, channels, tokens } = opts;
  const shape: [number, number, number] = [batch, channels, tokens];
  const q = tf.randomNormal(shape, 0, 1, 'float32') as tf.Tensor3D;
  const k = tf.randomNormal(shape, 0, 1, 'float32') as tf.Tensor3D;
  const v = tf.randomNormal(shape, 0, 1, 'float32') as tf.Tensor3D;
  try {
    const seconds = await timeOp(
      () =>
        tf.tidy(() => {
          const w = tf.softmax(tf.matMul(q, tf.mul(k, 1 / Math.sqrt(channels)), true, false));
          return tf.matMul(v, w, false, true);
        }),
      opts,
    );
    const iters = opts.iters ?? 10;
    return (4 * batch * tokens * tokens * channels * iters) / seconds / 1e9;
  } finally {
    q.dispose();
    k.dispose();
    v.dispose();
  }
}

/**
 * Disposes all tfjs tensors and backends, and destroys the device if tfjs created it (a device
 * passed to initTfjs is left alone). initTfjs can be called again afterwards.
 */
export async function disposeTfjs(): Promise<void> {
  if (initialized === null) return;
  // Let in-flight work finish before tfjs destroys its buffers.
  if (tf.getBackend() === 'webgpu') await flushAndWait();
  tf.engine().reset();
  if (customDeviceRegistered) {
    // Forget the caller's device; the next plain initTfjs() gets tfjs' own device again.
    tf.removeBackend('webgpu');
    if (defaultFactory !== null) tf.registerBackend('webgpu', defaultFactory, 3);
    customDeviceRegistered = false;
  }
  ownedDevice?.destroy();
  ownedDevice = null;
  initialized = null;
}
