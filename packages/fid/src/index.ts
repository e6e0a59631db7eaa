/**
 * @pfgmpp/fid: the FID Inception-v3 on WebGPU (features and logits), feature statistics in
 * float64, the Frechet distance with a float64 trace square root, KID and Inception Score.
 * Browser-safe; `@pfgmpp/fid/node` adds files, folders and ZIPs of images.
 */
export * from './architecture.ts';
export * from './weights.ts';
export * from './inception.ts';
export * from './linalg.ts';
export * from './fast-linalg.ts';
export * from './stats.ts';
export * from './metrics.ts';
