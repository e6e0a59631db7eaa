export * from './close.ts';
export * from './gpu.ts';
export * from './gradcheck.ts';
export * from './rng.ts';
export * from './arrays.ts';
