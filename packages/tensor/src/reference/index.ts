export * from './ndarray.ts';
export * from './elementwise.ts';
export * from './reduce.ts';
export * from './matmul.ts';
export * from './layout.ts';
export * from './random.ts';
export * from './conv.ts';
