/**
 * conv2d and convTranspose2d against the float64 references: odd and size-1 shapes, strides,
 * paddings, kernel sizes 1-5, groups and depthwise, output phases of strided transposed convs,
 * NaN, a fold past 65,535 workgroups, gradients by central differences, EDM's resampling
 * filters, and the kernels without subgroups.
 */
import {
  add,
  backward,
  type Conv2dOptions,
  type ConvTranspose2dOptions,
  conv2d,
  convTranspose2d,
  type Gpu,
  mul,
  scope,
  sum,
  tensor,
} from '@pfgmpp/tensor/node';
import { conv2dRef, convTranspose2dRef, type NDArray, nd } from '@pfgmpp/tensor/reference';
import {
  expectClose,
  f32,
  GPU_SKIP_REASON,
  gpuGrads,
  numericGrad,
  randomNd,
  testGpu,
  toGpu,
  type Tol,
  uniformValues,
} from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

/**
 * Each output is a float32 sum of K products of values in [-1, 1] (plus a bias). Every addition
 * rounds by at most 2^-24 times the running sum, and the running sums stay below
 * max(4, sqrt(K)) here (random signs: their spread grows like sqrt(K)/3), so K additions are
 * off by at most K * 2^-24 * max(4, sqrt(K)); rtol covers large outputs.
 */
function convTol(k: number): Tol {
  return { atol: k * 2 ** -24 * Math.max(4, Math.sqrt(k)) + 1e-7, rtol: 1e-6 };
}
// Finite differences of the float64 reference (h = 1e-6: error ~1e-9) against float32 backward
// passes whose sums run over at most a few hundred products.
const GRAD_TOL = { atol: 2e-5, rtol: 1e-4 };

type Two = [number, number];
interface Case {
  x: number[];
  /** conv2d: [Cout, Cin/groups, kh, kw]; convTranspose2d: [Cin, Cout/groups, kh, kw]. */
  w: number[];
  stride?: number | Two;
  padding?: number | Two;
  outputPadding?: number | Two;
  groups?: number;
  bias?: boolean;
}

const CONV_CASES: Case[] = [
  { x: [2, 3, 7, 5], w: [4, 3, 3, 3], padding: 1, bias: true }, // primes, odd channel counts
  { x: [1, 1, 1, 1], w: [1, 1, 1, 1] }, // everything 1
  { x: [1, 1, 1, 1], w: [2, 1, 3, 3], padding: 1, bias: true }, // 1x1 image, 3x3 kernel
  { x: [2, 4, 11, 13], w: [20, 2, 3, 3], stride: 2, padding: 1, groups: 2 }, // stride 2, odd
  { x: [1, 5, 13, 7], w: [17, 5, 1, 1], bias: true }, // 1x1 (one long row per plane)
  { x: [1, 4, 7, 9], w: [8, 4, 1, 1], stride: 2 }, // 1x1 strided
  { x: [1, 5, 13, 7], w: [17, 5, 5, 5], padding: 2 }, // 5x5, two channel tiles
  { x: [2, 3, 9, 9], w: [6, 3, 2, 2] }, // 2x2, padding 0
  { x: [1, 2, 10, 9], w: [3, 2, 4, 4], stride: 2, padding: 2 }, // 4x4, padding 2
  { x: [1, 2, 6, 5], w: [3, 2, 3, 3], padding: 2, bias: true }, // padding 2 > needed
  { x: [1, 3, 6, 6], w: [7, 3, 3, 3], padding: 1 }, // 7 channels: tiles of 8
  { x: [1, 8, 9, 7], w: [36, 4, 3, 3], padding: 1, groups: 2, bias: true }, // 18 per group
  { x: [2, 3, 11, 8], w: [5, 3, 3, 5], stride: [2, 1], padding: [0, 2] }, // asymmetric
  { x: [1, 2, 9, 10], w: [4, 2, 3, 2], stride: [1, 3], padding: [2, 0], bias: true },
  { x: [2, 6, 8, 8], w: [6, 1, 4, 4], stride: 2, padding: 1, groups: 6 }, // depthwise down
  { x: [1, 5, 7, 6], w: [5, 1, 3, 3], padding: 1, groups: 5, bias: true }, // depthwise 3x3
  { x: [1, 3, 5, 5], w: [6, 1, 3, 3], padding: 1, groups: 3 }, // channel multiplier 2
];

const CONVT_CASES: Case[] = [
  { x: [1, 1, 1, 1], w: [1, 1, 1, 1] },
  { x: [2, 3, 5, 4], w: [3, 4, 3, 3], padding: 1, bias: true },
  { x: [2, 4, 5, 6], w: [4, 3, 3, 3], stride: 2, padding: 1, outputPadding: 1, groups: 2 },
  { x: [2, 6, 4, 5], w: [6, 1, 4, 4], stride: 2, padding: 1, groups: 6 }, // depthwise up
  { x: [1, 3, 3, 3], w: [3, 5, 2, 2], stride: 2 },
  // Stride 3 with a 2-wide kernel: output phase 2 gets no taps (bias only).
  { x: [1, 2, 3, 4], w: [2, 3, 2, 2], stride: 3, bias: true },
  { x: [1, 2, 6, 6], w: [2, 3, 3, 3], stride: 2, padding: 2, outputPadding: 1 }, // p > k-1
  { x: [2, 3, 5, 7], w: [3, 4, 3, 2], stride: [2, 1], padding: [1, 0], outputPadding: [1, 0] },
  { x: [1, 5, 7, 3], w: [5, 9, 1, 1], bias: true }, // 1x1
  { x: [1, 3, 4, 5], w: [3, 2, 1, 1], stride: 2, outputPadding: 1 }, // 1x1 strided
  { x: [1, 4, 5, 5], w: [4, 17, 3, 3], padding: 1 }, // two channel tiles, unrolled 3x3
  { x: [1, 4, 6, 5], w: [4, 6, 5, 5], stride: 2, padding: 2, outputPadding: 1, groups: 2 },
];

function label(kind: string, c: Case): string {
  return `${kind} x[${c.x}] w[${c.w}] s${c.stride ?? 1} p${c.padding ?? 0} op${c.outputPadding ?? 0} g${c.groups ?? 1}${c.bias ? ' +b' : ''}`;
}

function opts(c: Case): ConvTranspose2dOptions {
  const o: ConvTranspose2dOptions = {};
  if (c.stride !== undefined) o.stride = c.stride;
  if (c.padding !== undefined) o.padding = c.padding;
  if (c.outputPadding !== undefined) o.outputPadding = c.outputPadding;
  if (c.groups !== undefined) o.groups = c.groups;
  return o;
}

/** Products summed per output: input channels per group times kernel taps. */
function termsOf(kind: 'conv' | 'convT', c: Case): number {
  const [, , kh, kw] = c.w as [number, number, number, number];
  const cg = kind === 'conv' ? (c.w[1] as number) : (c.x[1] as number) / (c.groups ?? 1);
  return cg * kh * kw;
}

async function checkForward(kind: 'conv' | 'convT', c: Case, seed: number): Promise<void> {
  const X = randomNd(c.x, seed);
  const W = randomNd(c.w, seed + 1);
  const cout = kind === 'conv' ? (c.w[0] as number) : (c.w[1] as number) * (c.groups ?? 1);
  const B = c.bias ? randomNd([cout], seed + 2) : null;
  const o = opts(c);
  const y = scope(() =>
    kind === 'conv'
      ? conv2d(toGpu(X), toGpu(W), B ? toGpu(B) : null, o as Conv2dOptions)
      : convTranspose2d(toGpu(X), toGpu(W), B ? toGpu(B) : null, o),
  );
  const ref = kind === 'conv' ? conv2dRef(X, W, B, o) : convTranspose2dRef(X, W, B, o);
  expect(y.shape).toEqual(ref.shape);
  expectClose(await y.read(), f32(ref.data), convTol(termsOf(kind, c)), label(kind, c));
  y.dispose();
}

/** Gradients of sum(f(x, w, b) * G) on the GPU against central differences of the reference. */
async function checkGrads(kind: 'conv' | 'convT', c: Case, seed: number): Promise<void> {
  const X = randomNd(c.x, seed);
  const W = randomNd(c.w, seed + 1);
  const cout = kind === 'conv' ? (c.w[0] as number) : (c.w[1] as number) * (c.groups ?? 1);
  const inputs = c.bias ? [X, W, randomNd([cout], seed + 2)] : [X, W];
  const o = opts(c);
  const ref = (xs: NDArray[]) =>
    kind === 'conv'
      ? conv2dRef(xs[0]!, xs[1]!, xs[2] ?? null, o)
      : convTranspose2dRef(xs[0]!, xs[1]!, xs[2] ?? null, o);
  const G = uniformValues(size(ref(inputs).shape), -1, 1, seed + 3);
  const expected = numericGrad(ref, inputs, G);
  const got = await gpuGrads(
    (t) =>
      kind === 'conv'
        ? conv2d(t[0]!, t[1]!, t[2] ?? null, o as Conv2dOptions)
        : convTranspose2d(t[0]!, t[1]!, t[2] ?? null, o),
    inputs,
    G,
  );
  ['dx', 'dw', 'db'].slice(0, inputs.length).forEach((name, i) => {
    expectClose(got[i]!, expected[i]!, GRAD_TOL, `${label(kind, c)} ${name}`);
  });
}

/**
 * The kernel families that ran during `run`, from the profiler; null (after running it) where
 * the adapter has no timestamp queries.
 */
async function kernelsRun(gpu: Gpu, run: () => Promise<void>): Promise<string[] | null> {
  if (!gpu.features.has('timestamp-query')) {
    await run();
    return null;
  }
  gpu.startProfile();
  await run();
  return (await gpu.stopProfile()).map((k) => k.kernel);
}

describe.skipIf(GPU_SKIP_REASON)('conv2d and convTranspose2d', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });

  it('conv2d matches the reference: odd sizes, size 1, strides, paddings, kernels 1-5, groups, depthwise', async () => {
    for (const [i, c] of CONV_CASES.entries()) await checkForward('conv', c, 10 * i);
  });

  it('convTranspose2d matches the reference: stride 2 and 3, outputPadding, groups, depthwise', async () => {
    for (const [i, c] of CONVT_CASES.entries()) await checkForward('convT', c, 10 * i + 5);
  });

  it('propagates NaN exactly to the outputs whose window holds it', async () => {
    const X = randomNd([1, 2, 6, 7], 1);
    X.data[(1 * 6 + 2) * 7 + 3] = Number.NaN; // channel 1, row 2, column 3
    const W = randomNd([3, 2, 3, 3], 2);
    const y = scope(() => conv2d(toGpu(X), toGpu(W), null, { padding: 1 }));
    const ref = conv2dRef(X, W, null, { padding: 1 });
    const values = await y.read();
    expect(values.filter(Number.isNaN).length).toBe(3 * 9); // 3 channels x 3x3 neighbourhood
    expectClose(values, f32(ref.data), convTol(18), 'NaN in x (conv)');
    const WT = randomNd([2, 3, 3, 3], 3);
    const yt = scope(() => convTranspose2d(toGpu(X), toGpu(WT), null, { stride: 2, padding: 1 }));
    const reft = convTranspose2dRef(X, WT, null, { stride: 2, padding: 1 });
    expectClose(await yt.read(), f32(reft.data), convTol(18), 'NaN in x (convT)');
    // A NaN weight makes its whole output channel NaN. (Without padding: where a tap reads
    // the zero padding, 0 * NaN gives NaN here as in PyTorch's im2col path, while the reference
    // skips padded taps.)
    const W2 = randomNd([3, 2, 3, 3], 4);
    W2.data[20] = Number.NaN; // output channel 1
    const Xok = randomNd([1, 2, 6, 7], 5);
    const y2 = scope(() => conv2d(toGpu(Xok), toGpu(W2)));
    const v2 = await y2.read();
    expect(v2.slice(20, 40).every(Number.isNaN)).toBe(true);
    expectClose(v2, f32(conv2dRef(Xok, W2, null).data), convTol(18), 'NaN in w');
  });

  it('folds more than 65,535 workgroups: depthwise over 70,000 channels, forward and weight gradient', async () => {
    // One channel per workgroup (depthwise tiles hold 1 channel): 70,000 workgroups in
    // conv.wgsl and in conv_wgrad.wgsl. (The input gradient runs conv.wgsl again.)
    const C = 70_000;
    const X = randomNd([1, C, 1, 1], 7);
    const W = randomNd([C, 1, 1, 1], 8);
    const G = uniformValues(C, -1, 1, 10);
    const x = toGpu(X);
    const w = toGpu(W).requireGrad();
    const y = scope(() => {
      const out = conv2d(x, w, null, { groups: C });
      backward(sum(mul(out, tensor(f32(G), out.shape))));
      return out.detach();
    });
    const expected = X.data.map((v, i) => v * (W.data[i] as number));
    expectClose(await y.read(), f32(expected), convTol(1), 'forward');
    expectClose(
      await w.grad!.read(),
      f32(G.map((g, i) => g * (X.data[i] as number))),
      convTol(1),
      'dw',
    );
    for (const t of [x, w, y]) t.dispose();
  });

  it('packs weights in more than 65,535 workgroups (470,000 depthwise 3x3 channels)', async () => {
    // conv_pack.wgsl writes one line (here the single row of one tap) per invocation:
    // 470,000 x 9 lines = 66,094 workgroups. Rows of 3 pixels keep the general conv.wgsl.
    const C = 470_000;
    const X = nd([1, C, 1, 3], uniformValues(C * 3, -1, 1, 20));
    const W = nd([C, 1, 3, 3], uniformValues(C * 9, -1, 1, 21));
    const y = scope(() => conv2d(toGpu(X), toGpu(W), null, { padding: 1, groups: C }));
    expectClose(
      await y.read(),
      f32(conv2dRef(X, W, null, { padding: 1, groups: C }).data),
      convTol(3),
      'depthwise 470,000 channels',
    );
    y.dispose();
  });

  it('rejects shapes and options that do not fit, naming them', () => {
    const x = tensor(new Float32Array(2 * 4 * 5 * 5), [2, 4, 5, 5]);
    const w = (s: number[]) => tensor(new Float32Array(size(s)), s);
    expect(() => conv2d(x, w([3, 3, 3, 3]))).toThrow(/do not fit groups=1/);
    expect(() => conv2d(x, w([3, 2, 3, 3]), null, { groups: 2 })).toThrow(/divisible/);
    expect(() => conv2d(x, w([4, 4, 7, 7]))).toThrow(/larger than the padded input/);
    expect(() => conv2d(x, w([4, 4, 3, 3]), w([3]))).toThrow(/bias must be \[4\]/);
    expect(() => conv2d(x, w([4, 4, 3, 3]), null, { stride: 0 })).toThrow(/stride/);
    expect(() => conv2d(x, w([4, 4, 3, 3]), null, { padding: [1, -1] })).toThrow(/padding/);
    expect(() => conv2d(w([4, 5, 5]), w([4, 4, 3, 3]))).toThrow(/x must be 4-D/);
    expect(() => convTranspose2d(x, w([4, 2, 3, 3]), null, { outputPadding: 1 })).toThrow(
      /smaller than stride/,
    );
    expect(() => convTranspose2d(x, w([3, 2, 3, 3]))).toThrow(/w.shape\[0\] = Cin/);
  });

  it('an empty batch gives empty outputs and zero weight gradients', async () => {
    const x = tensor(new Float32Array(0), [0, 2, 5, 5]);
    const w = tensor(new Float32Array(3 * 2 * 9).fill(1), [3, 2, 3, 3]).requireGrad();
    const y = conv2d(x, w, null, { padding: 1 });
    expect(y.shape).toEqual([0, 3, 5, 5]);
    scope(() => backward(y, tensor(new Float32Array(0), y.shape)));
    expect(Array.from(await w.grad!.read())).toEqual(new Array(54).fill(0));
    const wt = tensor(new Float32Array(2 * 3 * 9), [2, 3, 3, 3]);
    expect(convTranspose2d(x, wt, null, { stride: 2 }).shape).toEqual([0, 3, 11, 11]);
    for (const t of [x, w, y, wt]) t.dispose();
  });

  const CONV_GRAD_CASES: Case[] = [
    { x: [2, 4, 5, 6], w: [6, 2, 3, 3], stride: 2, padding: 1, groups: 2, bias: true },
    { x: [1, 3, 4, 5], w: [4, 3, 1, 1], bias: true }, // 1x1
    { x: [1, 3, 6, 5], w: [3, 1, 4, 4], stride: 2, padding: 1, groups: 3 }, // depthwise down
    { x: [1, 2, 7, 6], w: [5, 2, 3, 2], stride: [2, 1], padding: [1, 0] }, // asymmetric
    { x: [1, 2, 4, 4], w: [17, 2, 3, 3], padding: 1, bias: true }, // 16-channel tiles, unrolled
    { x: [1, 2, 5, 5], w: [3, 2, 5, 5], padding: 2 }, // 5x5 (two vec4 windows in the weight grad)
  ];
  it('conv2d gradients (x, w, bias) match central differences of the reference', async () => {
    for (const [i, c] of CONV_GRAD_CASES.entries()) await checkGrads('conv', c, 100 + 10 * i);
  });

  const CONVT_GRAD_CASES: Case[] = [
    {
      x: [2, 4, 3, 4],
      w: [4, 3, 3, 3],
      stride: 2,
      padding: 1,
      outputPadding: 1,
      groups: 2,
      bias: true,
    },
    { x: [1, 2, 3, 3], w: [2, 1, 4, 4], stride: 2, padding: 1, groups: 2 }, // depthwise up
    { x: [1, 2, 3, 2], w: [2, 3, 2, 2], stride: 3, bias: true }, // a phase without taps
    { x: [1, 3, 3, 4], w: [3, 2, 1, 1], padding: 0 }, // 1x1
  ];
  it('convTranspose2d gradients (x, w, bias) match central differences of the reference', async () => {
    for (const [i, c] of CONVT_GRAD_CASES.entries()) await checkGrads('convT', c, 200 + 10 * i);
  });

  it('gradients flow to the inputs that ask for them only', async () => {
    const x = toGpu(randomNd([1, 2, 4, 4], 1));
    const w = toGpu(randomNd([3, 2, 3, 3], 2)).requireGrad();
    scope(() => backward(sum(conv2d(x, w, null, { padding: 1 }))));
    expect(x.grad).toBeNull();
    expect(w.grad?.shape).toEqual([3, 2, 3, 3]);
    x.dispose();
    w.dispose();
  });

  it("expresses EDM's resampling (SPEC 5.2): up and down with filters [1,1] and [1,3,3,1]", async () => {
    const C = 3;
    const [N, H, W] = [2, 6, 8];
    const X = randomNd([N, C, H, W], 40);
    const at = (a: NDArray, n: number, c: number, i: number, j: number) =>
      a.data[((n * C + c) * (a.shape[2] as number) + i) * (a.shape[3] as number) + j] as number;
    for (const f of [
      [1, 1],
      [1, 3, 3, 1],
    ]) {
      const L = f.length;
      const pf = Math.floor((L - 1) / 2);
      const s = f.reduce((p, v) => p + v, 0);
      // resample_filter = outer(f, f) / (sum f)^2, one copy per channel: [C, 1, L, L].
      const filter = nd(
        [C, 1, L, L],
        Array.from({ length: C * L * L }, (_, k) => {
          const [a, b] = [Math.floor(k / L) % L, k % L];
          return ((f[a] as number) * (f[b] as number)) / (s * s);
        }),
      );
      // Up: transposed depthwise conv, stride 2, padding pf, kernel 4 * filter -> [2H, 2W].
      const up4 = nd(
        filter.shape,
        filter.data.map((v) => 4 * v),
      );
      const yUp = scope(() =>
        convTranspose2d(toGpu(X), toGpu(up4), null, { stride: 2, padding: pf, groups: C }),
      );
      expect(yUp.shape).toEqual([N, C, 2 * H, 2 * W]);
      // Direct: stuff zeros between the samples, then filter with the (symmetric) kernel:
      // y[o] = sum_t u[o + pf - t] * 4 f_t f_t' / s^2, u[2i] = x[i], u[odd] = 0.
      const expUp = new Float64Array(N * C * 4 * H * W);
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++)
          for (let oy = 0; oy < 2 * H; oy++)
            for (let ox = 0; ox < 2 * W; ox++) {
              let acc = 0;
              for (let a = 0; a < L; a++)
                for (let b = 0; b < L; b++) {
                  const [uy, ux] = [oy + pf - a, ox + pf - b];
                  if (uy < 0 || ux < 0 || uy % 2 || ux % 2 || uy >= 2 * H || ux >= 2 * W) continue;
                  const k = (4 * (f[a] as number) * (f[b] as number)) / (s * s);
                  acc += k * at(X, n, c, uy / 2, ux / 2);
                }
              expUp[((n * C + c) * 2 * H + oy) * 2 * W + ox] = acc;
            }
      expectClose(await yUp.read(), f32(expUp), convTol(L * L), `up [${f}]`);
      if (L === 2) {
        // [1, 1] is nearest-neighbour upsampling.
        const nearest = expUp.map((_, k) => {
          const ox = k % (2 * W);
          const oy = Math.floor(k / (2 * W)) % (2 * H);
          const nc = Math.floor(k / (4 * H * W));
          return at(X, Math.floor(nc / C), nc % C, oy >> 1, ox >> 1);
        });
        expectClose(await yUp.read(), f32(nearest), convTol(4), 'up [1,1] = nearest');
      }
      // Down: depthwise conv, stride 2, padding pf, kernel = filter -> [H/2, W/2].
      const yDown = scope(() =>
        conv2d(toGpu(X), toGpu(filter), null, { stride: 2, padding: pf, groups: C }),
      );
      expect(yDown.shape).toEqual([N, C, H / 2, W / 2]);
      // Direct: separable, rows then columns: y[i,j] = sum_a f_a/s sum_b f_b/s x[2i-pf+a, 2j-pf+b].
      const expDown = new Float64Array(N * C * (H / 2) * (W / 2));
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++)
          for (let i = 0; i < H / 2; i++)
            for (let j = 0; j < W / 2; j++) {
              let acc = 0;
              for (let a = 0; a < L; a++) {
                const iy = 2 * i - pf + a;
                if (iy < 0 || iy >= H) continue;
                let row = 0;
                for (let b = 0; b < L; b++) {
                  const ix = 2 * j - pf + b;
                  if (ix >= 0 && ix < W) row += ((f[b] as number) / s) * at(X, n, c, iy, ix);
                }
                acc += ((f[a] as number) / s) * row;
              }
              expDown[((n * C + c) * (H / 2) + i) * (W / 2) + j] = acc;
            }
      expectClose(await yDown.read(), f32(expDown), convTol(L * L), `down [${f}]`);
      yUp.dispose();
      yDown.dispose();
    }
  });

  // conv3x3_same.wgsl: stride 1, padding 1, rows of 4, 8, 16 or 32 pixels (lanes share the
  // window edges through subgroup shuffles; rows past the image are zeros). Even heights take
  // two output rows per lane (TALL 2, 8-channel tiles), odd ones one (TALL 1, 8 or 16).
  const SAME_CASES: Case[] = [
    { x: [2, 5, 6, 32], w: [19, 5, 3, 3], padding: 1, bias: true }, // TALL 2, 3 tiles
    { x: [3, 4, 5, 4], w: [7, 4, 3, 3], padding: 1 }, // 15 quads: a partial block of 8 lanes
    { x: [1, 3, 5, 8], w: [18, 3, 3, 3], padding: 1, bias: true }, // TALL 1, 16-row tiles
    { x: [1, 6, 3, 8], w: [12, 3, 3, 3], padding: 1, groups: 2, bias: true }, // groups
    { x: [2, 3, 16, 16], w: [4, 3, 3, 3], padding: 1 }, // 4 quads per row
    { x: [1, 2, 1, 8], w: [3, 2, 3, 3], padding: 1, bias: true }, // height 1: no row above/below
    { x: [1, 1, 2, 4], w: [1, 1, 3, 3], padding: 1 }, // one channel, one quad per row
    { x: [1, 4, 3, 16], w: [4, 1, 3, 3], padding: 1, groups: 4 }, // depthwise
  ];
  const SAME_T_CASES: Case[] = [
    { x: [2, 5, 7, 16], w: [5, 18, 3, 3], padding: 1, bias: true }, // the input gradient's form
    { x: [1, 6, 4, 8], w: [6, 3, 3, 3], padding: 1, groups: 2 },
  ];
  it('the same-size 3x3 kernel (rows of 4 to 32 pixels) matches the reference, with gradients', async () => {
    // Every case takes conv3x3_same.wgsl where there are subgroups of 8 or more (lavapipe),
    // conv.wgsl elsewhere.
    const kernels = await kernelsRun(gpu, async () => {
      for (const [i, c] of SAME_CASES.entries()) await checkForward('conv', c, 400 + 10 * i);
      for (const [i, c] of SAME_T_CASES.entries()) await checkForward('convT', c, 500 + 10 * i);
      // Input gradients are same-size 3x3 correlations with the flipped kernel; weight gradients
      // take conv3x3_same_wgrad.wgsl (tiles of 8 channels of the output gradient where there
      // are at most 8, else 16; lanes over (c, i)).
      await checkGrads('conv', SAME_CASES[1]!, 600); // 7 channels: one 8-tile
      await checkGrads('conv', SAME_CASES[2]!, 605); // 18: a full and a partial 16-tile
      await checkGrads('conv', SAME_CASES[3]!, 610); // groups
      await checkGrads('convT', SAME_T_CASES[1]!, 620);
      await checkGrads('conv', { x: [1, 3, 2, 32], w: [10, 3, 3, 3], padding: 1, bias: true }, 630);
      await checkGrads('conv', { x: [2, 2, 3, 16], w: [3, 2, 3, 3], padding: 1 }, 640);
    });
    if (kernels) {
      const same = gpu.hasSubgroupsOf(8);
      expect(kernels.includes('conv3x3_same.wgsl:main')).toBe(same);
      expect(kernels.includes('conv3x3_same_wgrad.wgsl:main')).toBe(same);
      expect(kernels.includes('conv.wgsl:main')).toBe(!same);
      expect(kernels.includes('conv_wgrad.wgsl:main')).toBe(!same);
    }
  });

  it('the same-size 3x3 kernels share out their work from counters that are zeroed again after every 4,096 dispatches', async () => {
    // Each dispatch takes a fresh counter slot; a slot is used again only after the buffer was
    // cleared. Were the clear missing, a kernel would find its counter past the last item and
    // leave its output unwritten: run the forward and the weight gradient on the first slots
    // after two wraps (slot 0 is used before the second wrap too) and compare with the reference.
    const c: Case = { x: [2, 3, 6, 8], w: [5, 3, 3, 3], padding: 1, bias: true };
    const toLastSlot = () => {
      while (gpu.workCounter().slot !== 4095) {
        // hand out the slots before the wrap
      }
    };
    for (const round of [0, 1]) {
      toLastSlot();
      const kernels = await kernelsRun(gpu, async () => {
        await checkForward('conv', c, 700 + round);
        await checkGrads('conv', c, 710 + round);
      });
      if (kernels && gpu.hasSubgroupsOf(8)) {
        expect(kernels).toContain('conv3x3_same.wgsl:main');
        expect(kernels).toContain('conv3x3_same_wgrad.wgsl:main');
      }
    }
  });

  it('the same-size 3x3 kernel keeps NaN to its window and zero padding at row and image edges', async () => {
    const X = randomNd([1, 2, 4, 8], 11);
    const at = (c: number, i: number, j: number) => (c * 4 + i) * 8 + j;
    X.data[at(0, 1, 0)] = Number.NaN; // first column: the row above's last quad must stay clean
    X.data[at(1, 3, 7)] = Number.POSITIVE_INFINITY; // last pixel of the last row
    const W = randomNd([3, 2, 3, 3], 12);
    const y = scope(() => conv2d(toGpu(X), toGpu(W), null, { padding: 1 }));
    const ref = conv2dRef(X, W, null, { padding: 1 });
    const values = await y.read();
    // NaN: rows 0-2, columns 0-1 (6 pixels) of 3 channels. Inf: rows 2-3, columns 6-7, where
    // the products of one sign make +-Inf (the reference has the same).
    expect(values.filter(Number.isNaN).length).toBe(ref.data.filter(Number.isNaN).length);
    expect(values.filter(Number.isNaN).length).toBeGreaterThanOrEqual(18);
    expectClose(values, f32(ref.data), convTol(18), 'NaN and Inf in x (same 3x3)');
  });

  it('the same-size 3x3 kernels fold more than 65,535 workgroups (70,000 depthwise channels)', async () => {
    // One workgroup per channel in conv3x3_same.wgsl and in conv3x3_same_wgrad.wgsl.
    const C = 70_000;
    // Two rows: one workgroup per channel with two output rows per lane (TALL 2) too.
    const X2 = randomNd([1, C, 2, 4], 16);
    const W2 = randomNd([C, 1, 3, 3], 17);
    const y2 = scope(() => conv2d(toGpu(X2), toGpu(W2), null, { padding: 1, groups: C }));
    expectClose(
      await y2.read(),
      f32(conv2dRef(X2, W2, null, { padding: 1, groups: C }).data),
      convTol(6),
      'depthwise 70,000 channels, 2 rows',
    );
    y2.dispose();
    const X = randomNd([1, C, 1, 4], 13);
    const W = randomNd([C, 1, 3, 3], 14);
    const G = uniformValues(C * 4, -1, 1, 15);
    const w = toGpu(W).requireGrad();
    const y = scope(() => {
      const out = conv2d(toGpu(X), w, null, { padding: 1, groups: C });
      backward(sum(mul(out, tensor(f32(G), out.shape))));
      return out.detach();
    });
    expectClose(
      await y.read(),
      f32(conv2dRef(X, W, null, { padding: 1, groups: C }).data),
      convTol(3),
      'depthwise 70,000 channels',
    );
    // dw[c, 0, i, j] = sum_ox G[c, ox] * X[c, ox + j - 1]: only the middle kernel row (i = 1)
    // meets the one image row.
    const dw = new Float64Array(C * 9);
    for (let c = 0; c < C; c++) {
      for (let j = 0; j < 3; j++) {
        let acc = 0;
        for (let ox = 0; ox < 4; ox++) {
          const ix = ox + j - 1;
          if (ix >= 0 && ix < 4) acc += (G[c * 4 + ox] as number) * (X.data[c * 4 + ix] as number);
        }
        dw[c * 9 + 3 + j] = acc;
      }
    }
    expectClose(await w.grad!.read(), f32(Array.from(dw)), convTol(4), 'dw, 70,000 channels');
    for (const t of [w, y]) t.dispose();
  });

  // conv1x1.wgsl: 1x1 at stride 1 without padding, planes of a multiple of 4 pixels, at least
  // 5 output channels per group.
  const FLAT_CASES: Case[] = [
    { x: [2, 5, 3, 4], w: [19, 5, 1, 1], bias: true }, // tiles of 16, 6 quads (a partial block)
    { x: [1, 6, 4, 4], w: [12, 3, 1, 1], groups: 2 }, // tiles of 8, groups
    { x: [1, 7, 1, 4], w: [9, 7, 1, 1], bias: true }, // one quad
    // Tiles of 32 (24 or more channels): a full and a partial tile; 7 input channels are one
    // trip of 4 and one of 3 (the 4th reads zeros).
    { x: [2, 7, 2, 6], w: [37, 7, 1, 1], bias: true },
    { x: [1, 4, 1, 4], w: [32, 4, 1, 1] }, // exactly one trip, one tile
    { x: [1, 2, 3, 4], w: [48, 1, 1, 1], groups: 2 }, // one input channel per group
  ];
  it('the flat 1x1 kernel matches the reference, with gradients, NaN and 66,000 groups', async () => {
    const kernels = await kernelsRun(gpu, async () => {
      for (const [i, c] of FLAT_CASES.entries()) await checkForward('conv', c, 700 + 10 * i);
      await checkForward('convT', { x: [2, 9, 2, 8], w: [9, 6, 1, 1], bias: true }, 740);
      // conv2d's input gradient is the transposed 1x1 with 5 output channels, and back.
      await checkGrads('conv', { x: [1, 5, 2, 4], w: [10, 5, 1, 1], bias: true }, 750);
      await checkGrads('convT', { x: [1, 6, 1, 8], w: [6, 5, 1, 1] }, 760);
      // 26 input channels: conv2d's input gradient takes a tile of 32 with a partial last trip.
      await checkGrads('conv', { x: [1, 26, 1, 4], w: [6, 26, 1, 1] }, 765);
    });
    if (kernels) {
      const flat = gpu.hasSubgroupsOf(8);
      expect(kernels.includes('conv1x1.wgsl:main')).toBe(flat);
      expect(kernels.includes('conv.wgsl:main')).toBe(!flat);
    }
    // conv1x1_wgrad.wgsl (input channels per group a multiple of 4): 37 output channels are a
    // full and a partial 32-tile, 8 input channels a partial 32-tile; groups with 8-tiles; the
    // transposed conv with its roles swapped (36 channels: two c-tiles); and 75 quads in two
    // chunks, the first ending inside the second image.
    const wgradKernels = await kernelsRun(gpu, async () => {
      await checkGrads('conv', { x: [2, 8, 2, 6], w: [37, 8, 1, 1], bias: true }, 780);
      await checkGrads('conv', { x: [1, 12, 1, 8], w: [12, 4, 1, 1], groups: 3 }, 781);
      await checkGrads('convT', { x: [1, 20, 2, 2], w: [20, 36, 1, 1] }, 782);
      await checkGrads('conv', { x: [3, 4, 10, 10], w: [9, 4, 1, 1] }, 783);
    });
    if (wgradKernels) {
      expect(wgradKernels.includes('conv1x1_wgrad.wgsl:main')).toBe(gpu.hasSubgroupsOf(8));
    }
    // NaN in one pixel of one input channel reaches that pixel of every output channel only.
    const X = randomNd([1, 3, 2, 4], 770);
    X.data[1 * 8 + 5] = Number.NaN;
    const W = randomNd([6, 3, 1, 1], 771);
    const y = scope(() => conv2d(toGpu(X), toGpu(W)));
    const v = await y.read();
    expect(v.filter(Number.isNaN).length).toBe(6);
    expectClose(v, f32(conv2dRef(X, W, null).data), convTol(3), 'NaN (flat 1x1)');
    y.dispose();
    // Tiles of 32 and 5 channels per group: group 0's last trip reads past its channels into
    // group 1's, which hold an Inf in x and in weights; those reads must be zeros, not Inf * 0.
    const XI = randomNd([1, 10, 1, 8], 774);
    XI.data[5 * 8 + 3] = Number.POSITIVE_INFINITY;
    const WI = randomNd([48, 5, 1, 1], 775);
    WI.data[(24 + 2) * 5] = Number.NEGATIVE_INFINITY; // read as channel 5 of group 0
    WI.data[(24 + 2) * 5 + 2] = Number.NEGATIVE_INFINITY; // ... and as its channel 7
    const yi = scope(() => conv2d(toGpu(XI), toGpu(WI), null, { groups: 2 }));
    const vi = await yi.read();
    expect(vi.slice(0, 24 * 8).every(Number.isFinite)).toBe(true);
    expectClose(vi, f32(conv2dRef(XI, WI, null, { groups: 2 }).data), convTol(5), 'Inf (flat 1x1)');
    yi.dispose();
    // 66,000 groups of 5 output channels: one workgroup each, folded past 65,535.
    const G = 66_000;
    const XG = randomNd([1, G, 1, 4], 772);
    const WG = randomNd([5 * G, 1, 1, 1], 773);
    const yg = scope(() => conv2d(toGpu(XG), toGpu(WG), null, { groups: G }));
    expectClose(
      await yg.read(),
      f32(conv2dRef(XG, WG, null, { groups: G }).data),
      convTol(1),
      '66,000 groups (flat 1x1)',
    );
    yg.dispose();
  });

  // resample2x2.wgsl: EDM's resampling with the filter [1, 1], a depthwise 2x2 conv at stride 2
  // without padding (down: width a multiple of 4) and its transpose (up: even width).
  it('runs depthwise 2x2 stride-2 convs (EDM resampling) with resample2x2.wgsl, with gradients', async () => {
    const down: Case[] = [
      { x: [2, 3, 5, 8], w: [3, 1, 2, 2], stride: 2, groups: 3, bias: true }, // odd height
      { x: [1, 2, 2, 4], w: [2, 1, 2, 2], stride: 2, groups: 2 }, // one vec4 per row
    ];
    const up: Case[] = [
      { x: [2, 3, 3, 2], w: [3, 1, 2, 2], stride: 2, groups: 3, bias: true },
      { x: [1, 4, 1, 6], w: [4, 1, 2, 2], stride: 2, groups: 4 },
    ];
    const kernels = await kernelsRun(gpu, async () => {
      for (const [i, c] of down.entries()) {
        await checkForward('conv', c, 940 + i);
        await checkGrads('conv', c, 945 + i); // input gradient: up (even heights)
      }
      for (const [i, c] of up.entries()) {
        await checkForward('convT', c, 950 + i);
        await checkGrads('convT', c, 955 + i); // input gradient: down (widths 4 and 12)
      }
    });
    if (kernels) {
      expect(kernels.includes('resample2x2.wgsl:down')).toBe(true);
      expect(kernels.includes('resample2x2.wgsl:up')).toBe(true);
    }
    // NaN in one input pixel reaches only the output pixel whose window holds it (down) or the
    // four it spreads to (up).
    const X = randomNd([1, 2, 4, 4], 960);
    X.data[16 + 5] = Number.NaN; // channel 1, row 1, column 1
    const Wf = randomNd([2, 1, 2, 2], 961);
    const o = { stride: 2, groups: 2 };
    const yd = scope(() => conv2d(toGpu(X), toGpu(Wf), null, o));
    const vd = await yd.read();
    expect(vd.filter(Number.isNaN).length).toBe(1);
    expectClose(vd, f32(conv2dRef(X, Wf, null, o).data), convTol(4), 'NaN (resample down)');
    const yu = scope(() => convTranspose2d(toGpu(X), toGpu(Wf), null, o));
    const vu = await yu.read();
    expect(vu.filter(Number.isNaN).length).toBe(4);
    expectClose(vu, f32(convTranspose2dRef(X, Wf, null, o).data), convTol(1), 'NaN (resample up)');
    yd.dispose();
    yu.dispose();
    // No fold test: an invocation reads (down) or writes (up) 32 bytes, so 65,536 workgroups of
    // 64 would need a 128 MiB binding, the storage binding limit.
  });

  // The bias gradient comes from the weight-gradient kernels (sums of the output gradient they
  // load anyway): over several chunks and lane groups, against the sums of G in float64.
  it('takes the bias gradient from the 3x3 and 1x1 weight-gradient kernels', async () => {
    const cases: Case[] = [
      // 3x3: 33 lanes of (c, i) items (two lane groups of 32), 128 rows of 4 (two chunks),
      // 18 channels (a 16-tile and a partial one).
      { x: [2, 11, 64, 4], w: [18, 11, 3, 3], padding: 1, bias: true },
      // 1x1: 40 output channels (a 32-tile and a partial one), two 32-channel c-tiles, two
      // chunks of 48 quads (the first ends inside the second image).
      { x: [3, 36, 8, 16], w: [40, 36, 1, 1], bias: true },
    ];
    for (const [i, c] of cases.entries()) {
      const X = randomNd(c.x, 980 + i);
      const Wt = randomNd(c.w, 982 + i);
      const B = randomNd([c.w[0] as number], 984 + i);
      const o = opts(c) as Conv2dOptions;
      const shape = conv2dRef(X, Wt, B, o).shape as [number, number, number, number];
      const G = uniformValues(size(shape), -1, 1, 986 + i);
      const [N, C, H, W] = shape;
      const want = new Float64Array(C);
      for (let n = 0; n < N; n++) {
        for (let ch = 0; ch < C; ch++) {
          for (let p = 0; p < H * W; p++) {
            want[ch] = (want[ch] as number) + (G[(n * C + ch) * H * W + p] as number);
          }
        }
      }
      const got = await gpuGrads((t) => conv2d(t[0]!, t[1]!, t[2]!, o), [X, Wt, B], G);
      // N*H*W float32 additions per channel, as in convTol.
      expectClose(got[2]!, f32(want), convTol(N * H * W), `${label('conv', c)} db`);
    }
  });

  // conv2d's epilogue: y = ((conv + bias) + shift[n, c] + residual) * scale. The 3x3 same-size
  // kernel applies it in its store (even heights: two rows per lane; odd: one, 16-channel
  // tiles); other shapes run the separate ops.
  const EPI_CASES: Case[] = [
    { x: [2, 5, 6, 8], w: [7, 5, 3, 3], padding: 1, bias: true }, // conv3x3_same, two rows
    { x: [1, 3, 5, 4], w: [11, 3, 3, 3], padding: 1 }, // conv3x3_same, one row, 16-tiles
    { x: [2, 3, 5, 5], w: [4, 3, 5, 5], padding: 2, bias: true }, // conv.wgsl
    { x: [1, 2, 6, 6], w: [3, 2, 3, 3], stride: 2, padding: 1 }, // strided: conv.wgsl
  ];
  /** The epilogue in float64: ((y + shift[n, c]) + residual) * scale on a conv2dRef output. */
  function epilogueRef(y: NDArray, shift: NDArray, residual: NDArray, scale: number): NDArray {
    const [, , H, W] = y.shape as [number, number, number, number];
    const out = nd(y.shape, Float64Array.from(y.data));
    for (let i = 0; i < out.data.length; i++) {
      const nc = Math.floor(i / (H * W));
      out.data[i] =
        ((out.data[i] as number) + (shift.data[nc] as number) + (residual.data[i] as number)) *
        scale;
    }
    return out;
  }
  const SCALE = Math.SQRT1_2;
  it('fuses the shift, residual and scale epilogue, with gradients, or runs it as separate ops', async () => {
    for (const [i, c] of EPI_CASES.entries()) {
      const seed = 900 + 10 * i;
      const X = randomNd(c.x, seed);
      const Wt = randomNd(c.w, seed + 1);
      const cout = c.w[0] as number;
      const B = c.bias ? randomNd([cout], seed + 2) : null;
      const o = opts(c) as Conv2dOptions;
      const plain = conv2dRef(X, Wt, B, o);
      const S = randomNd([c.x[0] as number, cout], seed + 3);
      const R = randomNd(plain.shape, seed + 4);
      const ref = epilogueRef(plain, S, R, SCALE);
      const fused = (t: ReturnType<typeof toGpu>[]) =>
        conv2d(t[0]!, t[1]!, t[2] ?? null, { ...o, shift: t[3], residual: t[4], scale: SCALE });
      let y: ReturnType<typeof toGpu> | null = null;
      const kernels = await kernelsRun(gpu, async () => {
        y = scope(() =>
          fused([toGpu(X), toGpu(Wt), B ? toGpu(B) : null, toGpu(S), toGpu(R)] as never),
        );
        await y.read();
      });
      const name = label('conv', c);
      // Two more additions than the plain convolution, then the scale (one rounding).
      expectClose(
        await y!.read(),
        f32(ref.data),
        convTol(termsOf('conv', c) + 3),
        `${name} epilogue`,
      );
      const same = c.w[2] === 3 && (c.stride ?? 1) === 1 && gpu.hasSubgroupsOf(8);
      if (kernels) {
        expect(kernels.includes('binary.wgsl:main4') || kernels.includes('binary.wgsl:main')).toBe(
          !same,
        );
      }
      // Bit-identical to the separate ops (same order of additions).
      const composite = scope(() => {
        const t = conv2d(toGpu(X), toGpu(Wt), B ? toGpu(B) : null, o);
        const n = c.x[0] as number;
        return mul(add(add(t, toGpu(S).view([n, cout, 1, 1])), toGpu(R)), SCALE);
      });
      expect(Array.from(await y!.read())).toEqual(Array.from(await composite.read()));
      y!.dispose();
      composite.dispose();
      // Gradients of every input, against central differences of the float64 reference.
      const inputs = B ? [X, Wt, B, S, R] : [X, Wt, S, R];
      const refFn = (xs: NDArray[]) => {
        const [x, w, b, sh, r] = B ? xs : [xs[0], xs[1], null, xs[2], xs[3]];
        return epilogueRef(conv2dRef(x!, w!, b ?? null, o), sh!, r!, SCALE);
      };
      const G = uniformValues(size(ref.shape), -1, 1, seed + 5);
      const expected = numericGrad(refFn, inputs, G);
      const got = await gpuGrads(
        (t) =>
          B
            ? fused(t)
            : conv2d(t[0]!, t[1]!, null, { ...o, shift: t[2], residual: t[3], scale: SCALE }),
        inputs,
        G,
      );
      (B ? ['dx', 'dw', 'db', 'dshift', 'dres'] : ['dx', 'dw', 'dshift', 'dres']).forEach(
        (g, k) => {
          expectClose(got[k]!, expected[k]!, GRAD_TOL, `${name} epilogue ${g}`);
        },
      );
    }
  });

  it('rejects an epilogue that does not fit the output', () => {
    const x = toGpu(randomNd([2, 3, 4, 4], 1));
    const w = toGpu(randomNd([5, 3, 3, 3], 2));
    const bad = (o: Record<string, unknown>) => () =>
      scope(() => conv2d(x, w, null, { padding: 1, ...o }));
    expect(bad({ shift: toGpu(randomNd([2, 4], 3)) })).toThrow(/shift must be \[2, 5\]/);
    expect(bad({ shift: toGpu(randomNd([5], 3)) })).toThrow(/shift must be/);
    expect(bad({ residual: toGpu(randomNd([2, 5, 4, 3], 4)) })).toThrow(
      /residual must have the output's shape \[2, 5, 4, 4\]/,
    );
    expect(bad({ scale: Number.NaN })).toThrow(/scale must be a finite number/);
    x.dispose();
    w.dispose();
  });

  describe('without subgroups (the fallback kernels)', () => {
    beforeAll(async () => {
      (await testGpu()).subgroupsAllowed = false;
    });
    afterAll(async () => {
      (await testGpu()).subgroupsAllowed = true;
    });
    it('forward and gradients match the reference', async () => {
      for (const [i, c] of [
        // Tiles of 8 (forward, weight gradient) and 4 (input gradient: 3 channels).
        { x: [1, 3, 5, 6], w: [8, 3, 3, 3], padding: 1, bias: true },
        // Depthwise stride 2: strided forward, 4 output phases in the input gradient.
        { x: [1, 3, 6, 6], w: [3, 1, 4, 4], stride: 2, padding: 1, groups: 3 },
      ].entries()) {
        await checkForward('conv', c, 300 + i);
        await checkGrads('conv', c, 310 + i);
      }
      await checkForward('convT', CONVT_CASES[3]!, 320);
    });
  });

  it('keeps pool memory flat over repeated forward+backward passes', async () => {
    const x = toGpu(randomNd([2, 4, 6, 6], 1)).requireGrad();
    const w = toGpu(randomNd([4, 4, 3, 3], 2)).requireGrad();
    const readings: number[] = [];
    for (let i = 0; i < 4; i++) {
      scope(() => {
        backward(sum(convTranspose2d(conv2d(x, w, null, { stride: 2, padding: 1 }), w)));
      });
      x.grad?.dispose();
      w.grad?.dispose();
      x.grad = null;
      w.grad = null;
      await gpu.sync();
      readings.push(gpu.memory().bytesInUse);
    }
    expect(readings[3]).toBe(readings[1]);
    x.dispose();
    w.dispose();
  });
});
