/**
 * Size-bucketed pool of storage buffers.
 *
 * Sizes round up to one of four classes per power of two (1, 1.25, 1.5, 1.75 x 2^k), so a
 * buffer wastes at most 25%. Released buffers wait in their bucket for reuse; `trim()`
 * destroys them. `bytesInUse` and `peakBytes` count acquired buffers at their bucket size.
 */
const MIN_BYTES = 256;

export function bucketSize(bytes: number): number {
  const n = Math.max(MIN_BYTES, Math.ceil(bytes));
  const pow = 2 ** Math.floor(Math.log2(n));
  const quarter = pow / 4;
  return Math.ceil(n / quarter) * quarter;
}

export interface PoolStats {
  /** Bytes of buffers currently held by tensors (bucket sizes). */
  bytesInUse: number;
  /** Highest bytesInUse since creation or the last resetPeak(). */
  peakBytes: number;
  /** Bytes of released buffers kept for reuse. */
  bytesFree: number;
  /** Buffers created over the pool's life (a flat count in a loop means reuse works). */
  created: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private stats: PoolStats = { bytesInUse: 0, peakBytes: 0, bytesFree: 0, created: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  acquire(bytes: number): GPUBuffer {
    const size = bucketSize(bytes);
    if (size > this.maxBufferSize) {
      throw new RangeError(
        `a tensor of ${bytes} bytes exceeds this device's maxBufferSize (${this.maxBufferSize})`,
      );
    }
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      this.stats.bytesFree -= size;
    } else {
      buffer = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      this.stats.created++;
    }
    this.stats.bytesInUse += size;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.bytesInUse);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    this.stats.bytesInUse -= size;
    this.stats.bytesFree += size;
    let list = this.free.get(size);
    if (!list) {
      list = [];
      this.free.set(size, list);
    }
    list.push(buffer);
  }

  /** Destroys every released buffer kept for reuse. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.bytesFree = 0;
  }

  resetPeak(): void {
    this.stats.peakBytes = this.stats.bytesInUse;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }
}
