/**
 * Every row of the convolution table, forced in turn, through the whole suite against the
 * float64 references: odd and size-1 shapes, strides, paddings, kernels 1-5, groups and
 * depthwise, output phases of strided transposed convs, the shapes of the special rows (same-size
 * 3x3, flat 1x1, 2x2 resampling), gradients by central differences, NaN and Inf, empty batches,
 * and dispatches of more than 65,535 workgroups. Where the forced row does not fit a case (or
 * lacks a pass) the plain row kernel runs it; after each case the test checks, through the
 * device's record of which row ran each shape, that the forced row ran every pass it fits.
 */
import {
  backward,
  CONV_ROWS,
  type ConvRow,
  conv2d,
  convProblem,
  convTranspose2d,
  type Gpu,
  mul,
  scope,
  sum,
  tensor,
} from '@pfgmpp/tensor/node';
import { conv2dRef, convTranspose2dRef, nd } from '@pfgmpp/tensor/reference';
import {
  expectClose,
  f32,
  GPU_SKIP_REASON,
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
  geometryOf,
  type Kind,
  label,
  opts,
} from './conv-helpers.ts';

/** The row that runs whatever the forced row does not fit (it fits everything everywhere). */
const FALLBACK = 'conv_rows_plain';

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
  { x: [2, 6, 17, 17], w: [10, 6, 1, 7], padding: [0, 3] }, // Inception's 1x7 on 17x17
  { x: [1, 6, 17, 17], w: [9, 6, 7, 1], padding: [3, 0], bias: true }, // and 7x1
  // Same-size 3x3 on rows of 4-32 pixels (conv3x3_same: two output rows per lane where the
  // height is even, 8- or 16-channel tiles, partial blocks of 8 lanes, height 1).
  { x: [2, 5, 6, 32], w: [19, 5, 3, 3], padding: 1, bias: true },
  { x: [3, 4, 5, 4], w: [7, 4, 3, 3], padding: 1 },
  { x: [1, 3, 5, 8], w: [18, 3, 3, 3], padding: 1, bias: true },
  { x: [1, 6, 3, 8], w: [12, 3, 3, 3], padding: 1, groups: 2, bias: true },
  { x: [2, 3, 16, 16], w: [4, 3, 3, 3], padding: 1 },
  { x: [1, 2, 1, 8], w: [3, 2, 3, 3], padding: 1, bias: true },
  { x: [1, 1, 2, 4], w: [1, 1, 3, 3], padding: 1 },
  { x: [1, 4, 3, 16], w: [4, 1, 3, 3], padding: 1, groups: 4 },
  // Flat 1x1 on planes of a multiple of 4 pixels (conv1x1: tiles of 8, 16 and 32 channels,
  // partial tiles and trips, one quad, one input channel per group).
  { x: [2, 5, 3, 4], w: [19, 5, 1, 1], bias: true },
  { x: [1, 6, 4, 4], w: [12, 3, 1, 1], groups: 2 },
  { x: [1, 7, 1, 4], w: [9, 7, 1, 1], bias: true },
  { x: [2, 7, 2, 6], w: [37, 7, 1, 1], bias: true },
  { x: [1, 4, 1, 4], w: [32, 4, 1, 1] },
  { x: [1, 2, 3, 4], w: [48, 1, 1, 1], groups: 2 },
  // EDM's [1, 1] resampling down (resample2x2: width a multiple of 4, odd height).
  { x: [2, 3, 5, 8], w: [3, 1, 2, 2], stride: 2, groups: 3, bias: true },
  { x: [1, 2, 2, 4], w: [2, 1, 2, 2], stride: 2, groups: 2 },
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
  { x: [1, 4, 5, 5], w: [4, 17, 3, 3], padding: 1 }, // two channel tiles
  { x: [1, 4, 6, 5], w: [4, 6, 5, 5], stride: 2, padding: 2, outputPadding: 1, groups: 2 },
  { x: [2, 5, 7, 16], w: [5, 18, 3, 3], padding: 1, bias: true }, // same-size 3x3's form
  { x: [1, 6, 4, 8], w: [6, 3, 3, 3], padding: 1, groups: 2 },
  { x: [2, 9, 2, 8], w: [9, 6, 1, 1], bias: true }, // flat 1x1
  { x: [2, 3, 3, 2], w: [3, 1, 2, 2], stride: 2, groups: 3, bias: true }, // resampling up
  { x: [1, 4, 1, 6], w: [4, 1, 2, 2], stride: 2, groups: 4 },
];

/** Gradient cases: [kind, case]; the passes y, dx and dw of every one. */
const GRAD_CASES: [Kind, Case][] = [
  ['conv', { x: [2, 4, 5, 6], w: [6, 2, 3, 3], stride: 2, padding: 1, groups: 2, bias: true }],
  ['conv', { x: [1, 3, 4, 5], w: [4, 3, 1, 1], bias: true }],
  ['conv', { x: [1, 3, 6, 5], w: [3, 1, 4, 4], stride: 2, padding: 1, groups: 3 }],
  ['conv', { x: [1, 2, 7, 6], w: [5, 2, 3, 2], stride: [2, 1], padding: [1, 0] }],
  ['conv', { x: [1, 2, 4, 4], w: [17, 2, 3, 3], padding: 1, bias: true }],
  ['conv', { x: [1, 2, 5, 5], w: [3, 2, 5, 5], padding: 2 }],
  ['conv', { x: [3, 4, 5, 4], w: [7, 4, 3, 3], padding: 1 }], // same-size 3x3
  ['conv', { x: [1, 3, 5, 8], w: [18, 3, 3, 3], padding: 1, bias: true }],
  ['conv', { x: [1, 6, 3, 8], w: [12, 3, 3, 3], padding: 1, groups: 2, bias: true }],
  ['conv', { x: [1, 3, 2, 32], w: [10, 3, 3, 3], padding: 1, bias: true }],
  ['conv', { x: [1, 5, 2, 4], w: [10, 5, 1, 1], bias: true }], // flat 1x1
  ['conv', { x: [1, 26, 1, 4], w: [6, 26, 1, 1] }],
  ['conv', { x: [2, 8, 2, 6], w: [37, 8, 1, 1], bias: true }],
  ['conv', { x: [1, 12, 1, 8], w: [12, 4, 1, 1], groups: 3 }],
  ['conv', { x: [3, 4, 10, 10], w: [9, 4, 1, 1] }],
  ['conv', { x: [2, 3, 5, 8], w: [3, 1, 2, 2], stride: 2, groups: 3, bias: true }], // resampling
  ['conv', { x: [1, 6, 9, 9], w: [8, 6, 1, 7], padding: [0, 3] }], // 1x7
  [
    'convT',
    {
      x: [2, 4, 3, 4],
      w: [4, 3, 3, 3],
      stride: 2,
      padding: 1,
      outputPadding: 1,
      groups: 2,
      bias: true,
    },
  ],
  ['convT', { x: [1, 2, 3, 3], w: [2, 1, 4, 4], stride: 2, padding: 1, groups: 2 }],
  ['convT', { x: [1, 2, 3, 2], w: [2, 3, 2, 2], stride: 3, bias: true }], // a phase without taps
  ['convT', { x: [1, 3, 3, 4], w: [3, 2, 1, 1] }],
  ['convT', { x: [1, 6, 4, 8], w: [6, 3, 3, 3], padding: 1, groups: 2 }],
  ['convT', { x: [1, 6, 1, 8], w: [6, 5, 1, 1] }],
  ['convT', { x: [1, 20, 2, 2], w: [20, 36, 1, 1] }],
  ['convT', { x: [1, 4, 1, 6], w: [4, 1, 2, 2], stride: 2, groups: 4 }],
];

/** The passes a case's forward runs, and those its gradients add. */
const FORWARD_PASS: Record<Kind, 'y' | 'dx'> = { conv: 'y', convT: 'dx' };
const ALL_PASSES = ['y', 'dx', 'dw'] as const;

describe.skipIf(GPU_SKIP_REASON)('every convolution row, forced', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => {
    gpu.kernels.restrict(null);
  });

  for (const row of CONV_ROWS) {
    describe(`row ${row.name}`, () => {
      beforeAll(() => {
        gpu.kernels.restrict(row.name === FALLBACK ? [FALLBACK] : [row.name, FALLBACK]);
      });
      /** How many runs of each pass went through the forced row. */
      const ran = { y: 0, dx: 0, dw: 0 };
      /** After a case: every pass of it that the row fits ran through the row. */
      const expectRan = (kind: Kind, c: Case, passes: readonly ('y' | 'dx' | 'dw')[]) => {
        const g = geometryOf(kind, c);
        const used = gpu.kernels.usedRows();
        for (const pass of passes) {
          if (!row[pass]?.fits(g, gpu) || g.N * g.OH * g.OW === 0) continue;
          expect(used[convProblem(pass, g, gpu).key], `${label(kind, c)} pass ${pass}`).toBe(
            row.name,
          );
          ran[pass]++;
        }
      };

      it('forward: odd sizes, size 1, strides, paddings, kernels 1-7, groups, special shapes', async () => {
        for (const [i, c] of CONV_CASES.entries()) {
          await checkForward('conv', c, 10 * i);
          expectRan('conv', c, [FORWARD_PASS.conv]);
        }
        for (const [i, c] of CONVT_CASES.entries()) {
          await checkForward('convT', c, 10 * i + 5);
          expectRan('convT', c, [FORWARD_PASS.convT]);
        }
      });

      it('gradients (x, w, bias) match central differences of the reference', async () => {
        for (const [i, [kind, c]] of GRAD_CASES.entries()) {
          await checkGrads(kind, c, 100 + 10 * i);
          expectRan(kind, c, ALL_PASSES);
        }
      });

      it('NaN and Inf reach exactly the outputs whose window holds them', async () => {
        await nanCases(row);
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

      it('folds more than 65,535 workgroups into 2-D', async (ctx) => {
        const folded = await foldCases(gpu, row);
        if (folded === 0) {
          // resample2x2 reads 32 bytes per invocation: 65,536 workgroups of 64 would need a
          // binding over the 128 MiB lavapipe allows.
          ctx.skip(`no case folds for ${row.name} within this adapter's binding limit`);
        }
      });

      it('ran every pass it has on the cases it fits', (ctx) => {
        const passes = ALL_PASSES.filter((p) => row[p]);
        if (passes.every((p) => ran[p] === 0)) {
          ctx.skip(`${row.name} fits no case on this adapter (${gpu.adapterInfo.description})`);
        }
        for (const p of passes) expect(ran[p], `pass ${p}`).toBeGreaterThan(0);
      });
    });
  }
});

/** NaN and Inf propagation: general windows, same-size 3x3 edges, 1x1 tiles. */
async function nanCases(row: ConvRow): Promise<void> {
  const name = `(${row.name})`;
  // One NaN in x: the 3 output channels x 3x3 neighbourhood whose windows hold it.
  const X = randomNd([1, 2, 6, 7], 1);
  X.data[(1 * 6 + 2) * 7 + 3] = Number.NaN;
  const W = randomNd([3, 2, 3, 3], 2);
  const y = scope(() => conv2d(toGpu(X), toGpu(W), null, { padding: 1 }));
  const v = await y.read();
  expect(v.filter(Number.isNaN).length, name).toBe(3 * 9);
  expectClose(v, f32(conv2dRef(X, W, null, { padding: 1 }).data), convTol(18), `NaN x ${name}`);
  const WT = randomNd([2, 3, 3, 3], 3);
  const yt = scope(() => convTranspose2d(toGpu(X), toGpu(WT), null, { stride: 2, padding: 1 }));
  const reft = convTranspose2dRef(X, WT, null, { stride: 2, padding: 1 });
  expectClose(await yt.read(), f32(reft.data), convTol(18), `NaN x convT ${name}`);
  // A NaN weight makes its whole output channel NaN (padding is multiplied like data, as in
  // PyTorch's im2col path; here without padding).
  const W2 = randomNd([3, 2, 3, 3], 4);
  W2.data[20] = Number.NaN; // output channel 1
  const Xok = randomNd([1, 2, 6, 7], 5);
  const y2 = scope(() => conv2d(toGpu(Xok), toGpu(W2)));
  const v2 = await y2.read();
  expect(v2.slice(20, 40).every(Number.isNaN), name).toBe(true);
  expectClose(v2, f32(conv2dRef(Xok, W2, null).data), convTol(18), `NaN w ${name}`);
  // Same-size 3x3 on rows of 8: a NaN in the first column must not reach the row above's last
  // quad; an Inf in the last pixel gives +-Inf where the reference has it.
  const X3 = randomNd([1, 2, 4, 8], 11);
  X3.data[(0 * 4 + 1) * 8] = Number.NaN;
  X3.data[(1 * 4 + 3) * 8 + 7] = Number.POSITIVE_INFINITY;
  const W3 = randomNd([3, 2, 3, 3], 12);
  const y3 = scope(() => conv2d(toGpu(X3), toGpu(W3), null, { padding: 1 }));
  const ref3 = conv2dRef(X3, W3, null, { padding: 1 });
  const v3 = await y3.read();
  expect(v3.filter(Number.isNaN).length, name).toBe(ref3.data.filter(Number.isNaN).length);
  expectClose(v3, f32(ref3.data), convTol(18), `NaN/Inf same 3x3 ${name}`);
  // 1x1 with 5 channels per group: a tile's channels past its group (an Inf in group 1's x and
  // weights) must read as zeros, not Inf * 0.
  const XI = randomNd([1, 10, 1, 8], 774);
  XI.data[5 * 8 + 3] = Number.POSITIVE_INFINITY;
  const WI = randomNd([48, 5, 1, 1], 775);
  WI.data[(24 + 2) * 5] = Number.NEGATIVE_INFINITY;
  WI.data[(24 + 2) * 5 + 2] = Number.NEGATIVE_INFINITY;
  const yi = scope(() => conv2d(toGpu(XI), toGpu(WI), null, { groups: 2 }));
  const vi = await yi.read();
  expect(vi.slice(0, 24 * 8).every(Number.isFinite), name).toBe(true);
  const refI = conv2dRef(XI, WI, null, { groups: 2 });
  expectClose(vi, f32(refI.data), convTol(5), `Inf 1x1 ${name}`);
  for (const t of [y, yt, y2, y3, yi]) t.dispose();
}

interface FoldCase {
  what: string;
  c: Case;
  /** Also run the weight gradient (pass dw). */
  grad: boolean;
}

/**
 * Depthwise and grouped convolutions with one workgroup per channel or group in most rows:
 * 70,000 of them is more than 65,535.
 */
const FOLD_CASES: FoldCase[] = [
  {
    what: '70,000 depthwise 1x1 channels',
    c: { x: [1, 70_000, 1, 1], w: [70_000, 1, 1, 1], groups: 70_000 },
    grad: true,
  },
  {
    what: '70,000 depthwise 3x3 channels on rows of 4',
    c: { x: [1, 70_000, 1, 4], w: [70_000, 1, 3, 3], padding: 1, groups: 70_000 },
    grad: true,
  },
  {
    what: '70,000 depthwise 3x3 channels, two rows',
    c: { x: [1, 70_000, 2, 4], w: [70_000, 1, 3, 3], padding: 1, groups: 70_000 },
    grad: false,
  },
  {
    what: '66,000 groups of 5 output channels, 1x1 on 4 pixels',
    c: { x: [1, 66_000, 1, 4], w: [5 * 66_000, 1, 1, 1], groups: 66_000 },
    grad: false,
  },
  {
    what: '470,000 depthwise 3x3 channels on rows of 3 (weights packed in 66,094 workgroups)',
    c: { x: [1, 470_000, 1, 3], w: [470_000, 1, 3, 3], padding: 1, groups: 470_000 },
    grad: false,
  },
];

/** Runs the fold cases the row fits; returns how many folded past 65,535 workgroups. */
async function foldCases(gpu: Gpu, row: ConvRow): Promise<number> {
  let folded = 0;
  for (const [i, f] of FOLD_CASES.entries()) {
    const g = geometryOf('conv', f.c);
    const fitsY = row.y?.fits(g, gpu) ?? false;
    const fitsW = f.grad && (row.dw?.fits(g, gpu) ?? false);
    if (!fitsY && !fitsW) continue;
    gpu.counters.largestDispatch = 0;
    const X = nd(
      f.c.x,
      uniformValues(
        f.c.x.reduce((p, d) => p * d, 1),
        -1,
        1,
        20 + i,
      ),
    );
    const W = nd(
      f.c.w,
      uniformValues(
        f.c.w.reduce((p, d) => p * d, 1),
        -1,
        1,
        30 + i,
      ),
    );
    const o = opts(f.c);
    const taps = (f.c.w[2] as number) * (f.c.w[3] as number);
    const w = toGpu(W).requireGrad();
    const G = uniformValues(conv2dRef(X, W, null, o).data.length, -1, 1, 40 + i);
    const y = scope(() => {
      const out = conv2d(toGpu(X), w, null, o);
      if (fitsW) backward(sum(mul(out, tensor(f32(G), out.shape))));
      return out.detach();
    });
    expectClose(await y.read(), f32(conv2dRef(X, W, null, o).data), convTol(taps), f.what);
    if (fitsW) {
      // dw[c, 0, i, j] = sum_p G[c, p] x[c, p + (i, j) - padding]: a reference per channel.
      const [, C, H, Wd] = f.c.x as [number, number, number, number];
      const kh = f.c.w[2] as number;
      const kw = f.c.w[3] as number;
      const p = (f.c.padding as number | undefined) ?? 0;
      const dw = new Float64Array(C * kh * kw);
      for (let c = 0; c < C; c++)
        for (let a = 0; a < kh; a++)
          for (let b = 0; b < kw; b++) {
            let acc = 0;
            for (let oy = 0; oy < H; oy++)
              for (let ox = 0; ox < Wd; ox++) {
                const [iy, ix] = [oy + a - p, ox + b - p];
                if (iy < 0 || ix < 0 || iy >= H || ix >= Wd) continue;
                acc +=
                  (G[(c * H + oy) * Wd + ox] as number) *
                  (X.data[(c * H + iy) * Wd + ix] as number);
              }
            dw[(c * kh + a) * kw + b] = acc;
          }
      expectClose(await w.grad!.read(), f32(Array.from(dw)), convTol(H * Wd), `${f.what} dw`);
    }
    if (gpu.counters.largestDispatch > 65_535) folded++;
    for (const t of [w, y]) t.dispose();
  }
  return folded;
}
