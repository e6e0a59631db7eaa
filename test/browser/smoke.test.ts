/**
 * Browser smoke suite: a subset of the kernel tests in real headless Chromium with WebGPU
 * (SwiftShader), from the same generated WGSL as Node. Values are computed in the page and
 * checked here against the float64 CPU references with the Node suites' tolerances; the RNG
 * must give the same numbers in Chromium as in Node (Dawn).
 */
import {
  BINARY,
  CONV_ROWS,
  MATMUL_ROWS,
  rand,
  randn,
  type RandomOptions,
  scope,
  UNARY,
} from '@pfgmpp/tensor/node';
import {
  type BinaryName,
  binaryRef,
  conv2dRef,
  convTranspose2dRef,
  matmulRef,
  type NDArray,
  nd,
  randomRef,
  reduceRef,
  type UnaryName,
  unaryRef,
} from '@pfgmpp/tensor/reference';
import {
  expectClose,
  GPU_SKIP_REASON,
  numericGrad,
  testGpu,
  uniformValues,
} from '@pfgmpp/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_SKIP_REASON, type Harness, startHarness } from './harness.ts';
import type { Plain } from './page/protocol.ts';

const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
/** Uniform test input, rounded to f32 so the reference sees what the GPU sees. */
const input = (shape: number[], lo: number, hi: number, seed: number) =>
  nd(shape, uniformValues(size(shape), lo, hi, seed));
const plain = (x: NDArray): Plain => ({ shape: [...x.shape], data: Array.from(x.data) });
/** Shape and values of a page result against a float64 reference, rounded to f32. */
function expectMatches(
  got: Plain,
  ref: NDArray,
  tol: { atol: number; rtol: number },
  label: string,
) {
  expect(got.shape, label).toEqual([...ref.shape]);
  expectClose(got.data, f32(ref.data), tol, label);
}

// As in reduce.test.ts and matmul.test.ts: f32 sums of O(1) terms.
const SUM_TOL = { atol: 1e-5, rtol: 1e-5 };
// As the GPU-backward checks of the Node suites.
const GRAD_TOL = { atol: 1e-5, rtol: 1e-4 };
// As conv.test.ts's gradient checks (float32 backward sums of up to a few hundred products).
const CONV_GRAD_TOL = { atol: 2e-5, rtol: 1e-4 };
// f32 sums of 18 products of values in [-1, 1]: convTol(18) of the Node suite.
const CONV_TOL = { atol: 18 * 2 ** -24 * 4 + 1e-7, rtol: 1e-6 };
// As random.test.ts: random.wgsl takes sin/cos from lib/trig.wgsl (accurate to ~1e-7 on any
// device, unlike the builtins, which SwiftShader computes to ~2e-4).
const NORMAL_TOL = { atol: 2e-6, rtol: 2e-6 };

const EXACT = { atol: 0, rtol: 0 };
interface RandomCase {
  shape: number[];
  normal: boolean;
  options: RandomOptions;
}
const label = (c: RandomCase) =>
  `${c.normal ? 'randn' : 'rand'}(${JSON.stringify(c.shape)}, ${JSON.stringify(c.options)})`;

/** The same draw in the Node process (Dawn). */
async function nodeRandom(c: RandomCase): Promise<number[]> {
  const t = scope(() => (c.normal ? randn : rand)(c.shape, c.options));
  try {
    return Array.from(await t.read());
  } finally {
    t.dispose();
  }
}

const PLANTED_SOURCE =
  '@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n\n@compute @workgroup_size(64)\nfn main() {\n  y[0] = 1.0 +;\n}\n';

describe.skipIf(BROWSER_SKIP_REASON)('kernels in headless Chromium (WebGPU on SwiftShader)', () => {
  let h: Harness | undefined;
  let startError: unknown;
  // A failed start (no chromium, a bundling error) fails every test with its message instead of
  // failing beforeAll, which would report the tests as skipped and hide the failure in the summary.
  const page = () => {
    if (!h)
      throw new Error(`the browser did not start: ${String(startError)}`, { cause: startError });
    return h;
  };

  /** The draw in the page, checked for shape. */
  const browserRandom = async (c: RandomCase): Promise<number[]> => {
    const got = await page().run('random', c);
    expect(got.shape, label(c)).toEqual(c.shape);
    return got.data;
  };

  beforeAll(async () => {
    try {
      const started = await startHarness();
      h = started; // set before the first run, so afterAll closes it whatever happens next
      const a = await started.run('adapter', null);
      // Shown in the test output so a run says which adapter the page really used.
      console.log(
        `browser WebGPU adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ')}\n` +
          `  features: ${a.features.join(', ') || '(none)'}\n  ${a.userAgent}`,
      );
    } catch (e) {
      startError = e;
      await h?.close().catch(() => {});
      h = undefined;
    }
  });
  afterEach(() => {
    h?.assertNoProblems();
  });
  afterAll(async () => {
    await h?.close();
  });

  for (const [k, name] of (
    ['exp', 'tanh', 'silu', 'relu', 'erf', 'sin', 'cos'] as UnaryName[]
  ).entries()) {
    it(`unary ${name} over 257 values`, async () => {
      const row = UNARY[name];
      const x = input([257], row.domain[0], row.domain[1], 100 + k);
      const got = await page().run('unary', { name, x: plain(x), alpha: 0, beta: 0 });
      expectMatches(got, unaryRef(name, x), row.tol, name);
    });
  }

  for (const [k, name] of (['add', 'mul', 'maximum'] as BinaryName[]).entries()) {
    it(`binary ${name} broadcasting [4, 1, 3] with [1, 5, 1]`, async () => {
      const row = BINARY[name];
      let a = input([4, 1, 3], row.domainA[0], row.domainA[1], 10 + k);
      let b = input([1, 5, 1], row.domainB[0], row.domainB[1], 50 + k);
      if (name === 'maximum') {
        // Ties on a coarse grid, as in elementwise.test.ts.
        a = nd(
          a.shape,
          a.data.map((v) => Math.round(v * 2) / 2),
        );
        b = nd(
          b.shape,
          b.data.map((v) => Math.round(v * 2) / 2),
        );
      }
      const got = await page().run('binary', { name, a: plain(a), b: plain(b) });
      expectMatches(got, binaryRef(name, a, b), row.tol, name);
    });
  }

  it('sum and max over axes of a [3, 5, 7] tensor', async () => {
    const x = input([3, 5, 7], -1, 1, 3);
    for (const kind of ['sum', 'max'] as const) {
      for (const axes of [[1], [0, 2]]) {
        const got = await page().run('reduce', { kind, x: plain(x), axes });
        const tol = kind === 'sum' ? SUM_TOL : EXACT;
        expectMatches(got, reduceRef(kind, x, axes), tol, `${kind} axes ${axes}`);
      }
    }
  });

  it('matmul [7, 13] @ [13, 5] and a batched product with both operands transposed', async () => {
    const a = input([7, 13], -1, 1, 1);
    const b = input([13, 5], -1, 1, 101);
    const got = await page().run('matmul', {
      a: plain(a),
      b: plain(b),
      transA: false,
      transB: false,
    });
    expectMatches(got, matmulRef(a, b), SUM_TOL, '[7, 13] @ [13, 5]');
    // op(A) is [3, 9, 31] and op(B) is [3, 31, 12]; both are stored transposed.
    const at = input([3, 31, 9], -1, 1, 2);
    const bt = input([3, 12, 31], -1, 1, 102);
    const got2 = await page().run('matmul', {
      a: plain(at),
      b: plain(bt),
      transA: true,
      transB: true,
    });
    expectMatches(got2, matmulRef(at, bt, true, true), SUM_TOL, 'batched, transA and transB');
  });

  // The workgroup-tiled rows (workgroup memory, barriers) on SwiftShader, forced one at a time:
  // matmul with both layouts, conv2d and convTranspose2d with their gradients against the
  // float64 references; `used` proves the forced row ran.
  for (const row of MATMUL_ROWS.filter((r) => r.name.startsWith('matmul_tiled'))) {
    it(`matmul through ${row.name}: plain and batched with both operands transposed`, async () => {
      const a = input([7, 13], -1, 1, 3);
      const b = input([13, 5], -1, 1, 103);
      const got = await page().run('matmul', {
        a: plain(a),
        b: plain(b),
        transA: false,
        transB: false,
        rows: [row.name],
      });
      expectMatches(got, matmulRef(a, b), SUM_TOL, `${row.name} [7, 13] @ [13, 5]`);
      const at = input([3, 31, 9], -1, 1, 4);
      const bt = input([3, 12, 31], -1, 1, 104);
      const got2 = await page().run('matmul', {
        a: plain(at),
        b: plain(bt),
        transA: true,
        transB: true,
        rows: [row.name],
      });
      expectMatches(got2, matmulRef(at, bt, true, true), SUM_TOL, `${row.name} transposed`);
      expect(Object.values(got2.used)).toContain(row.name);
    });
  }
  for (const row of CONV_ROWS.filter((r) => r.name.startsWith('conv_tiled'))) {
    for (const transposed of [false, true]) {
      const op = transposed ? 'convTranspose2d' : 'conv2d';
      it(`${op} through ${row.name}: stride 2, padding 1, groups 2, odd sizes, with gradients`, async () => {
        const o = { stride: 2, padding: 1, groups: 2 };
        const x = input([2, 4, 7, 5], -1, 1, 20);
        const w = input(transposed ? [4, 3, 3, 3] : [6, 2, 3, 3], -1, 1, 21);
        const bias = input([6], -1, 1, 22);
        const ref = (xs: NDArray[]) =>
          transposed
            ? convTranspose2dRef(xs[0]!, xs[1]!, xs[2]!, o)
            : conv2dRef(xs[0]!, xs[1]!, xs[2]!, o);
        const y = ref([x, w, bias]);
        const g = input([...y.shape], -1, 1, 23);
        const got = await page().run('conv', {
          x: plain(x),
          w: plain(w),
          bias: plain(bias),
          g: plain(g),
          transposed,
          ...o,
          rows: [row.name],
        });
        expectMatches(got.y, y, CONV_TOL, `${row.name} ${op}`);
        const [dx, dw] = numericGrad(ref, [x, w, bias], g.data);
        expectClose(got.dx.data, f32(dx!), CONV_GRAD_TOL, `${row.name} ${op} dx`);
        expectClose(got.dw.data, f32(dw!), CONV_GRAD_TOL, `${row.name} ${op} dw`);
        // Passes y, dx and dw all ran through the row.
        expect(new Set(Object.values(got.used))).toEqual(new Set([row.name]));
      });
    }
  }

  it('autograd: gradient of sum(exp(x) * x) is exp(x) * (1 + x)', async () => {
    const x = input([23], -2, 2, 7);
    const got = await page().run('grad', { x: plain(x) });
    const ref = nd(
      x.shape,
      x.data.map((v) => Math.exp(v) * (1 + v)),
    );
    expectMatches(got, ref, GRAD_TOL, 'd/dx sum(exp(x) * x)');
  });

  describe('random numbers: the same streams in Chromium as in Node', () => {
    const UNIFORM: RandomCase[] = [
      { shape: [7], normal: false, options: { seed: 123, stream: 5, offset: 3 } },
      { shape: [5, 13], normal: false, options: { seed: 2 ** 40 + 17, perRow: true, stream: 100 } },
      { shape: [3, 2, 5], normal: false, options: { seed: 9, rowStreams: [42, 7, 1_000_000] } },
    ];
    const NORMAL: RandomCase[] = [
      { shape: [4, 257], normal: true, options: { seed: 77, perRow: true } },
      { shape: [3, 2, 5], normal: true, options: { seed: 9, rowStreams: [42, 7, 1_000_000] } },
    ];

    it('rand in Chromium equals the CPU reference and Node bit for bit', async () => {
      if (!GPU_SKIP_REASON) await testGpu();
      for (const c of UNIFORM) {
        const got = await browserRandom(c);
        expectClose(
          got,
          f32(randomRef(c.shape, false, c.options)),
          EXACT,
          `${label(c)} vs reference`,
        );
        // Node's side needs a WebGPU adapter of its own (Dawn; lavapipe here).
        if (!GPU_SKIP_REASON)
          expect(got, `${label(c)}: Chromium vs Node`).toEqual(await nodeRandom(c));
      }
    });

    it('randn in Chromium matches the reference and Node to 2e-6', async () => {
      if (!GPU_SKIP_REASON) await testGpu();
      for (const c of NORMAL) {
        const got = await browserRandom(c);
        expectClose(
          got,
          randomRef(c.shape, true, c.options),
          NORMAL_TOL,
          `${label(c)} vs reference`,
        );
        if (!GPU_SKIP_REASON) {
          expectClose(got, await nodeRandom(c), NORMAL_TOL, `${label(c)}: Chromium vs Node`);
        }
      }
    });
  });

  it('a planted WGSL syntax error rejects with the file and line; the device keeps working', async () => {
    // Should Chromium log the compilation error to the console, that is expected here.
    const got = await page().run(
      'shaderError',
      { source: PLANTED_SOURCE, file: 'planted.wgsl' },
      /planted\.wgsl/,
    );
    expect(got.rejected).toBe(true);
    expect(got.name).toBe('ShaderCompileError');
    expect(got.isShaderCompileError).toBe(true);
    expect(got.message).toMatch(/shaders\/planted\.wgsl:5:\d+: error/);
    expect(got.afterwards).toEqual([2, 2, 2, 2]);
  });

  it("the page's console errors and uncaught errors reach the test (openServedPage collects them)", async () => {
    const h = page();
    await h.page.evaluate(() => {
      console.error('planted console error');
      setTimeout(() => {
        throw new Error('planted uncaught error');
      });
    });
    let reported = ''; // each check takes what came since the last one
    await expect
      .poll(() => {
        try {
          h.assertNoProblems();
        } catch (e) {
          reported += String(e);
        }
        return reported;
      })
      .toMatch(
        /console\.error: planted console error[\s\S]*page error: Error: planted uncaught error/,
      );
  });
});
