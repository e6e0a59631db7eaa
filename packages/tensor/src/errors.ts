/** Errors raised by the tensor package; messages say what happened and what to do. */

/** A WGSL shader failed to compile; `message` lists each error as `file:line:col`. */
export class ShaderCompileError extends Error {
  override name = 'ShaderCompileError';
}

/** A WebGPU validation, out-of-memory or internal error, or a lost device. */
export class GpuError extends Error {
  override name = 'GpuError';
}

/** Wrong shapes, arguments or use of a disposed tensor. */
export class TensorError extends Error {
  override name = 'TensorError';
}
