import { getDevice, randn, matmul, scope, permute } from '@pfgmpp/tensor/node';
import { timeOp } from './ours.ts';
const gpu = await getDevice();
const a = randn([1024, 1024], { seed: 1 });
const b = randn([1024, 1024], { seed: 2 });
for (let r = 0; r < 3; r++) {
  const f = 2 * 1024 ** 3 / 1e9;
  const t1 = await timeOp(gpu, () => matmul(a, b), { iters: 3 });
  const t2 = await timeOp(gpu, () => matmul(a, b, { transA: true }), { iters: 3 });
  const t3 = await timeOp(gpu, () => permute(a, [1, 0]), { iters: 3 });
  console.log(`plain ${(f / t1).toFixed(2)}  transA ${(f / t2).toFixed(2)}  transpose copy ${(t3 * 1000).toFixed(1)} ms`);
}
