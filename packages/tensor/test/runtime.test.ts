/**
 * The runtime: huge dispatches fold into 2-D, shader errors name file and line, memory stays
 * flat in a training-like loop, scopes free what they should, batches are not submitted per op.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as T from '@pfgmpp/tensor/node';
import {
  bucketSize,
  foldWorkgroups,
  type Gpu,
  OP_TABLE,
  paramsLayout,
  scope,
  ShaderCompileError,
  tensor,
} from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';

describe('pure helpers', () => {
  it('folds workgroup counts above the per-dimension limit', () => {
    expect(foldWorkgroups(10, 65535)).toEqual([10, 1]);
    const [x, y] = foldWorkgroups(70_000, 65535);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y).toBeGreaterThanOrEqual(70_000);
    expect(() => foldWorkgroups(65535 * 65535 + 1, 65535)).toThrow(/too large/);
  });
  it("reads each shader's struct Params with WGSL's uniform layout (vec4 arrays 16-byte aligned)", () => {
    const at = (file: string) =>
      Object.fromEntries(paramsLayout(file)!.fields.map((f) => [f.name, [f.offset, f.words]]));
    // binary.wgsl: n, rank, _p0, _p1, then three array<vec4<u32>, 2>.
    expect(at('binary.wgsl')).toMatchObject({ n: [0, 1], shape: [4, 8], b_strides: [20, 8] });
    // conv3x3_same.wgsl: eleven u32, then the f32 scale.
    expect(paramsLayout('conv3x3_same.wgsl')!.fields[11]).toMatchObject({
      name: 'scale',
      type: 'f32',
      offset: 11,
    });
    expect(paramsLayout('conv_pack.wgsl')!.fields.find((f) => f.name === 'kh0')?.type).toBe('i32');
    expect(paramsLayout('lib/work_items.wgsl')).toBeNull();
  });
  it('buckets sizes with at most 25% waste', () => {
    for (const n of [1, 255, 256, 257, 1000, 4096, 5000, 123457, 2 ** 27 + 1]) {
      const b = bucketSize(n);
      expect(b).toBeGreaterThanOrEqual(n);
      expect(b).toBeLessThanOrEqual(Math.max(256, n * 1.25));
    }
  });
  it('every public op has a row in the op table', () => {
    const rows = new Set(OP_TABLE.map((r) => r.name));
    const notOps = new Set([
      'getDevice',
      'resetDevice',
      'requestGpu',
      'setGpuProvider',
      'activeGpu',
      'withGpu',
      'Gpu',
      'foldWorkgroups',
      'GpuError',
      'ShaderCompileError',
      'TensorError',
      'kernel',
      'KERNELS',
      'paramsLayout',
      'KernelChoices',
      'registerRows',
      'describeTiming',
      'setKernelSettings',
      'CONV_ROWS',
      'convProblem',
      'convGeometry',
      'MATMUL_ROWS',
      'matmulProblem',
      'runMatmul',
      'cacheDir',
      'bucketSize',
      'Tensor',
      'sizeOf',
      'scope',
      'scopeAsync',
      'keep',
      'noGrad',
      'isGradEnabled',
      'clearTape',
      'tapeLength',
      'needsGrad',
      'record',
      'save',
      'OP_TABLE',
      'UNARY',
      'BINARY',
      'backward',
      'unary',
      'binary',
    ]);
    const missing = Object.keys(T).filter((k) => !notOps.has(k) && !rows.has(k));
    expect(missing).toEqual([]);
    for (const r of OP_TABLE) {
      expect(r.kernel.length).toBeGreaterThan(0);
      expect(r.reference.length).toBeGreaterThan(0);
      expect(r.backward.length).toBeGreaterThan(0);
    }
  });
});

describe.skipIf(GPU_SKIP_REASON)('runtime on the GPU', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });

  it('runs a dispatch of more than 65,535 workgroups (folded into 2-D)', async () => {
    const n = 64 * 70_001 + 3; // 70,002 workgroups of 64
    const x = T.full([n], 1.5);
    const y = T.affine(x, 2, -1);
    const values = await y.read();
    expect(values.length).toBe(n);
    expect(values[0]).toBe(2);
    expect(values[n - 1]).toBe(2);
    expect(values.every((v) => v === 2)).toBe(true);
    const s = await scope(() => T.sum(y)).item();
    expect(s).toBe(2 * n);
    x.dispose();
    y.dispose();
  });

  it('hands out work counters one slot per dispatch, zeroing the buffer after the last slot', () => {
    const first = gpu.workCounter();
    const seen = [first.slot];
    for (let i = 0; i < 4096; i++) seen.push(gpu.workCounter().slot);
    expect(seen.every((slot) => slot >= 0 && slot < 4096)).toBe(true);
    expect(seen[4096]).toBe(first.slot); // a full cycle later
    const wrap = seen.indexOf(0, 1);
    expect(seen[wrap - 1]).toBe(4095);
    expect(new Set(seen.slice(0, 4096)).size).toBe(4096); // each slot once per cycle
  });

  it('takes uniforms by field name and refuses a missing, unknown or ill-typed field', async () => {
    const y = T.full([8], 3);
    const fill = (params: Record<string, unknown>) => () =>
      gpu.dispatch(T.KERNELS.fill, {}, [y.buffer], params as never, 1);
    // fill.wgsl's struct Params is { n: u32, value: f32, _p0, _p1 }: padding is never named.
    expect(fill({ n: 8 })).toThrow(/uniform field "value" of shaders\/fill\.wgsl is missing/);
    expect(fill({ n: 8, value: 1, valeu: 2 })).toThrow(/unknown uniform field "valeu"/);
    expect(fill({ n: 8, value: 1, _p0: 0 })).toThrow(/unknown uniform field "_p0"/);
    expect(fill({ n: -1, value: 1 })).toThrow(/field n is u32, got -1/);
    expect(fill({ n: 2.5, value: 1 })).toThrow(/field n is u32, got 2.5/);
    expect(fill({ n: '8', value: 1 })).toThrow(/field n must be a number/);
    expect(fill({ n: 8, value: [1] })).toThrow(/field value must be a number/);
    // An array field holds at most its words (copy.wgsl: shape is array<vec4<u32>, 2>).
    const copy = () =>
      gpu.dispatch(
        T.KERNELS.copy,
        { CH: 16 },
        [y.buffer, y.buffer],
        {
          n: 1,
          rank: 9,
          src_offset: 0,
          dst_offset: 0,
          shape: new Array(9).fill(1),
          src_strides: [],
          dst_strides: [],
        },
        1,
      );
    expect(copy).toThrow(/shape holds at most 8 values, got 9/);
    // Nothing of the refused dispatches was recorded; a correct one lands each value at its
    // field's offset (value is an f32 after the u32 n).
    fill({ n: 5, value: -2.5 })();
    expect(Array.from(await y.read())).toEqual([-2.5, -2.5, -2.5, -2.5, -2.5, 3, 3, 3]);
    y.dispose();
  });

  it('reports a WGSL syntax error with the file and line, and keeps working afterwards', async () => {
    const bad = {
      file: 'planted.wgsl',
      entry: 'main',
      bindings: ['write'] as const,
      workgroupSize: 64,
      source:
        '@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n\n@compute @workgroup_size(64)\nfn main() {\n  y[0] = 1.0 +;\n}\n',
    };
    const out = T.full([4], 7);
    gpu.dispatch(bad, {}, [out.buffer], null, 1);
    const err = await out.read().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ShaderCompileError);
    expect(String(err)).toMatch(/shaders\/planted\.wgsl:5:\d+: error/);
    // The same kernel used again fails at once; other work is unaffected.
    expect(() => gpu.dispatch(bad, {}, [out.buffer], null, 1)).toThrow(ShaderCompileError);
    const ok = T.affine(T.full([4], 1), 1, 1);
    expect(Array.from(await ok.read())).toEqual([2, 2, 2, 2]);
  });

  it('a kernel with bindings that disagree with its descriptor fails loudly, not with stale data', async () => {
    const spec = { ...T.KERNELS.fill, bindings: ['read', 'uniform'] as const };
    const y = T.full([4], 3);
    const before = await y.read();
    let error: unknown = null;
    try {
      gpu.dispatch(spec, {}, [y.buffer], { n: 4, value: 0 }, 1);
      await y.read();
    } catch (e) {
      error = e;
    }
    expect(String(error)).toMatch(/fill\.wgsl/);
    expect(Array.from(before)).toEqual([3, 3, 3, 3]);
  });

  it('keeps pool memory flat over 200 forward+backward iterations', async () => {
    const w = T.tensor(new Float32Array(64 * 32).fill(0.01), [64, 32]).requireGrad();
    const b = T.zeros([32]).requireGrad();
    const x = T.randn([16, 64], { seed: 1 });
    const readings: number[] = [];
    const createdCounts: number[] = [];
    for (let i = 0; i < 200; i++) {
      scope(() => {
        const h = T.silu(T.add(T.matmul(x, w), b));
        const loss = T.mean(T.square(T.softmax(h, -1)));
        T.backward(loss);
        // SGD step without recording.
        T.noGrad(() => {
          const nw = T.sub(w, T.mul(w.grad!, 0.1));
          gpu.copy(nw.buffer, 0, w.buffer, 0, w.size * 4);
        });
        w.grad!.dispose();
        w.grad = null;
        b.grad!.dispose();
        b.grad = null;
      });
      if (i % 20 === 19) {
        await gpu.sync();
        readings.push(gpu.memory().bytesInUse);
        createdCounts.push(gpu.memory().created);
      }
    }
    expect(T.tapeLength()).toBe(0);
    expect(new Set(readings).size).toBe(1);
    // After the first iterations every buffer comes from the pool: none are created.
    expect(new Set(createdCounts).size).toBe(1);
    for (const t of [w, b, x]) t.dispose();
  });

  it('scope frees everything except what is returned; dispose is idempotent; use after dispose throws', async () => {
    const before = gpu.memory().bytesInUse;
    const kept = scope(() => {
      const a = T.full([1000], 1);
      const b = T.full([1000], 2);
      return { sum: T.add(a, b), list: [T.mul(a, b)] };
    });
    expect(gpu.memory().bytesInUse).toBe(before + 2 * bucketSize(4000));
    expect(Array.from((await kept.sum.read()).slice(0, 2))).toEqual([3, 3]);
    kept.sum.dispose();
    kept.sum.dispose();
    kept.list[0]!.dispose();
    expect(gpu.memory().bytesInUse).toBe(before);
    expect(() => T.neg(kept.sum)).toThrow(/after dispose/);
  });

  it('batches dispatches: many ops, one submit at read-back', async () => {
    await gpu.sync();
    const submits = gpu.counters.submits;
    const y = scope(() => {
      let t = T.full([100], 0);
      for (let i = 0; i < 50; i++) t = T.affine(t, 1, 1);
      return t;
    });
    expect(gpu.counters.submits).toBe(submits);
    expect((await y.read())[99]).toBe(50);
    expect(gpu.counters.submits).toBe(submits + 1);
    y.dispose();
  });

  it('submits a long batch in parts of at most 128 dispatches, so the device starts early', async () => {
    await gpu.sync();
    const submits = gpu.counters.submits;
    const dispatches = gpu.counters.dispatches;
    const y = scope(() => {
      let t = T.full([100], 0);
      for (let i = 0; i < 300; i++) t = T.affine(t, 1, 1);
      return t;
    });
    const queued = gpu.counters.dispatches - dispatches;
    expect(queued).toBeGreaterThanOrEqual(300);
    // Submitted while recording: every full part of 128, before any read.
    expect(gpu.counters.submits - submits).toBe(Math.floor(queued / 128));
    expect((await y.read())[99]).toBe(300);
    y.dispose();
  });

  // Dawn's Node bindings poll from a setImmediate loop while a promise of theirs is pending;
  // awaited directly, sync() kept this thread at 70-80% of a core for the whole wait.
  it.skipIf(!existsSync(`/proc/self/task/${process.pid}/stat`))(
    'waits for the GPU without keeping this thread busy (Linux: /proc thread times)',
    async () => {
      const a = T.randn([512, 512], { seed: 1 });
      await gpu.sync();
      const threadCpuMs = () => {
        const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, 100 Hz ticks
      };
      let wallMs = 0;
      let cpuMs = 0;
      // Enough queued work for a wait of a few hundred ms, measured around the wait alone.
      for (let round = 0; round < 3 && wallMs < 300; round++) {
        const outs = Array.from({ length: 8 << round }, () => T.matmul(a, a));
        const cpu0 = threadCpuMs();
        const t0 = performance.now();
        await gpu.sync();
        wallMs = performance.now() - t0;
        cpuMs = threadCpuMs() - cpu0;
        for (const o of outs) o.dispose();
      }
      a.dispose();
      expect(wallMs).toBeGreaterThan(150);
      expect(cpuMs).toBeLessThan(0.25 * wallMs);
    },
  );

  it('settle() passes values and errors through after any number of polls', async () => {
    const later = <T>(ms: number, f: () => T) =>
      new Promise<T>((resolve, reject) =>
        setTimeout(() => {
          try {
            resolve(f());
          } catch (e) {
            reject(e);
          }
        }, ms),
      );
    expect(await gpu.settle(Promise.resolve(3))).toBe(3);
    expect(await gpu.settle(later(30, () => 7))).toBe(7);
    await expect(
      gpu.settle(
        later(20, () => {
          throw new Error('boom');
        }),
      ),
    ).rejects.toThrow('boom');
  });

  it('an upload into a buffer still used by queued work is ordered after that work', async () => {
    const a = T.full([8], 1);
    const b = T.affine(a, 1, 1); // queued: reads a
    gpu.upload(a.buffer, new Float32Array(8).fill(100)); // must not overtake the queued read
    const c = T.affine(a, 1, 1);
    expect(Array.from(await b.read())).toEqual(new Array(8).fill(2));
    expect(Array.from(await c.read())).toEqual(new Array(8).fill(101));
    for (const t of [a, b, c]) t.dispose();
  });

  it('reports uncaptured WebGPU errors at the next sync, and a lost device on every later op', async () => {
    const other = await T.requestGpu();
    const t = T.full([4], 1, other);
    // A misaligned write is a validation error outside any error scope: uncapturederror.
    other.device.queue.writeBuffer(t.buffer, 2, new Uint8Array(4));
    await expect(other.sync()).rejects.toThrow(/WebGPU reported 1 error/);
    other.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(() => T.full([4], 1, other)).toThrow(/device lost/);
    expect(T.activeGpu()).toBe(gpu);
  });

  it('profiles kernels with timestamp queries, summed per kernel family', async () => {
    gpu.startProfile();
    const before = gpu.counters.dispatches;
    const y = scope(() => {
      const a = T.full([256, 256], 1);
      return T.sum(T.exp(T.matmul(a, a)));
    });
    const times = await gpu.stopProfile();
    expect(await y.item()).toBeGreaterThan(0);
    y.dispose();
    // Families are file:entry; matmul is matmul_sg.wgsl where the device has subgroups.
    const find = (prefix: string) => times.find((t) => t.kernel.startsWith(prefix));
    for (const k of ['matmul', 'unary.wgsl:main4', 'fill.wgsl:main4', 'reduce.wgsl:main']) {
      expect(find(k), k).toBeDefined();
    }
    expect(times.every((t) => t.ms >= 0 && t.dispatches > 0)).toBe(true);
    // Sorted largest first; every dispatch timed once. (Comparing kernels' times would be
    // flaky: lavapipe's timestamps include per-pass overhead of a few milliseconds.)
    expect(times.map((t) => t.ms)).toEqual([...times.map((t) => t.ms)].sort((a, b) => b - a));
    const timed = times.reduce((p, t) => p + t.dispatches, 0);
    expect(timed).toBe(gpu.counters.dispatches - before);
    expect(times.reduce((p, t) => p + t.ms, 0)).toBeGreaterThan(0);
  });

  it('gives clear errors for bad shapes and values', () => {
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2, 2\]/);
    expect(() => T.zeros([2, -1])).toThrow(/invalid shape/);
    expect(() => T.backward(T.full([2], 1))).toThrow(/does not require gradients|pass gradOutput/);
  });
});
