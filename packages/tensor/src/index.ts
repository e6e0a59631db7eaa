/// <reference types="@webgpu/types" preserve="true" />
/**
 * @pfgmpp/tensor: WebGPU tensors with reverse-mode autograd. Browser-safe; in Node import
 * `@pfgmpp/tensor/node` first (it registers Dawn and re-exports everything here).
 */
import './methods.ts';

export {
  getDevice,
  requestGpu,
  resetDevice,
  setGpuProvider,
  activeGpu,
  withGpu,
  type DeviceOptions,
} from './device.ts';
export { Gpu, foldWorkgroups, type GpuCounters, type HostPause } from './gpu.ts';
export type { KernelTime } from './profiler.ts';
export { GpuError, ShaderCompileError, TensorError } from './errors.ts';
export { kernel, K as KERNELS, type KernelSpec, type BindingKind } from './kernels.ts';
export { paramsLayout, type ParamField, type ParamsOf } from './params.ts';
export {
  KernelChoices,
  type ChoiceStore,
  type KernelProblem,
  type KernelRow,
  type KernelSettings,
  type RowTiming,
  describeTiming,
  type TuneResult,
  registerRows,
  setKernelSettings,
} from './choice.ts';
export { CONV_ROWS, convProblem } from './ops/conv/table.ts';
export { convGeometry, type ConvGeometry } from './ops/conv/geometry.ts';
export type { ConvRow } from './ops/conv/row.ts';
export { MATMUL_ROWS, matmulProblem, runMatmul } from './ops/matmul/table.ts';
export type { MatmulProblem, MatmulRow, Strided } from './ops/matmul/problem.ts';
export { bucketSize, type PoolStats } from './pool.ts';
export { Tensor, type Shape, sizeOf } from './tensor.ts';
export { scope, scopeAsync, keep } from './scope.ts';
export {
  noGrad,
  isGradEnabled,
  clearTape,
  tapeLength,
  needsGrad,
  record,
  save,
} from './autograd.ts';
export * from './ops/index.ts';
export { OP_TABLE, type OpRow } from './registry.ts';
