/**
 * Smoke run of the tfjs peer: `npx tsx --conditions=pfgmpp-source apps/bench/src/peers/tfjs-smoke.ts` from the repo root.
 * Keep it short: lavapipe runs on 2 CPU cores.
 */
import { disposeTfjs, initTfjs, tfjsConv2dGflops, tfjsMatmulGflops } from './tfjs.ts';

const info = await initTfjs();
console.log(`tfjs ${info.version}, backend=${info.backend}`);

const fmt = (x: number) => x.toFixed(2).padStart(8);

const mm = await tfjsMatmulGflops({ batch: 1, m: 1024, k: 1024, n: 1024, iters: 5, warmup: 2 });
console.log(`matmul 1024x1024x1024          ${fmt(mm)} GFLOP/s`);

const bmm = await tfjsMatmulGflops({ batch: 16, m: 256, k: 64, n: 256, iters: 20, warmup: 3 });
console.log(`matmul 16 x (256x64 @ 64x256)  ${fmt(bmm)} GFLOP/s`);

const conv = await tfjsConv2dGflops({
  batch: 16,
  cin: 64,
  cout: 64,
  h: 32,
  w: 32,
  k: 3,
  iters: 5,
  warmup: 2,
});
console.log(`conv2d 3x3 16x64->64 32x32     ${fmt(conv)} GFLOP/s`);

await disposeTfjs();
