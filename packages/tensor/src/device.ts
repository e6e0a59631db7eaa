/**
 * Getting a GPUDevice, in Node and in the browser alike.
 *
 * The browser provides `navigator.gpu`; Node registers Dawn's `GPU` object through
 * `setGpuProvider` (done by `@pfgmpp/tensor/node`), so this module imports nothing from Node.
 */
import { GpuError } from './errors.ts';
import { Gpu, type HostPause } from './gpu.ts';

/**
 * The WebGPU entry point; `adapter` (Node) is a name the adapter must contain, in place of the
 * provider's default (PFGMPP_ADAPTER). A browser has one entry point and cannot choose by name.
 */
type GpuProvider = (adapter?: string) => GPU | Promise<GPU>;

let provider: GpuProvider | undefined;
let hostPause: HostPause | undefined;
let current: Promise<Gpu> | undefined;

/**
 * Registers where `getDevice()` finds the WebGPU entry point (Node's Dawn bindings) and, where
 * the implementation polls in a busy loop while its promises are pending, how a device waits
 * without spinning (see Gpu.settle).
 */
export function setGpuProvider(p: GpuProvider, pause?: HostPause): void {
  provider = p;
  hostPause = pause;
}

/** Optional features used when the adapter has them. */
const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'];

/**
 * The limits the code reads (gpu.ts, pool.ts, conv rows, the FID Inception's batch split), each
 * raised to the adapter's maximum: big tensors need big storage bindings, tiled kernels big
 * workgroups. Every kernel is 1-D (`@workgroup_size(WG)`), so no Y/Z sizes. The others keep
 * WebGPU's defaults, the dynamic-offset limits included. (Dawn's two "artificially reduced ...
 * dynamic offset allocation limit" warnings on lavapipe come from requestAdapter itself, before
 * any device is asked for: see packages/tensor/test/device-limits.test.ts.)
 */
export const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/** The `requiredLimits` of the device request: RAISED_LIMITS at the adapter's values. */
export function requiredLimits(adapter: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of RAISED_LIMITS) out[name] = adapter[name];
  return out;
}

export interface DeviceOptions {
  powerPreference?: GPUPowerPreference;
  /**
   * Node only: the first adapter whose name contains this text (Dawn's `adapter=` flag),
   * instead of PFGMPP_ADAPTER's. Dawn chooses by name alone, so of two identical GPUs it always
   * gives the first (docs/scale.md).
   */
  adapter?: string;
}

/**
 * The shared `Gpu` (device + kernels + memory pool). The first call creates it; later calls
 * return the same one until it is destroyed or lost.
 */
export function getDevice(options: DeviceOptions = {}): Promise<Gpu> {
  current ??= createGpu(options).catch((e: unknown) => {
    current = undefined;
    throw e;
  });
  return current;
}

/** Forgets the shared Gpu (after `destroy()` or device loss) so the next getDevice() makes one. */
export function resetDevice(): void {
  current = undefined;
  setActiveGpu(undefined);
}

/**
 * A new, independent Gpu on its own device (the shared one from getDevice() is untouched and
 * stays the default for creation ops). For tools that need a second device, and for tests.
 */
export async function requestGpu(options: DeviceOptions = {}): Promise<Gpu> {
  return openGpu(options);
}

async function createGpu(options: DeviceOptions): Promise<Gpu> {
  const result = await openGpu(options);
  setActiveGpu(result);
  return result;
}

async function openGpu(options: DeviceOptions): Promise<Gpu> {
  const gpu = await findGpu(options.adapter);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({
      powerPreference: options.powerPreference ?? 'high-performance',
    });
  } catch (e) {
    // Dawn: an adapter=NAME that matches none fails here and lists the adapters it has.
    const text = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
    const asked =
      options.adapter === undefined
        ? 'the one asked for (--adapter, PFGMPP_ADAPTER)'
        : `'${options.adapter}'`;
    throw new GpuError(`no WebGPU adapter matches ${asked}: ${text}`);
  }
  if (!adapter) {
    throw new GpuError(
      'No WebGPU adapter. In Node, install a Vulkan driver (on Debian 12 run `bash scripts/ensure-webgpu.sh` ' +
        'as root: it installs Mesa lavapipe from bookworm-backports); in a browser, enable WebGPU.',
    );
  }
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: requiredLimits(adapter.limits),
  });
  return new Gpu(device, adapter.info, hostPause);
}

async function findGpu(adapter?: string): Promise<GPU> {
  if (provider) return provider(adapter);
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    if (adapter !== undefined) {
      throw new GpuError(`choosing an adapter by name ('${adapter}') needs Dawn (Node)`);
    }
    return nav.gpu;
  }
  throw new GpuError(
    'WebGPU is not available: in Node import "@pfgmpp/tensor/node" (it registers Dawn); ' +
      'in a browser use one with WebGPU enabled (Chrome/Edge 113+, or chrome://flags/#enable-unsafe-webgpu).',
  );
}

let active: Gpu | undefined;

/** The Gpu that creation ops (zeros, randn, tensor) use when none is given. */
export function activeGpu(): Gpu {
  if (!active) {
    throw new GpuError('no GPU device yet: `await getDevice()` before creating tensors');
  }
  return active;
}

/** Makes `gpu` the one creation ops use by default (getDevice does this). */
export function setActiveGpu(gpu: Gpu | undefined): void {
  active = gpu;
}

/**
 * Runs `fn` with `gpu` as the device of creation ops that are given none (activeGpu), then
 * puts the previous one back: how code that creates tensors without naming a device (layers,
 * losses) runs on a second device. `fn` must be synchronous: an `await` inside it would let
 * other code run with `gpu` active.
 */
export function withGpu<T>(gpu: Gpu, fn: () => T): T {
  const before = active;
  active = gpu;
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new GpuError('withGpu(gpu, fn) got an async function: fn must be synchronous');
    }
    return result;
  } finally {
    active = before;
  }
}
