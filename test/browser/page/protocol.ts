/**
 * What the page offers the Node test: named smoke cases with plain-array arguments and results
 * (they cross the Playwright boundary, so no typed arrays or tensors).
 */
import type { RandomOptions } from '@pfgmpp/tensor';
import type { BinaryName, UnaryName } from '@pfgmpp/tensor/reference';

/** A tensor as plain data, row-major. */
export interface Plain {
  shape: number[];
  data: number[];
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  userAgent: string;
}

export interface SmokeCases {
  adapter: { args: null; result: AdapterSummary };
  unary: { args: { name: UnaryName; x: Plain; alpha: number; beta: number }; result: Plain };
  binary: { args: { name: BinaryName; a: Plain; b: Plain }; result: Plain };
  reduce: { args: { kind: 'sum' | 'max'; x: Plain; axes: number[] }; result: Plain };
  matmul: {
    args: { a: Plain; b: Plain; transA: boolean; transB: boolean; rows?: string[] };
    result: Plain & { used: Record<string, string> };
  };
  /**
   * conv2d (or convTranspose2d) of x with w and bias, and the gradients of sum(y * g), with
   * the kernel rows limited to `rows`; `used` says which row ran each pass.
   */
  conv: {
    args: {
      x: Plain;
      w: Plain;
      bias: Plain;
      g: Plain;
      transposed: boolean;
      stride: number;
      padding: number;
      groups: number;
      rows: string[];
    };
    result: { y: Plain; dx: Plain; dw: Plain; used: Record<string, string> };
  };
  /** Gradient of sum(exp(x) * x) with respect to x. */
  grad: { args: { x: Plain }; result: Plain };
  random: { args: { shape: number[]; normal: boolean; options: RandomOptions }; result: Plain };
  /** Dispatches a kernel with a planted WGSL syntax error and reports how reading it failed. */
  shaderError: {
    args: { source: string; file: string };
    result: {
      rejected: boolean;
      name: string;
      message: string;
      isShaderCompileError: boolean;
      /** affine(1, 1, 1) computed afterwards: the device must keep working. */
      afterwards: number[];
    };
  };
}

export type CaseName = keyof SmokeCases;

export type RunSmoke = <K extends CaseName>(
  name: K,
  args: SmokeCases[K]['args'],
) => Promise<SmokeCases[K]['result']>;

declare global {
  interface Window {
    runSmoke: RunSmoke;
    /** Set once runSmoke is installed (the module script has run). */
    smokeReady?: boolean;
  }
}
