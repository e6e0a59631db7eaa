/**
 * Kernel descriptors: which WGSL file and entry point, and the bindings it declares.
 *
 * Bindings are listed once here, in binding order: storage buffers first, then at most one
 * uniform block. The pipeline layout is built from this list, so a shader that disagrees with
 * its descriptor fails at pipeline creation with a message instead of running.
 */
import { SHADER_SOURCES } from './generated/shaders.ts';

export type BindingKind = 'read' | 'write' | 'uniform';

export interface KernelSpec<F extends string = string> {
  /** WGSL file in the top-level shaders/ folder; its `struct Params` is the uniform block. */
  readonly file: F;
  readonly entry: string;
  readonly bindings: readonly BindingKind[];
  /** Workgroup size (the WG override); invocations per workgroup along x. */
  readonly workgroupSize: number;
  /** Source text; defaults to the shaders/ file. Tests pass their own to check error paths. */
  readonly source?: string;
  /** Library files (e.g. 'lib/trig.wgsl') placed before the kernel's own source. */
  readonly libs?: readonly string[];
}

/** One segment of a composed shader module: which file its lines come from. */
export interface SourceSegment {
  file: string;
  firstLine: number;
  lineCount: number;
}

export function kernel<F extends string>(
  file: F,
  bindings: readonly BindingKind[],
  workgroupSize = 64,
  entry = 'main',
  libs: readonly string[] = [],
): KernelSpec<F> {
  return { file, entry, bindings, workgroupSize, libs };
}

function fileText(file: string): string {
  const text = SHADER_SOURCES[file];
  if (text === undefined) {
    throw new Error(
      `no shader file ${file} in shaders/ (regenerate with node scripts/gen-shaders.mjs)`,
    );
  }
  return text;
}

/** The module code (libraries first, then the kernel) and where each line came from. */
export function shaderSource(spec: KernelSpec): { code: string; segments: SourceSegment[] } {
  const parts = [
    ...(spec.libs ?? []).map((file) => ({ file, text: fileText(file) })),
    { file: spec.file, text: spec.source ?? fileText(spec.file) },
  ];
  const segments: SourceSegment[] = [];
  let line = 1;
  for (const p of parts) {
    const lineCount = p.text.split('\n').length;
    segments.push({ file: p.file, firstLine: line, lineCount });
    line += lineCount;
  }
  return { code: parts.map((p) => p.text).join('\n'), segments };
}

/** Maps a line of a composed module back to its file and line. */
export function sourceLocation(
  segments: readonly SourceSegment[],
  line: number,
): { file: string; line: number } {
  for (const s of segments) {
    if (line >= s.firstLine && line < s.firstLine + s.lineCount)
      return { file: s.file, line: line - s.firstLine + 1 };
  }
  return { file: segments[segments.length - 1]?.file ?? '?', line };
}

/** The kernels of the core ops. */
export const K = {
  unary: kernel('unary.wgsl', ['read', 'write', 'uniform'], 64, 'main', ['lib/trig.wgsl']),
  unary4: kernel('unary.wgsl', ['read', 'write', 'uniform'], 64, 'main4', ['lib/trig.wgsl']),
  binary: kernel('binary.wgsl', ['read', 'read', 'write', 'uniform']),
  binary4: kernel('binary.wgsl', ['read', 'read', 'write', 'uniform'], 64, 'main4'),
  where: kernel('where.wgsl', ['read', 'read', 'read', 'write', 'uniform']),
  reduce: kernel('reduce.wgsl', ['read', 'write', 'uniform']),
  reduce4: kernel('reduce.wgsl', ['read', 'write', 'uniform'], 64, 'main4'),
  reduceMid4: kernel('reduce.wgsl', ['read', 'write', 'uniform'], 64, 'mid4'),
  copy: kernel('copy.wgsl', ['read', 'write', 'uniform']),
  copy4: kernel('copy.wgsl', ['read', 'write', 'uniform'], 64, 'main4'),
  fill: kernel('fill.wgsl', ['write', 'uniform']),
  fill4: kernel('fill.wgsl', ['write', 'uniform'], 64, 'main4'),
  gatherRows: kernel('gather.wgsl', ['read', 'read', 'write', 'uniform'], 64, 'gather_rows'),
  scatterAddRows: kernel(
    'gather.wgsl',
    ['read', 'read', 'write', 'uniform'],
    64,
    'scatter_add_rows',
  ),
  matmul: kernel('matmul.wgsl', ['read', 'read', 'write', 'uniform']),
  matmulSg: kernel('matmul_sg.wgsl', ['read', 'read', 'write', 'write', 'uniform'], 64, 'main', [
    'lib/work_items.wgsl',
  ]),
  conv: kernel('conv.wgsl', ['read', 'read', 'read', 'write', 'write', 'uniform'], 64, 'main', [
    'conv_rows_plain.wgsl',
  ]),
  convSg: kernel('conv.wgsl', ['read', 'read', 'read', 'write', 'write', 'uniform'], 64, 'main', [
    'lib/work_items.wgsl',
    'conv_rows_sg.wgsl',
  ]),
  conv3x3Same: kernel(
    'conv3x3_same.wgsl',
    ['read', 'read', 'read', 'read', 'read', 'write', 'write', 'uniform'],
    64,
    'main',
    ['lib/work_items.wgsl'],
  ),
  conv1x1: kernel(
    'conv1x1.wgsl',
    ['read', 'read', 'read', 'write', 'write', 'uniform'],
    64,
    'main',
    ['lib/work_items.wgsl', 'lib/gemm_rows32.wgsl'],
  ),
  convGemm: kernel(
    'conv_gemm.wgsl',
    ['read', 'read', 'read', 'write', 'write', 'uniform'],
    64,
    'main',
    ['lib/work_items.wgsl', 'lib/gemm_rows32.wgsl'],
  ),
  conv3x3SameWgrad: kernel(
    'conv3x3_same_wgrad.wgsl',
    ['read', 'read', 'write', 'write', 'write', 'uniform'],
    32,
    'main',
    ['lib/work_items.wgsl'],
  ),
  conv1x1Wgrad: kernel(
    'conv1x1_wgrad.wgsl',
    ['read', 'read', 'write', 'write', 'write', 'uniform'],
    8,
    'main',
    ['lib/work_items.wgsl'],
  ),
  resampleDown: kernel(
    'resample2x2.wgsl',
    ['read', 'read', 'read', 'write', 'uniform'],
    64,
    'down',
  ),
  resampleUp: kernel('resample2x2.wgsl', ['read', 'read', 'read', 'write', 'uniform'], 64, 'up'),
  convPack: kernel('conv_pack.wgsl', ['read', 'write', 'uniform']),
  convIm2col: kernel('conv_im2col.wgsl', ['read', 'write', 'uniform']),
  convTiled: kernel('conv_tiled.wgsl', ['read', 'read', 'read', 'write', 'uniform'], 256, 'main', [
    'lib/gemm_tile.wgsl',
  ]),
  convTiledWgrad: kernel(
    'conv_tiled_wgrad.wgsl',
    ['read', 'read', 'write', 'uniform'],
    256,
    'main',
    ['lib/gemm_tile.wgsl'],
  ),
  matmulTiled: kernel('matmul_tiled.wgsl', ['read', 'read', 'write', 'uniform'], 256, 'main', [
    'lib/gemm_tile.wgsl',
  ]),
  convWgrad: kernel('conv_wgrad.wgsl', ['read', 'read', 'write', 'write', 'uniform'], 64, 'main', [
    'conv_rows_plain.wgsl',
  ]),
  convWgradSg: kernel(
    'conv_wgrad.wgsl',
    ['read', 'read', 'write', 'write', 'uniform'],
    64,
    'main',
    ['lib/work_items.wgsl', 'conv_rows_sg.wgsl'],
  ),
  adam: kernel('adam.wgsl', ['write', 'read', 'write', 'write', 'uniform'], 64, 'adam'),
  ema: kernel('ema.wgsl', ['write', 'read', 'uniform'], 64, 'ema'),
  random: kernel('random.wgsl', ['write', 'read', 'uniform'], 64, 'main', [
    'lib/philox.wgsl',
    'lib/trig.wgsl',
  ]),
  dropout: kernel('dropout.wgsl', ['read', 'write', 'uniform'], 64, 'main', ['lib/philox.wgsl']),
  dropout4: kernel('dropout.wgsl', ['read', 'write', 'uniform'], 64, 'main4', ['lib/philox.wgsl']),
  pool: kernel('pool.wgsl', ['read', 'write', 'uniform']),
  attnSoftmax: kernel('attention_softmax.wgsl', ['read', 'write', 'uniform']),
  attnSoftmax4: kernel('attention_softmax.wgsl', ['read', 'write', 'uniform'], 64, 'main4'),
  attnSoftmaxBwd: kernel(
    'attention_softmax_bwd.wgsl',
    ['read', 'read', 'write', 'uniform'],
    64,
    'bwd',
  ),
  attnSoftmaxBwd4: kernel(
    'attention_softmax_bwd.wgsl',
    ['read', 'read', 'write', 'uniform'],
    64,
    'bwd4',
  ),
  resize: kernel('resize.wgsl', ['read', 'write', 'uniform']),
  augmentUpsample: kernel('augment_upsample.wgsl', ['read', 'read', 'write', 'uniform']),
  gridSample: kernel('grid_sample.wgsl', ['read', 'read', 'write', 'uniform']),
  augmentDownsample: kernel('augment_downsample.wgsl', ['read', 'write', 'uniform']),
  gnPartial: kernel('groupnorm_stats.wgsl', ['read', 'write', 'uniform'], 64, 'partial'),
  gnPartial4: kernel('groupnorm_stats.wgsl', ['read', 'write', 'uniform'], 64, 'partial4'),
  gnMerge: kernel('groupnorm_stats.wgsl', ['read', 'write', 'uniform'], 64, 'merge'),
  gnApply: kernel('groupnorm.wgsl', ['read', 'read', 'read', 'read', 'write', 'uniform']),
  gnApply4: kernel(
    'groupnorm.wgsl',
    ['read', 'read', 'read', 'read', 'write', 'uniform'],
    64,
    'main4',
  ),
  gnSums: kernel(
    'groupnorm_bwd.wgsl',
    ['read', 'read', 'read', 'read', 'read', 'write', 'write', 'uniform'],
    64,
    'sums',
  ),
  gnSums4: kernel(
    'groupnorm_bwd.wgsl',
    ['read', 'read', 'read', 'read', 'read', 'write', 'write', 'uniform'],
    64,
    'sums4',
  ),
  gnCoef: kernel('groupnorm_coef.wgsl', [
    'read',
    'read',
    'read',
    'write',
    'write',
    'write',
    'uniform',
  ]),
  gnDx: kernel('groupnorm_bwd.wgsl', [
    'read',
    'read',
    'read',
    'read',
    'read',
    'read',
    'write',
    'uniform',
  ]),
  gnDx4: kernel(
    'groupnorm_bwd.wgsl',
    ['read', 'read', 'read', 'read', 'read', 'read', 'write', 'uniform'],
    64,
    'main4',
  ),
} as const;
