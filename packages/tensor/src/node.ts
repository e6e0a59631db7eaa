/**
 * Node entry point: registers Dawn's WebGPU implementation (npm `webgpu`) for getDevice().
 * The only module of this package that imports Node-specific code.
 */
import { create, globals } from 'webgpu';
import { setGpuProvider } from './device.ts';

Object.assign(globalThis, globals);

let dawn: GPU | undefined;
setGpuProvider(() => {
  // Dawn flags, space-separated: e.g. PFGMPP_DAWN_FLAGS='backend=vulkan adapter=llvmpipe'.
  dawn ??= create(process.env.PFGMPP_DAWN_FLAGS?.trim().split(/\s+/).filter(Boolean) ?? []);
  return dawn;
});

export * from './index.ts';
