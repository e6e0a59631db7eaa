/** Errors raised by the tensor package; messages say what happened and what to do. */

/**
 * A kernel failed to build on this adapter: its WGSL did not compile (`message` lists each
 * error as `file:line:col`) or its pipeline was refused.
 */
export class ShaderCompileError extends Error {
  override name = 'ShaderCompileError';
  /** The kernel's file in shaders/ (the one its descriptor names). */
  readonly file: string;
  constructor(message: string, file = '') {
    super(message);
    this.file = file;
  }
}

/** A WebGPU validation, out-of-memory or internal error, or a lost device. */
export class GpuError extends Error {
  override name = 'GpuError';
}

/** Wrong shapes, arguments or use of a disposed tensor. */
export class TensorError extends Error {
  override name = 'TensorError';
}
