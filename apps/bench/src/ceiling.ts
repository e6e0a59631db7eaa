/**
 * The `ceiling` suite: what the adapter can do at best, so the docs can state a measured upper
 * bound for kernels. Probes (src/probes/*.wgsl) time register-only multiply-adds (unrolled and
 * rolled) and per-lane loads (storage f32, storage vec4, workgroup vec4), each checked against a
 * CPU computation of the same arithmetic so a probe that did nothing cannot report a speed.
 * Next to them, PyTorch CPU (Debian's python3-torch, 2 threads) on the same machine: torch.mm
 * 1024^3 and a 3x3 conv2d, the rates a mature CPU library gets from the same cores.
 * Keys ceiling_{fma_peak,fma_rolled,load_f32,load_vec4,load_shared_vec4} {ours, unit} and
 * peer_torch_{mm,conv3x3} {peer, unit}.
 */
import { readFileSync } from 'node:fs';
import type { Gpu, KernelSpec } from '@pfgmpp/tensor/node';
import { runTorchPeer } from './peers/torch.ts';
import { printTable } from './table.ts';

/**
 * Invocations per workgroup (the WG override) and workgroups: 256 keeps both CPU threads of a
 * software rasterizer busy; a GPU needs far more to fill its cores, and the multiply-add probes
 * (checked per invocation class, so any count is cheap to check) run 4,096 there.
 */
const WG = 64;
const WORKGROUPS = 256;
const GPU_FMA_WORKGROUPS = 4096;
const INVOCATIONS = WG * WORKGROUPS;

/** Multiply-add probes: 16 accumulators per invocation, TRIPS updates each. */
const FMA_TRIPS = 8192;
/** 1 - 2^-12: |a| < 1 so the recurrence converges, slowly enough that a^TRIPS (e^-2) still
 * depends on the trip count, so a loop that ran too few times gives a different result. */
const FMA_A = 1 - 2 ** -12;
/** Fixed point b / (1 - a) = 0.5, below every start value but one, so deviations do not cancel. */
const FMA_B = 2 ** -13;

/** Load probes: loads per invocation, and the source buffer of 2^16 f32 (256 KiB, cache-resident). */
const LOAD_TRIPS = 4096;
const LOAD_FLOATS = 2 ** 16;
/** Stride between one invocation's consecutive loads (odd, so the addresses wander). */
const LOAD_STEP = 4099;
/** Tile of load_shared_vec4.wgsl in vec4 elements. */
const TILE = 512;

interface Probe {
  key: string;
  label: string;
  unit: string;
  /** Work per invocation in `unit` x 1e9 (FLOPs or values). */
  workPerInvocation: number;
  params: ArrayBuffer;
  /** Workgroups on a GPU (software adapters: WORKGROUPS). */
  gpuWorkgroups?: number;
  /** Binds the 256 KiB source buffer before the output. */
  readsData: boolean;
  /** The output of `invocations` invocations. */
  expected: (invocations: number) => Float64Array;
  /** Largest accepted |got - expected| for an expected value. */
  tolerance: (expected: number) => number;
}

function probeSpec(name: string, readsData: boolean): KernelSpec {
  const file = `${name}.wgsl`;
  const source = readFileSync(new URL(`./probes/${file}`, import.meta.url), 'utf8');
  const bindings = readsData ? (['read', 'read', 'write'] as const) : (['read', 'write'] as const);
  return { file, entry: 'main', bindings, workgroupSize: WG, source };
}

/** Params struct of the fma probes: {trips: u32, a: f32, b: f32} (padded to 16 bytes). */
function fmaParams(): ArrayBuffer {
  const buf = new ArrayBuffer(16);
  new Uint32Array(buf, 0, 1)[0] = FMA_TRIPS;
  new Float32Array(buf, 4, 2).set([FMA_A, FMA_B]);
  return buf;
}

/** Params struct of the load probes: {trips, mask, step}, all u32 (mask in elements - 1). */
function loadParams(mask: number): ArrayBuffer {
  return new Uint32Array([LOAD_TRIPS, mask, LOAD_STEP, 0]).buffer;
}

/** The fma probes' output in float32 arithmetic: 8 invocation classes (gid & 7). */
function fmaExpected(invocations: number): Float64Array {
  const f = Math.fround;
  const a = f(FMA_A);
  const b = f(FMA_B);
  const perClass = [...Array(8).keys()].map((c) => {
    const acc = Float32Array.from({ length: 16 }, (_, k) => k * 0.25 + c * 0.03125);
    for (let t = 0; t < FMA_TRIPS; t++) {
      // WGSL fma() may be fused or mul then add; the CPU rounds twice (mul+add, what lavapipe
      // does), and the tolerance covers a fused result.
      for (let k = 0; k < 16; k++) acc[k] = f(f((acc[k] as number) * a) + b);
    }
    // The shader sums vec4s ((acc0 + acc1) + acc2) + acc3, then ((x + y) + z) + w.
    const s = [0, 1, 2, 3].map((c4) =>
      f(
        f(f((acc[c4] as number) + (acc[4 + c4] as number)) + (acc[8 + c4] as number)) +
          (acc[12 + c4] as number),
      ),
    );
    return f(f(f((s[0] as number) + (s[1] as number)) + (s[2] as number)) + (s[3] as number));
  });
  return Float64Array.from({ length: invocations }, (_, g) => perClass[g & 7] as number);
}

/** Source values: element j is j % 7, small integers so every sum below 2^24 is exact in f32. */
function sourceData(): Float32Array<ArrayBuffer> {
  const data = new Float32Array(LOAD_FLOATS);
  for (let j = 0; j < LOAD_FLOATS; j++) data[j] = j % 7;
  return data;
}

/**
 * Sum of the floats each invocation loads: element (gid + i * step) & mask for i < trips, with
 * `width` floats per element (1 for f32, 4 for vec4). Integers below 2^24, exact in any order.
 */
function loadExpected(width: number, mask: number): Float64Array {
  const data = sourceData();
  const out = new Float64Array(INVOCATIONS);
  for (let g = 0; g < INVOCATIONS; g++) {
    let s = 0;
    for (let i = 0; i < LOAD_TRIPS; i++) {
      const e = ((g + i * LOAD_STEP) & mask) * width;
      for (let c = 0; c < width; c++) s += data[e + c] as number;
    }
    out[g] = s;
  }
  return out;
}

// Largest load sum: 6 * 4 * 4096 = 98,304 < 2^24, so f32 sums of these integers are exact and
// the load probes must match exactly.
const exact = () => 0;
/**
 * fma probes: each step rounds to within an ulp (about 5e-7 for values up to 4.2) and the error
 * is damped by a per step, so it accumulates to at most ulp / (1 - a) = 4096 ulp, about 2e-3 per
 * accumulator when a fused fma rounds differently from mul+add. 1e-3 of the sum (about 11) plus
 * 1e-3 covers that, while a loop run half as often moves the result by about 1.
 */
const fmaTolerance = (e: number) => 1e-3 * Math.abs(e) + 1e-3;

const PROBES: Probe[] = [
  {
    key: 'fma_peak',
    label: 'fma_peak: 16 acc, unrolled 8x',
    unit: 'GFLOP/s',
    workPerInvocation: 2 * 16 * FMA_TRIPS,
    params: fmaParams(),
    gpuWorkgroups: GPU_FMA_WORKGROUPS,
    readsData: false,
    expected: fmaExpected,
    tolerance: fmaTolerance,
  },
  {
    key: 'fma_rolled',
    label: 'fma_rolled: 16 acc, not unrolled',
    unit: 'GFLOP/s',
    workPerInvocation: 2 * 16 * FMA_TRIPS,
    params: fmaParams(),
    gpuWorkgroups: GPU_FMA_WORKGROUPS,
    readsData: false,
    expected: fmaExpected,
    tolerance: fmaTolerance,
  },
  {
    key: 'load_f32',
    label: 'load_f32: storage, per lane',
    unit: 'G values/s',
    workPerInvocation: LOAD_TRIPS,
    params: loadParams(LOAD_FLOATS - 1),
    readsData: true,
    expected: () => loadExpected(1, LOAD_FLOATS - 1),
    tolerance: exact,
  },
  {
    key: 'load_vec4',
    label: 'load_vec4: storage, per lane',
    unit: 'G floats/s',
    workPerInvocation: 4 * LOAD_TRIPS,
    params: loadParams(LOAD_FLOATS / 4 - 1),
    readsData: true,
    expected: () => loadExpected(4, LOAD_FLOATS / 4 - 1),
    tolerance: exact,
  },
  {
    key: 'load_shared_vec4',
    label: 'load_shared_vec4: workgroup',
    unit: 'G floats/s',
    workPerInvocation: 4 * LOAD_TRIPS,
    params: loadParams(TILE - 1),
    readsData: true,
    expected: () => loadExpected(4, TILE - 1),
    tolerance: exact,
  },
];

/** Runs one probe: a warm-up (compiles the pipeline), then the best of 3 dispatch+sync times. */
async function runProbe(gpu: Gpu, p: Probe, data: GPUBuffer): Promise<number> {
  const workgroups = gpu.isSoftware ? WORKGROUPS : (p.gpuWorkgroups ?? WORKGROUPS);
  const invocations = WG * workgroups;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const params = gpu.device.createBuffer({ size: p.params.byteLength, usage });
  const out = gpu.device.createBuffer({ size: invocations * 4, usage });
  try {
    gpu.upload(params, new Uint8Array(p.params));
    gpu.upload(out, new Float32Array(invocations).fill(Number.NaN));
    const spec = probeSpec(p.key, p.readsData);
    const buffers = p.readsData ? [params, data, out] : [params, out];
    let bestMs = Number.POSITIVE_INFINITY;
    for (let r = 0; r < 4; r++) {
      const t0 = performance.now();
      gpu.dispatch(spec, {}, buffers, null, workgroups);
      await gpu.sync();
      if (r > 0) bestMs = Math.min(bestMs, performance.now() - t0);
    }
    const got = new Float32Array(await gpu.read(out, 0, invocations * 4));
    const want = p.expected(invocations);
    for (let g = 0; g < invocations; g++) {
      const e = want[g] as number;
      const v = got[g] as number;
      if (!(Math.abs(v - e) <= p.tolerance(e))) {
        throw new Error(
          `ceiling probe ${p.key} computed a wrong result: invocation ${g} wrote ${v}, expected ${e} ` +
            `(tolerance ${p.tolerance(e)}); its speed would be meaningless`,
        );
      }
    }
    // work in units per invocation x invocations / ms / 1e6 = G units per second.
    return (p.workPerInvocation * invocations) / bestMs / 1e6;
  } finally {
    params.destroy();
    out.destroy();
  }
}

interface TorchFigures {
  mm: number;
  conv3x3: number;
}

/** PyTorch CPU figures in GFLOP/s, or the reason when Debian's python3-torch is missing. */
function torchPeer(): TorchFigures | string {
  const r = runTorchPeer('ceiling_torch.py', { threads: 2, runs: 3 });
  return typeof r === 'string'
    ? r
    : { mm: r.mm_gflops as number, conv3x3: r.conv3x3_gflops as number };
}

/** The best register-only multiply-add rate of the adapter, GFLOP/s (probe fma_peak). */
export async function fmaPeak(gpu: Gpu): Promise<number> {
  const data = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
  try {
    return await runProbe(gpu, PROBES[0] as Probe, data);
  } finally {
    data.destroy();
  }
}

export async function runCeilingSuite(gpu: Gpu, json: boolean): Promise<number> {
  console.log(
    `adapter: ${gpu.adapterInfo.description || gpu.adapterInfo.vendor}; ${WORKGROUPS} workgroups x ${WG}; ` +
      'best of 3 after a warm-up; peer: PyTorch CPU, 2 threads',
  );
  const data = gpu.device.createBuffer({
    size: LOAD_FLOATS * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  gpu.upload(data, sourceData());
  const results: Record<string, { ours?: number; peer?: number; unit: string }> = {};
  const rows: string[][] = [['probe', 'value', 'unit']];
  try {
    for (const p of PROBES) {
      process.stderr.write(`  ${p.key}...\n`);
      const v = await runProbe(gpu, p, data);
      results[`ceiling_${p.key}`] = { ours: v, unit: p.unit };
      rows.push([p.label, v.toFixed(2), p.unit]);
    }
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 1;
  } finally {
    data.destroy();
  }
  process.stderr.write('  PyTorch...\n');
  const peer = torchPeer();
  if (typeof peer === 'string') process.stderr.write(`  peer skipped: ${peer}\n`);
  const mm = typeof peer === 'string' ? Number.NaN : peer.mm;
  const conv = typeof peer === 'string' ? Number.NaN : peer.conv3x3;
  const fmt = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(2));
  results.peer_torch_mm = { peer: mm, unit: 'GFLOP/s' };
  results.peer_torch_conv3x3 = { peer: conv, unit: 'GFLOP/s' };
  rows.push(['peer: torch.mm 1024x1024x1024', fmt(mm), 'GFLOP/s']);
  rows.push(['peer: conv2d 3x3 16x64x32x32 -> 64', fmt(conv), 'GFLOP/s']);
  printTable(rows, [0, 2]);
  // The bound: no kernel can multiply-add faster than the best register-only rate.
  const best = Math.max(
    results.ceiling_fma_peak?.ours as number,
    results.ceiling_fma_rolled?.ours as number,
  );
  console.log(
    `bound: the adapter's best multiply-add rate is ${best.toFixed(2)} GFLOP/s` +
      (Number.isNaN(mm)
        ? ' (no PyTorch figure to compare)'
        : `, ${(best / mm).toFixed(2)}x PyTorch's matmul rate (${mm.toFixed(2)} GFLOP/s); ` +
          `no kernel on this adapter can beat that ratio to torch.mm ` +
          // Debian's torch.mm uses a generic BLAS while conv2d goes through oneDNN, so the
          // conv ratio is the fairer view of what the same cores can do.
          `(${(best / conv).toFixed(2)}x PyTorch's oneDNN conv2d)`),
  );
  if (json) console.log(JSON.stringify(results));
  return 0;
}
