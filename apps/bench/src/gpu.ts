/**
 * The benchmark entry that scripts/gpu-bench.sh bundles for a GPU machine without network
 * (one file: no test runner, no TF.js). `node bench.mjs STEP OUTDIR`, STEP one of:
 *   adapter   the adapter, its limits and features (adapter.json)
 *   check     every convolution and matmul row forced on cases with odd sizes, strides, groups
 *             and transposes, forward and both gradients against the float64 references
 *             (check.json); a row that fails is named, the rest still run
 *   rows | ceiling | unet | fid   the suites of `npm run bench`, JSON to STEP.json
 *   summary   summary.json and summary.txt from the files above: GFLOP/s, the share of the
 *             GPU's fp32 peak (datasheet, where the device is known; else the measured
 *             fma_peak), the row the tuner chose, ratios to PyTorch
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  backward,
  CONV_ROWS,
  conv2d,
  convTranspose2d,
  type Gpu,
  getDevice,
  MATMUL_ROWS,
  matmul,
  mul,
  scope,
  sum,
  type Tensor,
  tensor,
} from '@pfgmpp/tensor/node';
import {
  conv2dRef,
  convTranspose2dRef,
  matmulRef,
  type NDArray,
  nd,
} from '@pfgmpp/tensor/reference';
import { runCeilingSuite } from './ceiling.ts';
import { runFidSuite } from './fid-suite.ts';
import { runRowsTable } from './rows-suite.ts';
import { writeSummary } from './gpu-summary.ts';
import { runUnetSuite } from './unet-suite.ts';

/** Uniform values in [-1, 1] from a 32-bit LCG (the same on every machine). */
function random(shape: number[], seed: number): NDArray {
  let a = seed >>> 0;
  const n = shape.reduce((p, d) => p * d, 1);
  return nd(
    shape,
    Float64Array.from({ length: n }, () => {
      a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
      return Math.fround((a / 2 ** 32) * 2 - 1);
    }),
  );
}

/** Largest |got - want| over the tolerance atol + rtol |want| (<= 1 passes). */
function errorRatio(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol = 1e-5) {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as number;
    const e = Math.abs((got[i] as number) - w) / (atol + rtol * Math.abs(w));
    worst = Math.max(worst, Number.isNaN(e) ? Number.POSITIVE_INFINITY : e);
  }
  return worst;
}

/** Float32 sums of k products of values in [-1, 1] (conv.test.ts's convTol). */
const sumTol = (k: number) => k * 2 ** -24 * Math.max(4, Math.sqrt(k)) + 1e-7;

interface ConvCase {
  x: number[];
  w: number[];
  stride: number;
  padding: [number, number];
  groups: number;
}

const CONV_CASES: ConvCase[] = [
  { x: [2, 5, 6, 16], w: [19, 5, 3, 3], stride: 1, padding: [1, 1], groups: 1 },
  { x: [2, 6, 8, 8], w: [12, 6, 1, 1], stride: 1, padding: [0, 0], groups: 1 },
  { x: [2, 4, 11, 13], w: [20, 2, 3, 3], stride: 2, padding: [1, 1], groups: 2 },
  { x: [1, 6, 17, 17], w: [9, 6, 1, 7], stride: 1, padding: [0, 3], groups: 1 },
  { x: [2, 6, 8, 8], w: [6, 1, 2, 2], stride: 2, padding: [0, 0], groups: 6 },
  { x: [1, 3, 35, 35], w: [70, 3, 3, 3], stride: 2, padding: [0, 0], groups: 1 },
];

/** dw of sum(conv2d(x, w) * G) in float64: sum over images and pixels of G * x windows. */
function weightGradRef(X: NDArray, G: NDArray, c: ConvCase): Float64Array {
  const [N, C, H, W] = X.shape as [number, number, number, number];
  const [Co, cg, KH, KW] = c.w as [number, number, number, number];
  const [, , OH, OW] = G.shape as [number, number, number, number];
  const mg = Co / c.groups;
  const out = new Float64Array(Co * cg * KH * KW);
  for (let co = 0; co < Co; co++)
    for (let ci = 0; ci < cg; ci++)
      for (let i = 0; i < KH; i++)
        for (let j = 0; j < KW; j++) {
          let s = 0;
          const ch = Math.floor(co / mg) * cg + ci;
          for (let n = 0; n < N; n++)
            for (let oy = 0; oy < OH; oy++)
              for (let ox = 0; ox < OW; ox++) {
                const iy = oy * c.stride - c.padding[0] + i;
                const ix = ox * c.stride - c.padding[1] + j;
                if (iy < 0 || ix < 0 || iy >= H || ix >= W) continue;
                s +=
                  (G.data[((n * Co + co) * OH + oy) * OW + ox] as number) *
                  (X.data[((n * C + ch) * H + iy) * W + ix] as number);
              }
          out[((co * cg + ci) * KH + i) * KW + j] = s;
        }
  return out;
}

interface RowCheck {
  row: string;
  cases: number;
  /** Largest error over its tolerance (<= 1: within it). */
  worst: number;
  failures: string[];
}

async function checkConvRow(gpu: Gpu, name: string): Promise<RowCheck> {
  gpu.kernels.restrict(name === 'conv_rows_plain' ? [name] : [name, 'conv_rows_plain']);
  gpu.kernels.forget(); // no cached choice may stand in for the row under test
  gpu.kernels.clearUsed();
  const r: RowCheck = { row: name, cases: 0, worst: 0, failures: [] };
  for (const [k, c] of CONV_CASES.entries()) {
    const X = random(c.x, 10 * k + 1);
    const Wt = random(c.w, 10 * k + 2);
    const o = { stride: c.stride, padding: c.padding, groups: c.groups };
    const ref = conv2dRef(X, Wt, null, o);
    const G = random([...ref.shape], 10 * k + 3);
    const taps = (c.w[1] as number) * (c.w[2] as number) * (c.w[3] as number);
    const [x, w] = [
      tensor(Float32Array.from(X.data), X.shape),
      tensor(Float32Array.from(Wt.data), Wt.shape),
    ];
    x.requireGrad();
    w.requireGrad();
    try {
      const y = scope(() => {
        const out = conv2d(x, w, null, o);
        backward(sum(mul(out, tensor(Float32Array.from(G.data), out.shape))));
        return out.detach();
      });
      const [OH, OW] = [ref.shape[2] as number, ref.shape[3] as number];
      const outputPadding: [number, number] = [
        (c.x[2] as number) - ((OH - 1) * c.stride - 2 * c.padding[0] + (c.w[2] as number)),
        (c.x[3] as number) - ((OW - 1) * c.stride - 2 * c.padding[1] + (c.w[3] as number)),
      ];
      const dx = convTranspose2dRef(G, Wt, null, { ...o, outputPadding });
      const pixels = (ref.shape[0] as number) * OH * OW;
      const checks: [string, number][] = [
        ['y', errorRatio(await y.read(), ref.data, sumTol(taps))],
        ['dx', errorRatio(await x.grad!.read(), dx.data, sumTol(taps))],
        ['dw', errorRatio(await w.grad!.read(), weightGradRef(X, G, c), sumTol(pixels))],
      ];
      // convTranspose2d forward (pass dx of the same geometry) with the same weights.
      const yt = scope(() =>
        convTranspose2d(tensor(Float32Array.from(G.data), G.shape), w, null, {
          ...o,
          outputPadding,
        }),
      );
      checks.push(['convT', errorRatio(await yt.read(), dx.data, sumTol(taps))]);
      for (const [what, e] of checks) {
        r.worst = Math.max(r.worst, e);
        if (!(e <= 1))
          r.failures.push(`x[${c.x}] w[${c.w}] s${c.stride} ${what}: ${e.toFixed(2)}x tolerance`);
      }
      for (const t of [y, yt]) t.dispose();
    } catch (e) {
      r.failures.push(
        `x[${c.x}] w[${c.w}]: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
      );
    } finally {
      for (const t of [x, w] as Tensor[]) {
        t.grad?.dispose();
        t.dispose();
      }
    }
    r.cases++;
  }
  if (!Object.values(gpu.kernels.usedRows()).includes(name)) r.failures.push('the row never ran');
  return r;
}

async function checkMatmulRow(gpu: Gpu, name: string): Promise<RowCheck> {
  gpu.kernels.restrict([name]);
  gpu.kernels.forget();
  gpu.kernels.clearUsed();
  const r: RowCheck = { row: name, cases: 0, worst: 0, failures: [] };
  const cases: [number[], number[], boolean, boolean][] = [
    [[7, 13], [13, 5], false, false],
    [[3, 31, 9], [3, 12, 31], true, true],
    [[2, 64, 130], [2, 130, 67], false, false],
    [[129, 257], [129, 33], true, false],
  ];
  for (const [k, [sa, sb, ta, tb]] of cases.entries()) {
    const A = random(sa, 100 + k);
    const B = random(sb, 200 + k);
    try {
      const c = scope(() =>
        matmul(
          tensor(Float32Array.from(A.data), A.shape),
          tensor(Float32Array.from(B.data), B.shape),
          {
            transA: ta,
            transB: tb,
          },
        ),
      );
      const kdim = ta ? (sa.at(-2) as number) : (sa.at(-1) as number);
      const e = errorRatio(await c.read(), matmulRef(A, B, ta, tb).data, sumTol(kdim));
      r.worst = Math.max(r.worst, e);
      if (!(e <= 1))
        r.failures.push(
          `[${sa}]${ta ? '^T' : ''} @ [${sb}]${tb ? '^T' : ''}: ${e.toFixed(2)}x tolerance`,
        );
      c.dispose();
    } catch (e) {
      r.failures.push(
        `[${sa}] @ [${sb}]: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
      );
    }
    r.cases++;
  }
  if (!Object.values(gpu.kernels.usedRows()).includes(name)) r.failures.push('the row never ran');
  return r;
}

async function main(argv: string[]): Promise<number> {
  const [step, out] = argv;
  if (!step || !out) {
    console.error('usage: bench.mjs adapter|check|rows|ceiling|unet|fid|summary OUTDIR');
    return 2;
  }
  if (step === 'summary') return writeSummary(out);
  const gpu = await getDevice();
  const save = (name: string, value: unknown) =>
    writeFileSync(join(out, `${name}.json`), `${JSON.stringify(value, null, 1)}\n`);
  if (step === 'adapter') {
    const i = gpu.adapterInfo as GPUAdapterInfo & Record<string, unknown>;
    const limits: Record<string, number> = {};
    for (const k of [
      'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup',
      'maxComputeWorkgroupSizeX',
      'maxStorageBufferBindingSize',
      'maxBufferSize',
    ] as const)
      limits[k] = gpu.device.limits[k];
    const info = {
      vendor: i.vendor,
      architecture: i.architecture,
      device: i.device,
      description: i.description,
      subgroupMinSize: i.subgroupMinSize,
      subgroupMaxSize: i.subgroupMaxSize,
      software: gpu.isSoftware,
      features: [...gpu.features].sort(),
      limits,
    };
    console.log(JSON.stringify(info, null, 1));
    save('adapter', info);
    return 0;
  }
  if (step === 'check') {
    const results: RowCheck[] = [];
    for (const row of CONV_ROWS) results.push(await checkConvRow(gpu, row.name));
    for (const row of MATMUL_ROWS) results.push(await checkMatmulRow(gpu, row.name));
    gpu.kernels.restrict(null);
    for (const r of results) {
      console.log(
        `check ${r.row}: ${r.cases} cases, ${r.failures.length ? `FAILED: ${r.failures.join('; ')}` : `passed (worst ${r.worst.toFixed(2)} of tolerance)`}`,
      );
    }
    save('check', results);
    return results.some((r) => r.failures.length) ? 1 : 0;
  }
  if (step === 'rows') {
    save('rows', await runRowsTable(gpu));
    return 0;
  }
  // The suites print their JSON as the last line of stdout; the script keeps it.
  if (step === 'ceiling') return runCeilingSuite(gpu, true);
  if (step === 'unet') return runUnetSuite(gpu, true, undefined, 2);
  if (step === 'fid') return runFidSuite(gpu, true, false); // the Frechet part is CPU work
  console.error(`unknown step ${step}`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
