/**
 * A second process for tuner.test.ts: runs one conv2d forward+backward and one matmul on the
 * shapes the test names, tuning them first (Gpu.tuneKernels), and prints as one JSON line how
 * many shapes it tuned and which row ran each. PFGMPP_CACHE_DIR and PFGMPP_TUNE come from the
 * test.
 */
import { backward, conv2d, getDevice, matmul, randn, scope, sum } from '@pfgmpp/tensor/node';

const gpu = await getDevice();
const step = () =>
  scope(() => {
    const x = randn([2, 3, 9, 7], { seed: 1 }).requireGrad();
    const w = randn([6, 3, 3, 3], { seed: 2 }).requireGrad();
    backward(sum(conv2d(x, w, null, { padding: 1 })));
    void matmul(randn([5, 12], { seed: 3 }), randn([12, 7], { seed: 4 }));
    x.dispose();
    w.dispose();
  });
const tuned = await gpu.tuneKernels(step);
step();
await gpu.sync();
process.stdout.write(`${JSON.stringify({ tuned: tuned.length, used: gpu.kernels.usedRows() })}\n`);
gpu.destroy();
