/**
 * Node entry point: registers Dawn's WebGPU implementation (npm `webgpu`) for getDevice().
 * The only module of this package that imports Node-specific code.
 */
import { create, globals } from 'webgpu';
import { setGpuProvider } from './device.ts';

Object.assign(globalThis, globals);

let dawn: GPU | undefined;

/** A word nobody writes: Atomics.wait on it sleeps for its timeout. */
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Sleeps `ms` without using the CPU, then resolves from setImmediate, after the device poll
 * that Dawn's bindings queue with setImmediate while a promise of theirs is pending: one poll
 * per pause instead of a busy loop (Gpu.settle).
 */
function pauseHost(ms: number): Promise<void> {
  if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
  return new Promise((resolve) => setImmediate(resolve));
}

setGpuProvider(() => {
  // Dawn flags, space-separated: e.g. PFGMPP_DAWN_FLAGS='backend=vulkan adapter=llvmpipe'.
  dawn ??= create(process.env.PFGMPP_DAWN_FLAGS?.trim().split(/\s+/).filter(Boolean) ?? []);
  return dawn;
}, pauseHost);

export * from './index.ts';
