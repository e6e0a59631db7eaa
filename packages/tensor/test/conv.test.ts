/**
 * conv2d and convTranspose2d as ops, whichever kernel rows run them: argument checks, which
 * inputs get gradients, EDM's resampling expressed with them, the bias gradient from the
 * weight-gradient kernels' sums, the fused epilogue, the work counters' wrap, flat memory, and
 * the error when the allowed rows fit nothing. Every row's numbers: conv-rows.test.ts.
 */
import {
  add,
  backward,
  type Conv2dOptions,
  conv2d,
  convTranspose2d,
  type Gpu,
  mul,
  scope,
  sum,
  tensor,
} from '@pfgmpp/tensor/node';
import { conv2dRef, type NDArray, nd } from '@pfgmpp/tensor/reference';
import {
  expectClose,
  f32,
  GPU_SKIP_REASON,
  gpuGrads,
  numericGrad,
  randomNd,
  testGpu,
  toGpu,
  uniformValues,
} from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Case,
  checkForward,
  checkGrads,
  convTol,
  GRAD_TOL,
  label,
  opts,
  size,
  termsOf,
} from './conv-helpers.ts';

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
  afterAll(() => {
    gpu.kernels.restrict(null);
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
    gpu.kernels.restrict(['conv3x3_same', 'conv_rows_plain']);
    for (const round of [0, 1]) {
      toLastSlot();
      await checkForward('conv', c, 700 + round);
      await checkGrads('conv', c, 710 + round);
      const used = Object.values(gpu.kernels.usedRows());
      if (gpu.hasSubgroupsOf(8)) expect(used).toContain('conv3x3_same');
    }
    gpu.kernels.restrict(null);
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
    // The rows whose weight gradient sums the output gradient itself, and one that does not.
    for (const row of ['conv3x3_same', 'conv1x1', 'conv_rows_plain']) {
      gpu.kernels.restrict([row, 'conv_rows_plain']);
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
        expectClose(got[2]!, f32(want), convTol(N * H * W), `${label('conv', c)} db ${row}`);
      }
    }
    gpu.kernels.restrict(null);
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
    gpu.kernels.restrict(['conv3x3_same', 'conv_rows_plain']);
    for (const [i, c] of EPI_CASES.entries()) {
      gpu.kernels.clearUsed();
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
      // Fused where conv3x3_same ran pass y (the first two cases, given subgroups of 8).
      const same = Object.values(gpu.kernels.usedRows()).includes('conv3x3_same');
      if (i < 2 && gpu.hasSubgroupsOf(8)) expect(same, name).toBe(true);
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
    gpu.kernels.restrict(null);
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

  it('a restriction that leaves no row fitting a shape is an error naming the rows that fit', () => {
    gpu.kernels.restrict(['resample2x2']);
    try {
      const x = toGpu(randomNd([1, 2, 5, 5], 1));
      const w = toGpu(randomNd([3, 2, 3, 3], 2));
      expect(() => scope(() => conv2d(x, w, null, { padding: 1 }))).toThrow(
        /no kernel row among the allowed rows \(resample2x2\) fits conv\.y k3x3 .*rows that fit: .*conv_rows_plain/,
      );
      x.dispose();
      w.dispose();
    } finally {
      gpu.kernels.restrict(null);
    }
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
