/**
 * The op table: every public op once, with its kernel, CPU reference, backward rule, test
 * domain and tolerance. Unary and binary rows come from the tables in ops/elementwise.ts, which
 * the generated tests iterate; the other rows point at their hand-written test cases. A test
 * fails when an exported op has no row here.
 */
import { describeConvRows } from './ops/conv/table.ts';
import { describeMatmulRows } from './ops/matmul/table.ts';
import { BINARY, type Tolerance, UNARY } from './ops/elementwise.ts';

export interface OpRow {
  name: string;
  kind:
    | 'unary'
    | 'binary'
    | 'ternary'
    | 'reduce'
    | 'composite'
    | 'matmul'
    | 'conv'
    | 'pool'
    | 'resize'
    | 'norm'
    | 'layout'
    | 'random'
    | 'optim'
    | 'create';
  /** WGSL file and entry (with override constants), or the ops a composite is built from. */
  kernel: string;
  /** CPU reference in src/reference/. */
  reference: string;
  /** How the gradient is computed ('none' for non-differentiable ops). */
  backward: string;
  /** Values the tests draw inputs from. */
  domain: string;
  tol: Tolerance;
}

const unaryRows: OpRow[] = Object.entries(UNARY).map(([name, row]) => ({
  name,
  kind: 'unary',
  kernel: `unary.wgsl:main OP=${row.code}`,
  reference: `UNARY_REF.${name}`,
  backward: row.grad ? `UNARY.${name}.grad (ops)` : 'none',
  domain: `[${row.domain.join(', ')}]`,
  tol: row.tol,
}));

const binaryRows: OpRow[] = Object.entries(BINARY).map(([name, row]) => ({
  name,
  kind: 'binary',
  kernel: `binary.wgsl:main OP=${row.code}`,
  reference: `BINARY_REF.${name}`,
  backward: row.grad ? `BINARY.${name}.grad, then sumTo each operand's shape` : 'none',
  domain: `a in [${row.domainA.join(', ')}], b in [${row.domainB.join(', ')}]`,
  tol: row.tol,
}));

const EXACT = { atol: 0, rtol: 0 };
// Sums in f32 over up to ~1e6 terms: rounding grows like sqrt(K) * eps relative to sum|x|.
const SUM_TOL = { atol: 1e-5, rtol: 1e-5 };

// f32 sums over K = Cin/groups * kh * kw products of values in [-1, 1]: at most
// K * 2^-24 * max(4, sqrt(K)) absolute (conv.test.ts scales its tolerance with K; this is
// the bound at K = 150).
const CONV_TOL = { atol: 1.2e-4, rtol: 1e-6 };

const otherRows: OpRow[] = [
  {
    name: 'where',
    kind: 'ternary',
    kernel: 'where.wgsl:main',
    reference: 'whereRef',
    backward: 'where(c, g, 0), where(c, 0, g), sumTo',
    domain: 'cond in {0, 1, NaN}',
    tol: EXACT,
  },
  {
    name: 'full',
    kind: 'create',
    kernel: 'fill.wgsl:main',
    reference: 'Float64Array.fill',
    backward: 'none',
    domain: 'any value incl. NaN/Inf',
    tol: EXACT,
  },
  {
    name: 'tensor',
    kind: 'create',
    kernel: 'queue.writeBuffer (no kernel)',
    reference: 'identity',
    backward: 'none',
    domain: 'any f32',
    tol: EXACT,
  },
  {
    name: 'zeros',
    kind: 'create',
    kernel: 'fill.wgsl:main',
    reference: 'zeros',
    backward: 'none',
    domain: '-',
    tol: EXACT,
  },
  {
    name: 'ones',
    kind: 'create',
    kernel: 'fill.wgsl:main',
    reference: 'ones',
    backward: 'none',
    domain: '-',
    tol: EXACT,
  },
  {
    name: 'zerosLike',
    kind: 'create',
    kernel: 'fill.wgsl:main',
    reference: 'zeros',
    backward: 'none',
    domain: '-',
    tol: EXACT,
  },
  {
    name: 'onesLike',
    kind: 'create',
    kernel: 'fill.wgsl:main',
    reference: 'ones',
    backward: 'none',
    domain: '-',
    tol: EXACT,
  },
  {
    name: 'sum',
    kind: 'reduce',
    kernel:
      'reduce.wgsl:main OP=0 (multi-pass; main4 along the contiguous axis, mid4 for inner % 4 == 0)',
    reference: 'reduceRef(sum)',
    backward: 'broadcastTo(g)',
    domain: '[-1, 1]',
    tol: SUM_TOL,
  },
  {
    name: 'mean',
    kind: 'reduce',
    kernel: 'reduce.wgsl:main/main4/mid4 OP=0, scaled',
    reference: 'reduceRef(mean)',
    backward: 'broadcastTo(g) / count',
    domain: '[-1, 1]',
    tol: SUM_TOL,
  },
  {
    name: 'max',
    kind: 'reduce',
    kernel: 'reduce.wgsl:main/main4/mid4 OP=1',
    reference: 'reduceRef(max)',
    backward: 'g * (x == max) / ties',
    domain: '[-1, 1], NaN',
    tol: EXACT,
  },
  {
    name: 'min',
    kind: 'reduce',
    kernel: 'reduce.wgsl:main/main4/mid4 OP=2',
    reference: 'reduceRef(min)',
    backward: 'g * (x == min) / ties',
    domain: '[-1, 1], NaN',
    tol: EXACT,
  },
  {
    name: 'variance',
    kind: 'composite',
    kernel: 'mean, sub, square, sum',
    reference: 'two-pass float64',
    backward: 'from primitives',
    domain: '[-1, 1]',
    tol: SUM_TOL,
  },
  {
    name: 'softmax',
    kind: 'composite',
    kernel: 'max (no grad), sub, exp, sum, div',
    reference: 'float64 softmax',
    backward: 'from primitives',
    domain: '[-30, 30]',
    tol: { atol: 1e-6, rtol: 1e-5 },
  },
  {
    name: 'logsumexp',
    kind: 'composite',
    kernel: 'max (no grad), sub, exp, sum, log, add',
    reference: 'float64 logsumexp',
    backward: 'from primitives',
    domain: '[-30, 30]',
    tol: { atol: 1e-5, rtol: 1e-6 },
  },
  {
    name: 'sumTo',
    kind: 'composite',
    kernel: 'sum over broadcast axes',
    reference: 'sumToRef',
    backward: 'from primitives',
    domain: '[-1, 1]',
    tol: SUM_TOL,
  },
  {
    name: 'matmul',
    kind: 'matmul',
    kernel: describeMatmulRows(),
    reference: 'matmulRef',
    backward: 'dA = g op(B)^T, dB = op(A)^T g, sumTo batch',
    domain: '[-1, 1]',
    tol: { atol: 1e-5, rtol: 1e-5 },
  },
  {
    name: 'conv2d',
    kind: 'conv',
    kernel: `pass y: ${describeConvRows('y')}; the epilogue as add/mul where the row lacks it`,
    reference: 'conv2dRef (epilogue: the conv test adds shift, residual, scale)',
    backward: `g * scale; dx = pass dx: ${describeConvRows('dx')}; dw = pass dw: ${describeConvRows('dw')}; dshift = sum over pixels, db = the dw row's sums or sum; dresidual = g * scale`,
    domain: '[-1, 1], NaN',
    tol: CONV_TOL,
  },
  {
    name: 'convTranspose2d',
    kind: 'conv',
    kernel: `pass dx of the conv2d geometry: ${describeConvRows('dx')}`,
    reference: 'convTranspose2dRef',
    backward: 'dx = pass y (conv2d), dw = pass dw with x and dy swapped, db = sum',
    domain: '[-1, 1], NaN',
    tol: CONV_TOL,
  },
  {
    name: 'maxPool2d',
    kind: 'pool',
    kernel: 'pool.wgsl:main OP=0',
    reference: 'maxPool2dRef',
    backward: 'none (forward only: nothing trains through it)',
    domain: '[-1, 1], NaN',
    tol: EXACT,
  },
  {
    name: 'avgPool2d',
    kind: 'pool',
    kernel: 'pool.wgsl:main OP=1 INCLUDE_PAD=0|1',
    reference: 'avgPool2dRef',
    backward: 'none (forward only: nothing trains through it)',
    domain: '[-1, 1], NaN',
    tol: { atol: 1e-6, rtol: 1e-6 },
  },
  {
    name: 'globalAvgPool',
    kind: 'pool',
    kernel: 'reduce.wgsl:main OP=0 (mean over H, W)',
    reference: 'globalAvgPoolRef',
    backward: 'from mean',
    domain: '[-1, 1]',
    tol: SUM_TOL,
  },
  {
    name: 'resizeBilinear',
    kind: 'resize',
    kernel: 'resize.wgsl:main MODE=0 (half-pixel) | 1 (tf1)',
    reference: 'resizeBilinearRef',
    backward: 'none (forward only: nothing trains through it)',
    domain: '[-1, 1]',
    tol: { atol: 1e-6, rtol: 1e-6 },
  },
  {
    name: 'augmentUpsample',
    kind: 'resize',
    kernel: 'augment_upsample.wgsl:main',
    reference: 'augmentUpsampleRef',
    backward: 'none (forward only: training augmentation)',
    domain: '[-1, 1]',
    tol: { atol: 1e-5, rtol: 1e-6 },
  },
  {
    name: 'affineGridSample',
    kind: 'resize',
    kernel: 'grid_sample.wgsl:main',
    reference: 'affineGridSampleRef',
    backward: 'none (forward only: training augmentation)',
    domain: '[-1, 1]',
    tol: { atol: 4e-5, rtol: 1e-6 },
  },
  {
    name: 'augmentDownsample',
    kind: 'resize',
    kernel: 'augment_downsample.wgsl:main',
    reference: 'augmentDownsampleRef',
    backward: 'none (forward only: training augmentation)',
    domain: '[-1, 1]',
    tol: { atol: 1e-5, rtol: 1e-6 },
  },
  {
    name: 'groupNorm',
    kind: 'norm',
    kernel:
      'groupnorm_stats.wgsl:partial(4)+merge, groupnorm.wgsl:main(4) SILU=0|1 (fused normalise, affine, SiLU)',
    reference: 'groupNormRef',
    backward:
      'groupnorm_bwd.wgsl:sums(4) (per-plane sums), groupnorm_coef.wgsl (dw, db and group coefficients; reference groupNormCoefRef), groupnorm_bwd.wgsl:main(4) for dx',
    domain: '[-2, 2] + offset, NaN',
    tol: { atol: 2e-5, rtol: 1e-5 },
  },
  {
    name: 'reshape',
    kind: 'layout',
    kernel: 'none (view)',
    reference: 'identity',
    backward: 'reshape g',
    domain: '-',
    tol: EXACT,
  },
  {
    name: 'permute',
    kind: 'layout',
    kernel: 'copy.wgsl:main (main4 for whole vec4)',
    reference: 'permuteRef',
    backward: 'permute(g, inverse)',
    domain: 'any',
    tol: EXACT,
  },
  {
    name: 'transpose',
    kind: 'layout',
    kernel: 'copy.wgsl:main (permute)',
    reference: 'permuteRef',
    backward: 'transpose g',
    domain: 'any',
    tol: EXACT,
  },
  {
    name: 'slice',
    kind: 'layout',
    kernel: 'copy.wgsl:main (main4 for whole vec4)',
    reference: 'sliceRef',
    backward: 'pad g with zeros',
    domain: 'any',
    tol: EXACT,
  },
  {
    name: 'concat',
    kind: 'layout',
    kernel: 'copy.wgsl:main or main4 (whole vec4) per input',
    reference: 'concatRef',
    backward: 'slices of g',
    domain: 'any',
    tol: EXACT,
  },
  {
    name: 'pad',
    kind: 'layout',
    kernel: 'fill.wgsl + copy.wgsl',
    reference: 'padRef',
    backward: 'slice of g',
    domain: 'any',
    tol: EXACT,
  },
  {
    name: 'broadcastTo',
    kind: 'layout',
    kernel: 'copy.wgsl:main (stride 0)',
    reference: 'broadcastToRef',
    backward: 'sumTo(g)',
    domain: 'any',
    tol: EXACT,
  },
  {
    name: 'stridedCopy',
    kind: 'layout',
    kernel: 'copy.wgsl:main',
    reference: 'layout refs',
    backward: 'none (building block)',
    domain: 'any',
    tol: EXACT,
  },
  {
    name: 'gather',
    kind: 'layout',
    kernel: 'gather.wgsl:gather_rows',
    reference: 'gatherRowsRef',
    backward: 'gather.wgsl:scatter_add_rows (scatterAddRowsRef)',
    domain: 'integer indices, out of range -> NaN',
    tol: EXACT,
  },
  {
    name: 'rand',
    kind: 'random',
    kernel: 'random.wgsl:main NORMAL=0',
    reference: 'randomRef (Philox 4x32-10)',
    backward: 'none',
    domain: 'seed, stream, offset',
    tol: EXACT,
  },
  {
    name: 'randn',
    kind: 'random',
    kernel: 'random.wgsl:main NORMAL=1',
    reference: 'randomRef (Box-Muller)',
    backward: 'none',
    domain: 'seed, stream, offset',
    tol: { atol: 2e-6, rtol: 2e-6 },
  },
  {
    name: 'attention',
    kind: 'composite',
    // Measured on lavapipe (best of 3 x 5 runs), fused vs the composite mul (k / sqrt(C)),
    // matmul transA, softmax, matmul transB: [B, C, L] = [16, 256, 256] fwd 116 vs 128 ms,
    // fwd+bwd 304 vs 508 ms; [16, 64, 64] fwd 3.3 vs 7.0 ms; [4, 64, 1024] fwd 180 vs 296 ms;
    // [32, 64, 255] fwd 142 vs 162 ms. The matmuls are ~85% of the fused forward.
    kernel:
      'matmul transA (sT = k^T q), attention_softmax.wgsl:main(4) (scaled softmax down columns, writes wT), matmul (v wT)',
    reference: 'attentionRef',
    backward: 'matmul backward; attention_softmax_bwd.wgsl:bwd(4) for the softmax',
    domain: 'q, k, v in [-2, 2]',
    tol: { atol: 2e-5, rtol: 1e-4 },
  },
  {
    name: 'attentionQKV',
    kind: 'composite',
    // UNet-small training step on lavapipe, per kernel family, best of 4 against attention() on
    // three slices: copies 42.1 -> 27.3 ms, sums 26.9 -> 19.6 ms, fills 8.0 -> 0 ms.
    kernel:
      'attention() with q, k, v read in place from [B, C, 3, L] (matmul_sg.wgsl offsets and B row stride); C or L not a multiple of 4: slices + attention()',
    reference: 'attentionRef on the three slots',
    backward:
      'four matmuls in place, attention_softmax_bwd.wgsl, transposes of g and q, three strided copies into one [B, C, 3, L]',
    domain: 'qkv in [-2, 2]',
    tol: { atol: 2e-5, rtol: 1e-4 },
  },
  {
    name: 'dropout',
    kind: 'random',
    kernel:
      'random.wgsl (rand), unary.wgsl affine + step (u > p), binary.wgsl mul, affine (1/(1-p))',
    reference: 'dropoutRef (randomRef mask)',
    backward: 'from primitives: g * mask / (1 - p)',
    domain: 'p in [0, 1], seed, stream, offset',
    tol: { atol: 0, rtol: 1e-7 },
  },
];

const optimRows: OpRow[] = [
  {
    name: 'adamStep',
    kind: 'optim',
    kernel: 'adam.wgsl:adam (in place; gradient sanitising fused)',
    reference: 'adamRef',
    backward: 'none (an update, not a function of the graph)',
    domain: 'params, grads incl. NaN/Inf with sanitize',
    tol: { atol: 1e-6, rtol: 1e-5 },
  },
  {
    name: 'emaUpdate',
    kind: 'optim',
    kernel: 'ema.wgsl:ema (in place)',
    reference: 'emaRef',
    backward: 'none (an update)',
    domain: 'any',
    tol: { atol: 1e-7, rtol: 1e-6 },
  },
];

export const OP_TABLE: readonly OpRow[] = [...unaryRows, ...binaryRows, ...otherRows, ...optimRows];
