/**
 * Adam's saved state and its step count. A resumed run must apply the bias correction of the
 * step it is at: the stored count, or step 1 after a fresh `torch.optim.Adam` state (what the
 * official training loop saves before any step), never one guessed from the image count.
 */
import { Adam, Linear } from '@pfgmpp/nn';
import { type Tensor, tensor } from '@pfgmpp/tensor/node';
import { expectClose, GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';

describe.skipIf(GPU_SKIP_REASON)('Adam state', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('step count: saved with the moments; a fresh state (no moments) restarts at step 1', async () => {
    const lin = new Linear(3, 2, true);
    lin.loadStateDict(
      new Map([
        ['weight', { shape: [2, 3], data: new Float32Array(6) }],
        ['bias', { shape: [2], data: new Float32Array(2) }],
      ]),
    );
    const adam = new Adam(lin);
    const g = Float32Array.of(1, -2, 3, -4, 5, -6);
    const stepOnce = () => {
      lin.weight.tensor.grad = tensor(g, [2, 3]);
      (lin.bias?.tensor as Tensor).grad = tensor(g.subarray(0, 2), [2]);
      adam.step(0.01);
    };
    stepOnce();
    stepOnce();
    const st = await adam.state();
    expect([st.get('weight.step')?.shape, st.get('weight.step')?.data[0]]).toEqual([[], 2]);
    // The stored count wins over the caller's fallback (an image count / batch).
    adam.loadState(st, 999);
    expect(adam.stepCount).toBe(2);
    // Moments without a count (older files of ours): the fallback.
    adam.loadState(new Map([...st].filter(([k]) => !k.endsWith('.step'))), 7);
    expect(adam.stepCount).toBe(7);
    // A fresh torch.optim.Adam state: the next step is step 1, |update| = lr per weight.
    adam.loadState(new Map(), 15432);
    expect(adam.stepCount).toBe(0);
    const before = await lin.weight.tensor.read();
    stepOnce();
    const after = await lin.weight.tensor.read();
    expectClose(
      after.map((w, i) => Math.abs(w - (before[i] as number))),
      new Float32Array(6).fill(0.01),
      { atol: 1e-7, rtol: 1e-5 },
      'first step from a fresh state',
    );
    adam.dispose();
    lin.dispose();
  });
});
