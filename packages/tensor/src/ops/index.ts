export {
  type Conv2dEpilogue,
  type Conv2dOptions,
  type ConvTranspose2dOptions,
  conv2d,
  convTranspose2d,
} from './conv/index.ts';
export * from './create.ts';
export * from './elementwise.ts';
export * from './grad.ts';
export * from './layout.ts';
export { type MatmulOptions, matmul } from './matmul/index.ts';
export * from './norm.ts';
export * from './pool.ts';
export * from './random.ts';
export * from './reduce.ts';
export * from './resize.ts';
export * from './augment.ts';
export * from './optim.ts';
export * from './attention.ts';
export * from './dropout.ts';
