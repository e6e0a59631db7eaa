/**
 * The toy problem (SPEC 11) at a reduced budget. After ~40 epochs the loss has left its plateau
 * near 20 (as in the notebook) and the sampler carries prior points of norm ~1,600 down to the
 * data's scale (~100); the cluster balance, which decides most of the MMD, needs the full
 * 200 epochs (examples/toy.ts; numbers in docs/results.md).
 */
import { GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { rbfMmd, runToy, sampleToy, TOY, ToyMlp, toyData } from '../src/index.ts';

describe('toy data and MMD', () => {
  it('two clusters in 1,000-D; the MMD of a set with itself is 0 and grows with a shift', () => {
    const x = toyData(40, 1000, 1);
    expect(x.length).toBe(40_000);
    const centre = (a: number, b: number) => {
      const c = new Float64Array(1000);
      for (let i = a; i < b; i++)
        for (let j = 0; j < 1000; j++)
          c[j] = (c[j] as number) + (x[i * 1000 + j] as number) / (b - a);
      return c;
    };
    const c1 = centre(0, 20);
    const c2 = centre(20, 40);
    // The clusters sit ~2 sqrt(10 * 1000) ~ 200 apart.
    const gap = Math.sqrt(c1.reduce((s, v, j) => s + (v - (c2[j] as number)) ** 2, 0));
    expect(gap).toBeGreaterThan(100);
    expect(Math.abs(rbfMmd(x, x, 1000))).toBeLessThan(1e-12);
    const shifted = x.map((v) => v + 1);
    const far = x.map((v) => v + 5);
    expect(rbfMmd(x, shifted, 1000)).toBeGreaterThan(0);
    expect(rbfMmd(x, far, 1000)).toBeGreaterThan(rbfMmd(x, shifted, 1000));
  });
});

const medianNorm = (x: Float64Array, dim: number) => {
  const norms = Array.from({ length: x.length / dim }, (_, i) =>
    Math.sqrt(x.subarray(i * dim, (i + 1) * dim).reduce((a, v) => a + v * v, 0)),
  ).sort((a, b) => a - b);
  return norms[Math.floor(norms.length / 2)] as number;
};

describe.skipIf(GPU_SKIP_REASON)('toy problem on the GPU (reduced budget)', () => {
  beforeAll(async () => {
    await testGpu();
  });
  it('untrained network: samples stay far from the data (MMD ~2.9)', async () => {
    const c = { ...TOY, D: 100 };
    const net = new ToyMlp(c.dim, c.width, c.seed);
    const samples = await sampleToy(net, 100, { ...c, numSteps: 10 });
    net.dispose();
    const data = toyData(c.numPoints, c.dim, c.seed);
    const ref = Float64Array.from(
      { length: 100 * c.dim },
      (_, k) => data[Math.floor(k / c.dim) * 20 * c.dim + (k % c.dim)] as number,
    );
    expect(rbfMmd(ref, samples, c.dim)).toBeGreaterThan(2.5);
  });
  it('D=100, 40 epochs: loss leaves the plateau, samples reach the data scale, MMD drops', async () => {
    const r = await runToy({ D: 100, epochs: 40 }, 200);
    console.log(
      `toy D=100, 40 epochs: MMD ${r.mmd.toFixed(4)}; loss ${r.epochLoss[0]?.toFixed(1)} -> ${r.epochLoss.at(-1)?.toFixed(1)}; ${r.trainSeconds.toFixed(0)} s + ${r.sampleSeconds.toFixed(0)} s`,
    );
    // The notebook prints 36.6 at epoch 0, ~20 for epochs 4-30, then ~10-12 by epoch 40.
    expect(r.epochLoss[0]).toBeGreaterThan(30);
    expect(r.epochLoss[0]).toBeLessThan(40);
    expect(r.epochLoss.at(-1)).toBeLessThan(0.6 * (r.epochLoss[0] as number));
    expect(r.mmd).toBeLessThan(2.2);
    const data = toyData(TOY.numPoints, TOY.dim, TOY.seed);
    const ratio = medianNorm(r.samples, TOY.dim) / medianNorm(data, TOY.dim);
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1.4);
  });
});
