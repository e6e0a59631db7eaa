/**
 * The runtime around one GPUDevice: pipelines, batched execution, memory, and loud errors.
 *
 * Ops enqueue dispatches into one open command encoder (one compute pass); the batch is
 * submitted when a result is read, when `flush()` is called (end of a step), or when the
 * batch's uniform area is full (the size threshold). Uniform parameters of all dispatches in a
 * batch are staged in one CPU array and written with a single writeBuffer before the submit.
 */
import { KernelChoices, type TuneResult } from './choice.ts';
import { GpuError, ShaderCompileError } from './errors.ts';
import { type KernelSpec, type SourceSegment, shaderSource, sourceLocation } from './kernels.ts';
import { type ParamsOf, type ParamValues, writeParams } from './params.ts';
import { BufferPool, type PoolStats } from './pool.ts';
import { KernelProfiler, type KernelTime } from './profiler.ts';

/** Bytes reserved per dispatch in the uniform area (minUniformBufferOffsetAlignment). */
const UNIFORM_SLOT = 256;
/**
 * Dispatches per batch before it is submitted regardless. Small enough that the device starts
 * on a step while the host is still recording it: with one read per step (the trainer's loop),
 * 128 instead of 1,024 made the UNet training step 5-10% faster on lavapipe.
 */
const MAX_BATCH_DISPATCHES = 128;

interface PipelineEntry {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** Resolves when compilation info and the error scope were checked; rejects on failure. */
  checked: Promise<void>;
  failure?: Error;
}

/**
 * Gives the host's event loop one turn after keeping the thread idle for `ms` milliseconds
 * (Node: a blocking sleep, then setImmediate; see node.ts). Absent in the browser, where a
 * WebGPU promise is simply awaited.
 */
export type HostPause = (ms: number) => Promise<void>;

/**
 * The pause between polls while awaiting the device: a tenth of the time waited so far (so a
 * short wait, on a fast GPU, overshoots by at most about 10%), at most 4 ms. Each poll costs
 * the host thread some CPU (Dawn's event processing), which on a software adapter is taken
 * from the kernel threads: waiting out 4 unet-small training steps (6.5 s) cost the main
 * thread 280-380 ms of CPU with 1 ms pauses and 120-200 ms with 4 ms, for an overshoot of at
 * most 4 ms per wait.
 */
const POLL_PAUSE_SHARE = 0.1;
const POLL_PAUSE_MAX_MS = 4;

/** Slots of the work-counter buffer (Gpu.workCounter): zeroed again once all are used. */
const WORK_COUNTER_SLOTS = 4096;

export interface GpuCounters {
  dispatches: number;
  /** The most workgroups of one dispatch so far (tests set it to 0 to watch a call). */
  largestDispatch: number;
  submits: number;
  readbacks: number;
  pipelines: number;
}

export class Gpu {
  readonly pool: BufferPool;
  readonly counters: GpuCounters = {
    dispatches: 0,
    largestDispatch: 0,
    submits: 0,
    readbacks: 0,
    pipelines: 0,
  };
  private readonly pipelines = new Map<string, PipelineEntry>();
  /** Pipelines whose compilation result nobody has awaited yet. */
  private unchecked: PipelineEntry[] = [];
  private readonly maxWorkgroupsPerDim: number;
  private readonly uniformBuffer: GPUBuffer;
  private readonly uniformStaging = new Uint8Array(UNIFORM_SLOT * MAX_BATCH_DISPATCHES);
  private readonly uniformU32 = new Uint32Array(this.uniformStaging.buffer);
  private readonly uniformF32 = new Float32Array(this.uniformStaging.buffer);
  private uniformUsed = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** Buffers referenced by the open batch: uploads into them must be ordered in the encoder. */
  private usedInBatch = new Set<GPUBuffer>();
  private readonly stagingToDestroy: GPUBuffer[] = [];
  private readonly errors: string[] = [];
  private lostReason: string | null = null;
  private destroyed = false;
  private profiler: KernelProfiler | null = null;
  /** A tiny buffer bound where a kernel's optional input is absent. */
  readonly dummy: GPUBuffer;
  /** u32 counters (zero when handed out) for kernels that share out their work (workCounter). */
  private readonly workCounters: GPUBuffer;
  private workCounterNext = 0;
  /** Which kernel row runs each convolution and matmul shape on this adapter (choice.ts). */
  readonly kernels: KernelChoices;

  constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: GPUAdapterInfo,
    private readonly hostPause?: HostPause,
  ) {
    this.pool = new BufferPool(device, device.limits.maxBufferSize);
    this.maxWorkgroupsPerDim = device.limits.maxComputeWorkgroupsPerDimension;
    this.uniformBuffer = device.createBuffer({
      size: this.uniformStaging.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.dummy = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    this.workCounters = device.createBuffer({
      size: WORK_COUNTER_SLOTS * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    device.addEventListener('uncapturederror', (event) => {
      const message = (event as GPUUncapturedErrorEvent).error.message;
      this.errors.push(message);
      console.error(`WebGPU error: ${message}`);
    });
    this.kernels = new KernelChoices({
      adapterInfo,
      sync: () => this.sync(),
      timeGpu: (run) => this.timeGpu(run),
    });
    void device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
      if (!this.destroyed) console.error(`WebGPU device lost (${this.lostReason})`);
    });
  }

  get features(): ReadonlySet<string> {
    return this.device.features as unknown as ReadonlySet<string>;
  }

  /**
   * Whether the adapter is a software rasterizer (lavapipe, SwiftShader, WARP): kernels shaped
   * for CPUs go first in the kernel tables there.
   */
  get isSoftware(): boolean {
    if (this.software === undefined) {
      const info = this.adapterInfo as GPUAdapterInfo & { isFallbackAdapter?: boolean };
      this.software =
        info.isFallbackAdapter === true ||
        info.architecture === 'software' ||
        /llvmpipe|lavapipe|swiftshader|microsoft basic render/i.test(
          `${info.vendor} ${info.device} ${info.description}`,
        );
    }
    return this.software;
  }

  private software: boolean | undefined;

  /**
   * Milliseconds of the dispatches `run` enqueues: GPU time from timestamp queries (see
   * startProfile) where the adapter has them and no profile of the caller's is running, else
   * the wall clock around a sync.
   */
  async timeGpu(run: () => void): Promise<number> {
    await this.sync();
    if (this.profiler || !this.device.features.has('timestamp-query')) {
      const t0 = performance.now();
      run();
      await this.sync();
      return performance.now() - t0;
    }
    this.startProfile();
    try {
      run();
    } catch (e) {
      await this.stopProfile().catch(() => []);
      throw e;
    }
    const times = await this.stopProfile();
    return times.reduce((s, t) => s + t.ms, 0);
  }

  /** Test hook: false makes kernels take their subgroup-free variants. */
  subgroupsAllowed = true;

  /**
   * Whether subgroup operations with subgroups of at least `n` invocations are available
   * (lavapipe: 8; most GPUs 32 or 64; SwiftShader 4).
   */
  hasSubgroupsOf(n: number): boolean {
    const info = this.adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number };
    return (
      this.subgroupsAllowed && this.features.has('subgroups') && (info.subgroupMinSize ?? 0) >= n
    );
  }

  /** The pipeline for a kernel and its override constants, created once and cached. */
  private pipeline(spec: KernelSpec, constants: Record<string, number>): PipelineEntry {
    const all: Record<string, number> = { WG: spec.workgroupSize, ...constants };
    const key = `${spec.file}|${(spec.libs ?? []).join('+')}|${spec.entry}|${spec.bindings.join(',')}|${Object.entries(
      all,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}${spec.source === undefined ? '' : `|src:${spec.source}`}`;
    const cached = this.pipelines.get(key);
    if (cached) {
      if (cached.failure) throw cached.failure;
      return cached;
    }
    const device = this.device;
    device.pushErrorScope('validation');
    const { code, segments } = shaderSource(spec);
    const module = device.createShaderModule({ code, label: spec.file });
    const layout = device.createBindGroupLayout({
      label: `${spec.file}:${spec.entry}`,
      entries: spec.bindings.map((kind, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: {
          type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage',
        },
      })),
    });
    const pipeline = device.createComputePipeline({
      label: `${spec.file}:${spec.entry}`,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: spec.entry, constants: all },
    });
    const scope = device.popErrorScope();
    const entry: PipelineEntry = { pipeline, layout, checked: Promise.resolve() };
    entry.checked = Promise.all([module.getCompilationInfo(), scope]).then(([info, error]) => {
      const failure = compileFailure(spec, code, segments, info, error);
      if (failure) {
        entry.failure = failure;
        throw failure;
      }
    });
    entry.checked.catch(() => {}); // reported by checkPipelines(), not as an unhandled rejection
    this.counters.pipelines++;
    this.pipelines.set(key, entry);
    this.unchecked.push(entry);
    return entry;
  }

  /**
   * Chooses the kernel rows for the shapes `step` runs: `step` runs once (on inputs that do not
   * matter: its results are thrown away) to show them, then every untuned one is timed
   * (KernelChoices.tune). Call it before the real work, so that all of it runs the chosen rows.
   * A row whose shader fails to compile here is dropped for this adapter with one line, and the
   * step runs again on the other rows. `step` must free what it makes (run it in a scope).
   */
  async tuneKernels(step?: () => unknown): Promise<TuneResult[]> {
    if (step && this.kernels.tuning) {
      for (let attempt = 0; ; attempt++) {
        try {
          await step();
          await this.sync();
          break;
        } catch (e) {
          const dropped =
            e instanceof ShaderCompileError && this.kernels.dropShader(e.file, e.message);
          if (!dropped || attempt === 8) throw e;
        }
      }
    }
    return this.kernels.tune();
  }

  /**
   * Enqueues one dispatch. `buffers` are the storage bindings in order; `params` fills the
   * uniform binding by field name of the kernel file's `struct Params` (null for kernels
   * without one); a missing, unknown or ill-typed field throws before anything is recorded.
   * More than 65,535 workgroups fold into x * y.
   */
  dispatch<F extends string>(
    spec: KernelSpec<F>,
    constants: Record<string, number>,
    buffers: readonly GPUBuffer[],
    params: ParamsOf<F> | null,
    workgroups: number,
  ): void {
    this.assertUsable();
    if (workgroups <= 0) return;
    const entry = this.pipeline(spec, constants);
    if (this.uniformUsed + UNIFORM_SLOT > this.uniformStaging.byteLength) this.flush();
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({
      binding,
      resource: { buffer },
    }));
    if (params) {
      const offset = this.uniformUsed;
      const label = `${spec.file}:${spec.entry}`;
      const values = params as unknown as ParamValues;
      writeParams(label, spec.file, values, this.uniformU32, this.uniformF32, offset / 4);
      this.uniformUsed += UNIFORM_SLOT;
      entries.push({
        binding: buffers.length,
        resource: { buffer: this.uniformBuffer, offset, size: UNIFORM_SLOT },
      });
    }
    for (const b of buffers) this.usedInBatch.add(b);
    const bindGroup = this.device.createBindGroup({ layout: entry.layout, entries });
    const [x, y] = foldWorkgroups(workgroups, this.maxWorkgroupsPerDim);
    if (this.profiler) {
      this.endPass();
      const pass = this.profiler.beginPass(this.commandEncoder(), `${spec.file}:${spec.entry}`);
      pass.setPipeline(entry.pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y);
      pass.end();
    } else {
      const pass = this.computePass();
      pass.setPipeline(entry.pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y);
    }
    this.counters.dispatches++;
    this.counters.largestDispatch = Math.max(this.counters.largestDispatch, workgroups);
  }

  /**
   * A counter that is zero when the next dispatch runs: the buffer and the u32 slot to pass to a
   * kernel that hands its work items out dynamically (each subgroup takes the next item with an
   * atomicAdd until none is left). On lavapipe every dispatch is split into one fixed share of
   * workgroups per thread, so a thread slowed by anything else on its core (the host thread, a
   * busy neighbour on a shared VM) holds the other back; taking items from a counter lets the
   * faster one do more. Every slot is used by one dispatch; when all are used, the buffer is
   * zeroed again (in queue order, between compute passes).
   */
  workCounter(): { buffer: GPUBuffer; slot: number } {
    if (this.workCounterNext === WORK_COUNTER_SLOTS) {
      this.endPass();
      this.commandEncoder().clearBuffer(this.workCounters);
      this.usedInBatch.add(this.workCounters);
      this.workCounterNext = 0;
    }
    return { buffer: this.workCounters, slot: this.workCounterNext++ };
  }

  /** Writes `data` into `buffer` at `byteOffset`, ordered after the work already enqueued. */
  upload(buffer: GPUBuffer, data: ArrayBufferView<ArrayBuffer>, byteOffset = 0): void {
    this.assertUsable();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!this.usedInBatch.has(buffer)) {
      this.device.queue.writeBuffer(buffer, byteOffset, bytes);
      return;
    }
    // The open batch still reads or writes this buffer: a queue write would land before it.
    const size = Math.ceil(bytes.byteLength / 4) * 4;
    const staging = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
    });
    new Uint8Array(staging.getMappedRange()).set(bytes);
    staging.unmap();
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(staging, 0, buffer, byteOffset, size);
    this.stagingToDestroy.push(staging);
  }

  /** Enqueues a buffer-to-buffer copy (sizes and offsets in bytes, multiples of 4). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.assertUsable();
    if (size === 0) return;
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
    this.usedInBatch.add(src);
    this.usedInBatch.add(dst);
  }

  /** Submits the open batch (no waiting). */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    if (this.uniformUsed > 0) {
      this.device.queue.writeBuffer(
        this.uniformBuffer,
        0,
        this.uniformStaging,
        0,
        this.uniformUsed,
      );
    }
    this.profiler?.resolve(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    this.counters.submits++;
    this.encoder = null;
    this.uniformUsed = 0;
    this.usedInBatch = new Set();
    for (const b of this.stagingToDestroy.splice(0)) b.destroy();
  }

  /** Submits and waits until the GPU has finished; throws any error the work raised. */
  async sync(): Promise<void> {
    await this.checkPipelines();
    this.flush();
    await this.settle(this.device.queue.onSubmittedWorkDone());
    this.throwIfFailed();
  }

  /**
   * Awaits a promise of the WebGPU implementation without keeping a CPU core busy. Dawn's
   * Node bindings poll the device from a setImmediate loop for as long as any of their
   * promises is pending: a whole core spinning through every wait, which on a software adapter
   * (lavapipe) is a core taken from the threads running the kernels (measured: the UNet
   * training step about 1.5x slower on 2 cores). With a host pause the loop runs once per pause
   * (a tenth of the time waited so far, at most 4 ms) and the thread sleeps between.
   */
  async settle<T>(promise: Promise<T>): Promise<T> {
    const pause = this.hostPause;
    if (!pause) return promise;
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    // Handles both outcomes, so no rejection sits unhandled while the loop pauses.
    void promise.then(
      (value) => {
        outcome = { ok: true, value };
      },
      (error: unknown) => {
        outcome = { ok: false, error };
      },
    );
    const start = performance.now();
    while (outcome === undefined) {
      await pause(Math.min(POLL_PAUSE_MAX_MS, (performance.now() - start) * POLL_PAUSE_SHARE));
    }
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /** Reads `byteLength` bytes of `buffer`: submits the batch, waits, and maps a staging copy. */
  async read(buffer: GPUBuffer, byteOffset: number, byteLength: number): Promise<ArrayBuffer> {
    await this.checkPipelines();
    this.assertUsable();
    const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
    const staging = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(buffer, byteOffset, staging, 0, size);
    this.flush();
    this.counters.readbacks++;
    try {
      await this.settle(staging.mapAsync(GPUMapMode.READ));
    } catch (e) {
      staging.destroy();
      this.throwIfFailed();
      throw new GpuError(`reading a buffer back failed: ${String(e)}`);
    }
    const out = staging.getMappedRange().slice(0, byteLength);
    staging.destroy();
    this.throwIfFailed();
    return out;
  }

  /** Waits for every pipeline created so far to be checked; throws the first failure. */
  async checkPipelines(): Promise<void> {
    const pending = this.unchecked;
    this.unchecked = [];
    const results = await this.settle(Promise.allSettled(pending.map((e) => e.checked)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      this.discardBatch();
      throw failed.reason;
    }
  }

  /**
   * Starts timing every dispatch with timestamp queries (see profiler.ts). Throws when the
   * adapter lacks `timestamp-query`.
   */
  startProfile(): void {
    if (!this.device.features.has('timestamp-query')) {
      throw new GpuError('profiling needs the timestamp-query feature, which this adapter lacks');
    }
    this.flush();
    this.profiler ??= new KernelProfiler(this.device);
  }

  /** Stops timing; returns GPU time per kernel family since startProfile(), largest first. */
  async stopProfile(): Promise<KernelTime[]> {
    const profiler = this.profiler;
    if (!profiler) throw new GpuError('stopProfile() without startProfile()');
    this.flush();
    this.profiler = null;
    const times = await this.settle(profiler.collect());
    profiler.destroy();
    this.throwIfFailed();
    return times;
  }

  /** Destroys the device and every pooled buffer. */
  destroy(): void {
    this.destroyed = true;
    this.discardBatch();
    this.pool.trim();
    this.device.destroy();
  }

  memory(): PoolStats {
    return this.pool.snapshot();
  }

  private discardBatch(): void {
    this.pass?.end();
    this.pass = null;
    // The dropped batch may hold the counters' clear: zero them again before the next use.
    this.workCounterNext = WORK_COUNTER_SLOTS;
    this.encoder = null; // dropped unsubmitted: it may reference an invalid pipeline
    this.uniformUsed = 0;
    this.usedInBatch = new Set();
  }

  private throwIfFailed(): void {
    if (this.lostReason) throw new GpuError(`WebGPU device lost (${this.lostReason})`);
    if (this.errors.length > 0) {
      const list = this.errors.splice(0);
      throw new GpuError(`WebGPU reported ${list.length} error(s):\n${list.join('\n')}`);
    }
  }

  private assertUsable(): void {
    if (this.lostReason) throw new GpuError(`WebGPU device lost (${this.lostReason})`);
  }

  private commandEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.commandEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}

/** Splits a workgroup count into (x, y) with both at most `maxPerDim`; x * y >= count. */
export function foldWorkgroups(count: number, maxPerDim: number): [number, number] {
  if (count <= maxPerDim) return [count, 1];
  const y = Math.ceil(count / maxPerDim);
  if (y > maxPerDim) throw new RangeError(`dispatch of ${count} workgroups is too large`);
  return [Math.ceil(count / y), y];
}

function compileFailure(
  spec: KernelSpec,
  code: string,
  segments: readonly SourceSegment[],
  info: GPUCompilationInfo,
  scopeError: GPUError | null,
): Error | null {
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    const lines = code.split('\n');
    const text = errors
      .map((m) => {
        const src = lines[m.lineNum - 1]?.trim() ?? '';
        const at = sourceLocation(segments, m.lineNum);
        return `shaders/${at.file}:${at.line}:${m.linePos}: error: ${m.message}\n    ${src}`;
      })
      .join('\n');
    return new ShaderCompileError(`WGSL compilation failed in ${spec.file}:\n${text}`, spec.file);
  }
  if (scopeError) {
    // Also a failure of this kernel on this adapter (override values it cannot hold, a driver
    // that rejects the pipeline): kernel choices drop the rows that use the file.
    return new ShaderCompileError(
      `creating the pipeline ${spec.file}:${spec.entry} failed: ${scopeError.message}`,
      spec.file,
    );
  }
  return null;
}
