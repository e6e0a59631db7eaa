/**
 * Data-parallel training in one process (`train --devices N`, `--adapters A,B`): a copy of the
 * network on every device, the micro-batches of a step shared out over the devices, and after
 * the last one the gradients summed on the host and the optimizer run on device 0, whose weights
 * then overwrite the copies. docs/scale.md says why this way.
 *
 * - Micro-batch k of a step runs on device k mod N, and everything random in it is keyed by k,
 *   never by the device: the data order (one sampler, read in k order), the loss noise and the
 *   augmentation (Philox keyed by seed and step * rounds + k) and the dropout masks (one
 *   StreamCounter shared by every copy, drawn from in k order, as on one device).
 * - Gradients: each device accumulates its micro-batches in float32 as one device does; the
 *   host reads every device's sums and adds them in float64 in device order (a fixed order, so
 *   a run repeats bit for bit), rounds once to float32 and gives the result to device 0.
 * - Only device 0 holds Adam's moments and the EMA; after its step, its weights are copied to
 *   the other devices, so every copy is bit-identical to device 0's whatever the adapters
 *   (Adam's square root and division need not round alike on two kinds of GPU).
 * - The copies run the kernel rows of device 0 where the adapter is the same (so micro-batch k
 *   computes the same wherever it runs); another adapter tunes its own.
 */
import { buildPrecond, type Precond } from '@pfgmpp/nn';
import {
  concat,
  type Gpu,
  noGrad,
  reshape,
  scope,
  type Tensor,
  tensor,
  withGpu,
} from '@pfgmpp/tensor/node';

interface Device {
  gpu: Gpu;
  net: Precond;
}

const sameAdapter = (a: Gpu, b: Gpu) =>
  (['vendor', 'architecture', 'device', 'description'] as const).every(
    (k) => a.adapterInfo[k] === b.adapterInfo[k],
  );

/** Tensors in groups of at most `limit` elements in all (one storage binding each). */
function groups(ts: Tensor[], limit: number): Tensor[][] {
  const out: Tensor[][] = [];
  let size = Number.POSITIVE_INFINITY;
  for (const t of ts) {
    if (size + t.size > limit) {
      out.push([]);
      size = 0;
    }
    out[out.length - 1]?.push(t);
    size += t.size;
  }
  return out;
}

/** The values of `ts` one after another, read with one read-back per group. */
async function readAll(ts: Tensor[]): Promise<Float32Array<ArrayBuffer>> {
  const total = ts.reduce((n, t) => n + t.size, 0);
  const out = new Float32Array(total);
  const gpu = ts[0]?.gpu;
  if (!gpu) return out;
  let at = 0;
  for (const group of groups(ts, gpu.device.limits.maxStorageBufferBindingSize / 4)) {
    const flat = noGrad(() => scope(() => concat(group.map((t) => reshape(t, [t.size])))));
    try {
      out.set(await flat.read(), at);
    } finally {
      flat.dispose();
    }
    at += flat.size;
  }
  return out;
}

export class DataParallel {
  /** Device 0 (the training network of the loop) first, then the copies. */
  readonly devices: Device[];

  private constructor(devices: Device[]) {
    this.devices = devices;
  }

  /**
   * Copies of `net` (on gpus[0]) on gpus[1..]. They share its dropout stream counter and run
   * its kernel rows (`rows`: the rows device 0 runs, recorded or tuned) where the adapter is
   * the same; `tune` tunes a copy on another adapter.
   */
  static async create(
    gpus: readonly Gpu[],
    net: Precond,
    c: { className: string; initKwargs: object },
    rows: Readonly<Record<string, string>>,
    tune: (gpu: Gpu, net: Precond) => Promise<unknown>,
  ): Promise<DataParallel> {
    const [first, ...rest] = gpus;
    if (!first) throw new Error('DataParallel: no device');
    const devices: Device[] = [{ gpu: first, net }];
    const weights = await net.stateDict();
    for (const gpu of rest) {
      const copy = buildPrecond(c.className, c.initKwargs as never);
      withGpu(gpu, () => copy.loadStateDict(weights));
      copy.train();
      copy.model.rng = net.model.rng;
      devices.push({ gpu, net: copy });
      if (sameAdapter(gpu, first)) gpu.kernels.pin(rows);
      else await tune(gpu, copy);
    }
    return new DataParallel(devices);
  }

  get size(): number {
    return this.devices.length;
  }

  /** Runs `fn` (synchronous: it records work) on device `d`, tensors created there. */
  on<T>(d: number, fn: (net: Precond) => T): T {
    const device = this.devices[d] as Device;
    return withGpu(device.gpu, () => fn(device.net));
  }

  /** Submits what each device has queued, so all of them compute while the host waits on one. */
  flush(): void {
    for (const { gpu } of this.devices) gpu.flush();
  }

  /**
   * Device 0's gradients become the sum over the devices (float64 on the host, device order,
   * rounded once); the copies' gradients are freed.
   */
  async reduceGradients(): Promise<void> {
    if (this.size === 1) return;
    this.flush();
    const params = this.devices.map((d) => [...d.net.namedParameters()].map(([, s]) => s.tensor));
    const main = params[0] as Tensor[];
    const has = main.map((p) => p.grad !== null);
    const withGrad = (ps: Tensor[]) =>
      ps
        .filter((_, i) => has[i])
        .map((p) => {
          if (!p.grad) throw new Error(`DataParallel: ${p} has a gradient on device 0 only`);
          return p.grad;
        });
    const sums = await Promise.all(params.map((ps) => readAll(withGrad(ps))));
    const total = new Float64Array(sums[0]?.length ?? 0);
    for (const s of sums)
      for (let j = 0; j < s.length; j++) total[j] = (total[j] as number) + (s[j] as number);
    const gpu = this.devices[0]?.gpu as Gpu;
    let at = 0;
    for (const [i, p] of main.entries()) {
      if (!has[i]) continue;
      p.grad?.dispose();
      p.grad = tensor(Float32Array.from(total.subarray(at, at + p.size)), p.shape, gpu);
      at += p.size;
    }
    for (const ps of params.slice(1)) {
      for (const p of ps) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** Device 0's weights onto every copy (after the optimizer step). */
  async broadcastWeights(): Promise<void> {
    if (this.size === 1) return;
    const [main, ...copies] = this.devices.map((d) =>
      [...d.net.namedParameters()].map(([, s]) => s.tensor),
    );
    const values = await readAll(main as Tensor[]);
    for (const ps of copies) {
      let at = 0;
      for (const p of ps) {
        p.gpu.upload(p.buffer, values.subarray(at, at + p.size));
        at += p.size;
      }
    }
  }

  /** Frees the copies (device 0's network is the caller's). */
  dispose(): void {
    for (const { net } of this.devices.slice(1)) net.dispose();
  }
}
