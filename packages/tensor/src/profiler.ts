/**
 * Kernel timing with `timestamp-query`: while profiling, every dispatch runs in its own compute
 * pass with timestamps at the start and end of the pass; the times are resolved into a buffer
 * with each batch and summed per kernel family (`file:entry`) when the profile stops.
 * Profiling adds a pass per dispatch, so use it to rank kernels, not for absolute speed.
 */
const QUERIES = 2 * 1024; // two per dispatch, at most 1,024 dispatches per batch (gpu.ts)

export interface KernelTime {
  /** Kernel family: WGSL file and entry point. */
  kernel: string;
  dispatches: number;
  /** Total GPU time in milliseconds. */
  ms: number;
}

interface PendingBatch {
  readback: GPUBuffer;
  labels: string[];
}

export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private labels: string[] = [];
  private readonly pending: PendingBatch[] = [];
  private readonly totals = new Map<string, { dispatches: number; ns: number }>();

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: QUERIES });
  }

  /** A compute pass that records its start and end time under `label`. */
  beginPass(encoder: GPUCommandEncoder, label: string): GPUComputePassEncoder {
    const i = this.labels.length;
    this.labels.push(label);
    return encoder.beginComputePass({
      timestampWrites: {
        querySet: this.querySet,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      },
    });
  }

  /** Called before a batch is submitted: resolves its timestamps into a readable buffer. */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.labels.length;
    if (n === 0) return;
    const bytes = n * 2 * 8;
    const resolved = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const readback = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, readback, 0, bytes);
    this.pending.push({ readback, labels: this.labels });
    this.labels = [];
  }

  /** Reads every resolved batch (after their submission) and returns times, largest first. */
  async collect(): Promise<KernelTime[]> {
    for (const { readback, labels } of this.pending.splice(0)) {
      await readback.mapAsync(GPUMapMode.READ);
      const stamps = new BigUint64Array(readback.getMappedRange());
      labels.forEach((label, i) => {
        const ns = Number((stamps[2 * i + 1] as bigint) - (stamps[2 * i] as bigint));
        const t = this.totals.get(label) ?? { dispatches: 0, ns: 0 };
        t.dispatches++;
        t.ns += Math.max(0, ns);
        this.totals.set(label, t);
      });
      readback.destroy();
    }
    return [...this.totals.entries()]
      .map(([kernel, t]) => ({ kernel, dispatches: t.dispatches, ms: t.ns / 1e6 }))
      .sort((a, b) => b.ms - a.ms);
  }

  destroy(): void {
    this.querySet.destroy();
  }
}
