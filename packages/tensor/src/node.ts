/**
 * Node entry point: registers Dawn's WebGPU implementation (npm `webgpu`) for getDevice().
 * The only module of this package that imports Node-specific code.
 */
import { create, globals } from 'webgpu';
import { setGpuProvider } from './device.ts';

Object.assign(globalThis, globals);

// Dawn on lavapipe prints these two notices on every device; they are not errors.
const HARMLESS = /artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit/;
const originalWarn = console.warn;
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && HARMLESS.test(args[0])) return;
  originalWarn(...args);
};

let dawn: GPU | undefined;
setGpuProvider(() => {
  // Dawn flags, space-separated: e.g. PFGMPP_DAWN_FLAGS='backend=vulkan adapter=llvmpipe'.
  dawn ??= create(process.env.PFGMPP_DAWN_FLAGS?.trim().split(/\s+/).filter(Boolean) ?? []);
  return dawn;
});

export * from './index.ts';
