/**
 * The WebGPU adapter of a command: `--adapter SUBSTRING` (or PFGMPP_ADAPTER) picks it by name,
 * and every command that computes says which adapter it got, and says so plainly when it is a
 * software rasterizer (a machine whose GPU driver is not found falls back to one silently).
 */
import { type Gpu, getDevice, requestGpu } from '@pfgmpp/tensor/node';
import type { OptionSpec, OptionValues } from './cli.ts';
import type { Io } from './io.ts';

export const ADAPTER_OPTION: OptionSpec = {
  name: 'adapter',
  kind: 'string',
  value: 'NAME',
  help: 'the first WebGPU adapter whose name contains NAME (default: $PFGMPP_ADAPTER, else the high-performance one)',
};

/** One line naming an adapter: vendor, architecture, description. */
export function adapterLine(gpu: Gpu): string {
  const i = gpu.adapterInfo;
  const parts = [i.vendor, i.architecture, i.description || i.device].filter(Boolean);
  return parts.join(', ');
}

/** The device for `--adapter` (or PFGMPP_ADAPTER), announced on stderr. */
export async function openGpu(values: OptionValues, io: Io): Promise<Gpu> {
  return (await openGpus(values, io, 1))[0] as Gpu;
}

/**
 * `count` devices for data-parallel training, announced on stderr once all are open (a name no
 * adapter has is then the only line). `adapters` names each one's adapter (`train --adapters`);
 * without it every device comes from `--adapter`'s (or PFGMPP_ADAPTER's) adapter: Dawn gives a
 * new device each time one is asked for, also of an adapter that already has one. Device 0 is
 * the shared one of getDevice(); the caller destroys the others.
 */
export async function openGpus(
  values: OptionValues,
  io: Io,
  count: number,
  adapters?: readonly string[],
): Promise<Gpu[]> {
  const wanted = adapters?.[0] ?? (values.adapter as string | undefined);
  if (wanted !== undefined) process.env.PFGMPP_ADAPTER = wanted;
  const gpus = [await getDevice()];
  try {
    for (let d = 1; d < count; d++) {
      const adapter = adapters?.[d];
      gpus.push(await requestGpu(adapter === undefined ? {} : { adapter }));
    }
  } catch (e) {
    for (const g of gpus.slice(1)) g.destroy();
    throw e;
  }
  const gpu = gpus[0] as Gpu;
  io.err(`adapter: ${adapterLine(gpu)}\n`);
  for (let d = 1; d < count; d++) io.err(`adapter: device ${d}: ${adapterLine(gpus[d] as Gpu)}\n`);
  if (gpus.some((g) => g.isSoftware)) {
    io.err(
      'adapter: this is a software rasterizer: the CPU runs every kernel, far slower than a GPU. ' +
        'If this machine has a GPU, its WebGPU (Vulkan/D3D12/Metal) driver was not found; pick one with --adapter NAME.\n',
    );
  }
  return gpus;
}
