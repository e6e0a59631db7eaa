/**
 * A second process for device-limits.test.ts, so that its stderr holds only what Dawn prints
 * for one adapter or device. `adapter`: requestAdapter() alone, prints the adapter's limits.
 * `device`: getDevice() and one small op, prints the device's limits. One JSON line on stdout.
 */
import { add, getDevice, tensor } from '@pfgmpp/tensor/node';
import { create } from 'webgpu';

const limitsOf = (l: GPUSupportedLimits) => {
  const out: Record<string, number> = {};
  for (const k in l) {
    const v = l[k as keyof GPUSupportedLimits];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
};

if (process.argv[2] === 'adapter') {
  // The adapter getDevice() picks: same flags (node.ts) and power preference (device.ts).
  const flags = process.env.PFGMPP_ADAPTER ? [`adapter=${process.env.PFGMPP_ADAPTER.trim()}`] : [];
  flags.push(...(process.env.PFGMPP_DAWN_FLAGS?.trim().split(/\s+/).filter(Boolean) ?? []));
  const adapter = await create(flags).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no adapter');
  process.stdout.write(`${JSON.stringify(limitsOf(adapter.limits))}\n`);
} else {
  const gpu = await getDevice();
  const sum = [...(await add(tensor([1, 2]), tensor([3, 4])).read())];
  process.stdout.write(`${JSON.stringify({ sum, ...limitsOf(gpu.device.limits) })}\n`);
  gpu.destroy();
}
process.exit(0);
