/**
 * The WebGPU adapter of a command: `--adapter SUBSTRING` (or PFGMPP_ADAPTER) picks it by name,
 * and every command that computes says which adapter it got, and says so plainly when it is a
 * software rasterizer (a machine whose GPU driver is not found falls back to one silently).
 */
import { type Gpu, getDevice } from '@pfgmpp/tensor/node';
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
  const wanted = values.adapter as string | undefined;
  if (wanted !== undefined) process.env.PFGMPP_ADAPTER = wanted;
  const gpu = await getDevice();
  io.err(`adapter: ${adapterLine(gpu)}\n`);
  if (gpu.isSoftware) {
    io.err(
      'adapter: this is a software rasterizer: the CPU runs every kernel, far slower than a GPU. ' +
        'If this machine has a GPU, its WebGPU (Vulkan/D3D12/Metal) driver was not found; pick one with --adapter NAME.\n',
    );
  }
  return gpu;
}
