/**
 * Kernel descriptors: which WGSL file and entry point, and the bindings it declares.
 *
 * Bindings are listed once here, in binding order: storage buffers first, then at most one
 * uniform block. The pipeline layout is built from this list, so a shader that disagrees with
 * its descriptor fails at pipeline creation with a message instead of running.
 */
import { SHADER_SOURCES } from './generated/shaders.ts';

export type BindingKind = 'read' | 'write' | 'uniform';

export interface KernelSpec {
  /** WGSL file in the top-level shaders/ folder. */
  readonly file: string;
  readonly entry: string;
  readonly bindings: readonly BindingKind[];
  /** Workgroup size (the WG override); invocations per workgroup along x. */
  readonly workgroupSize: number;
  /** Source text; defaults to the shaders/ file. Tests pass their own to check error paths. */
  readonly source?: string;
}

export function kernel(
  file: string,
  bindings: readonly BindingKind[],
  workgroupSize = 64,
  entry = 'main',
): KernelSpec {
  return { file, entry, bindings, workgroupSize };
}

export function shaderSource(spec: KernelSpec): string {
  const text = spec.source ?? SHADER_SOURCES[spec.file];
  if (text === undefined) {
    throw new Error(
      `no shader file ${spec.file} in shaders/ (regenerate with node scripts/gen-shaders.mjs)`,
    );
  }
  return text;
}

/** The kernels of the core ops. */
export const K = {
  unary: kernel('unary.wgsl', ['read', 'write', 'uniform']),
  binary: kernel('binary.wgsl', ['read', 'read', 'write', 'uniform']),
  where: kernel('where.wgsl', ['read', 'read', 'read', 'write', 'uniform']),
  reduce: kernel('reduce.wgsl', ['read', 'write', 'uniform']),
  copy: kernel('copy.wgsl', ['read', 'write', 'uniform']),
  fill: kernel('fill.wgsl', ['write', 'uniform']),
  gatherRows: kernel('gather.wgsl', ['read', 'read', 'write', 'uniform'], 64, 'gather_rows'),
  scatterAddRows: kernel(
    'gather.wgsl',
    ['read', 'read', 'write', 'uniform'],
    64,
    'scatter_add_rows',
  ),
  matmul: kernel('matmul.wgsl', ['read', 'read', 'write', 'uniform'], 32),
  random: kernel('random.wgsl', ['write', 'read', 'uniform']),
} as const;
