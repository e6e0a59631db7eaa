/**
 * The FID Inception-v3 (TensorFlow's 2015-12-05 graph as pytorch-fid ports it): every conv unit
 * (conv without bias + BatchNorm with eps 0.001 + ReLU) with its shape, stride and padding, in
 * state-dict order, under the names of `pt_inception-2015-12-05-6726825d.pth`. Pure data: the
 * forward pass is in inception.ts, the weight loading in weights.ts.
 */

/** One conv + BatchNorm + ReLU unit; its tensors are `${name}.conv.weight` and `${name}.bn.*`. */
export interface ConvUnit {
  name: string;
  /** conv.weight shape [out, in, kh, kw]. */
  shape: readonly [number, number, number, number];
  stride: number;
  /** Zero padding [h, w] on each side. */
  padding: readonly [number, number];
}

/** BatchNorm epsilon of every unit (TensorFlow's default in that graph). */
export const BN_EPS = 0.001;
/** Pool3 feature size (FID) and logit count (1008 classes of the 2015 graph, for IS). */
export const FEATURES = 2048;
export const CLASSES = 1008;
/** Every image is resized to this square before the network. */
export const INPUT_SIZE = 299;

const unit = (
  name: string,
  out: number,
  cin: number,
  k: readonly [number, number] = [1, 1],
  padding: readonly [number, number] = [0, 0],
  stride = 1,
): ConvUnit => ({ name, shape: [out, cin, k[0], k[1]], stride, padding });

const K3: [number, number] = [3, 3];
const P1: [number, number] = [1, 1];
const K1x7: [number, number] = [1, 7];
const K7x1: [number, number] = [7, 1];
const P1x7: [number, number] = [0, 3];
const P7x1: [number, number] = [3, 0];
const K1x3: [number, number] = [1, 3];
const K3x1: [number, number] = [3, 1];

/** Mixed_5b/c/d (InceptionA): 64 + 64 + 96 + poolFeatures channels. */
function blockA(p: string, cin: number, poolFeatures: number): ConvUnit[] {
  return [
    unit(`${p}.branch1x1`, 64, cin),
    unit(`${p}.branch5x5_1`, 48, cin),
    unit(`${p}.branch5x5_2`, 64, 48, [5, 5], [2, 2]),
    unit(`${p}.branch3x3dbl_1`, 64, cin),
    unit(`${p}.branch3x3dbl_2`, 96, 64, K3, P1),
    unit(`${p}.branch3x3dbl_3`, 96, 96, K3, P1),
    unit(`${p}.branch_pool`, poolFeatures, cin),
  ];
}

/** Mixed_6a (InceptionB): 384 + 96 + cin channels at half the size. */
function blockB(p: string, cin: number): ConvUnit[] {
  return [
    unit(`${p}.branch3x3`, 384, cin, K3, [0, 0], 2),
    unit(`${p}.branch3x3dbl_1`, 64, cin),
    unit(`${p}.branch3x3dbl_2`, 96, 64, K3, P1),
    unit(`${p}.branch3x3dbl_3`, 96, 96, K3, [0, 0], 2),
  ];
}

/** Mixed_6b..6e (InceptionC) with c7 channels in the factorised 7x7 branches: 768 channels. */
function blockC(p: string, c7: number): ConvUnit[] {
  return [
    unit(`${p}.branch1x1`, 192, 768),
    unit(`${p}.branch7x7_1`, c7, 768),
    unit(`${p}.branch7x7_2`, c7, c7, K1x7, P1x7),
    unit(`${p}.branch7x7_3`, 192, c7, K7x1, P7x1),
    unit(`${p}.branch7x7dbl_1`, c7, 768),
    unit(`${p}.branch7x7dbl_2`, c7, c7, K7x1, P7x1),
    unit(`${p}.branch7x7dbl_3`, c7, c7, K1x7, P1x7),
    unit(`${p}.branch7x7dbl_4`, c7, c7, K7x1, P7x1),
    unit(`${p}.branch7x7dbl_5`, 192, c7, K1x7, P1x7),
    unit(`${p}.branch_pool`, 192, 768),
  ];
}

/** Mixed_7a (InceptionD): 320 + 192 + 768 channels at half the size. */
function blockD(p: string): ConvUnit[] {
  return [
    unit(`${p}.branch3x3_1`, 192, 768),
    unit(`${p}.branch3x3_2`, 320, 192, K3, [0, 0], 2),
    unit(`${p}.branch7x7x3_1`, 192, 768),
    unit(`${p}.branch7x7x3_2`, 192, 192, K1x7, P1x7),
    unit(`${p}.branch7x7x3_3`, 192, 192, K7x1, P7x1),
    unit(`${p}.branch7x7x3_4`, 192, 192, K3, [0, 0], 2),
  ];
}

/** Mixed_7b/7c (InceptionE): 320 + 768 + 768 + 192 = 2048 channels. */
function blockE(p: string, cin: number): ConvUnit[] {
  return [
    unit(`${p}.branch1x1`, 320, cin),
    unit(`${p}.branch3x3_1`, 384, cin),
    unit(`${p}.branch3x3_2a`, 384, 384, K1x3, [0, 1]),
    unit(`${p}.branch3x3_2b`, 384, 384, K3x1, [1, 0]),
    unit(`${p}.branch3x3dbl_1`, 448, cin),
    unit(`${p}.branch3x3dbl_2`, 384, 448, K3, P1),
    unit(`${p}.branch3x3dbl_3a`, 384, 384, K1x3, [0, 1]),
    unit(`${p}.branch3x3dbl_3b`, 384, 384, K3x1, [1, 0]),
    unit(`${p}.branch_pool`, 192, cin),
  ];
}

/** The 94 units in state-dict order (stem, Mixed_5b ... Mixed_7c). */
export const UNITS: readonly ConvUnit[] = [
  unit('Conv2d_1a_3x3', 32, 3, K3, [0, 0], 2),
  unit('Conv2d_2a_3x3', 32, 32, K3),
  unit('Conv2d_2b_3x3', 64, 32, K3, P1),
  unit('Conv2d_3b_1x1', 80, 64),
  unit('Conv2d_4a_3x3', 192, 80, K3),
  ...blockA('Mixed_5b', 192, 32),
  ...blockA('Mixed_5c', 256, 64),
  ...blockA('Mixed_5d', 288, 64),
  ...blockB('Mixed_6a', 288),
  ...blockC('Mixed_6b', 128),
  ...blockC('Mixed_6c', 160),
  ...blockC('Mixed_6d', 160),
  ...blockC('Mixed_6e', 192),
  ...blockD('Mixed_7a'),
  ...blockE('Mixed_7b', 1280),
  ...blockE('Mixed_7c', 2048),
];

/** The BatchNorm tensors of a unit, in state-dict order. */
export const BN_PARTS = ['weight', 'bias', 'running_mean', 'running_var'] as const;

/**
 * pytorch-fid's `InceptionV3` wraps the same modules in `blocks.B.I`; its state dicts (and the
 * reference fixtures) use those names. Module prefix there -> name here.
 */
const BLOCK_MODULES: readonly (readonly string[])[] = [
  ['Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3'],
  ['Conv2d_3b_1x1', 'Conv2d_4a_3x3'],
  ['Mixed_5b', 'Mixed_5c', 'Mixed_5d', 'Mixed_6a', 'Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e'],
  ['Mixed_7a', 'Mixed_7b', 'Mixed_7c'],
];

/** 'blocks.2.0.branch1x1.conv.weight' -> 'Mixed_5b.branch1x1.conv.weight'; others unchanged. */
export function canonicalName(name: string): string {
  const m = /^blocks\.(\d+)\.(\d+)\.(.*)$/.exec(name);
  if (!m) return name;
  const module = BLOCK_MODULES[Number(m[1])]?.[Number(m[2])];
  return module === undefined ? name : `${module}.${m[3]}`;
}

/** The pytorch-fid name of a unit ('Mixed_5b.branch1x1' -> 'blocks.2.0.branch1x1'). */
export function pytorchFidName(unitName: string): string {
  const [module, ...rest] = unitName.split('.');
  for (const [b, modules] of BLOCK_MODULES.entries()) {
    const i = modules.indexOf(module as string);
    if (i >= 0) return [`blocks.${b}.${i}`, ...rest].join('.');
  }
  throw new Error(`no pytorch-fid name for '${unitName}'`);
}

/** Multiply-accumulates of the convs for one 299x299 image (5.711e9), for throughput figures. */
export function convMacsPerImage(): number {
  // Output sizes along the network at 299x299 input, by unit (the table in FID.md).
  let macs = 0;
  const size = (name: string, stride: number): number => {
    if (name.startsWith('Conv2d_1a')) return 149;
    if (name.startsWith('Conv2d_2')) return 147;
    if (name.startsWith('Conv2d_3b')) return 73;
    if (name.startsWith('Conv2d_4a')) return 71;
    if (name.startsWith('Mixed_5')) return 35;
    if (name.startsWith('Mixed_6a')) return stride === 2 ? 17 : 35;
    if (name.startsWith('Mixed_6')) return 17;
    if (name.startsWith('Mixed_7a')) return stride === 2 ? 8 : 17;
    return 8;
  };
  for (const u of UNITS) {
    const [o, i, kh, kw] = u.shape;
    const s = size(u.name, u.stride);
    macs += o * i * kh * kw * s * s;
  }
  return macs;
}
