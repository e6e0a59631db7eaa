/** Philox streams: bit-exact uniforms vs the CPU reference, normal moments and KS tests. */
import { rand, randn, scope } from '@pfgmpp/tensor/node';
import { randomRef } from '@pfgmpp/tensor/reference';
import { expectClose, GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { ksStatistic, normalCdf } from './stats.ts';

describe.skipIf(GPU_SKIP_REASON)('random', () => {
  beforeAll(async () => {
    await testGpu();
  });
  it('philox4x32-10 matches the Random123 known-answer vectors (reference check)', async () => {
    const { philox4x32 } = await import('@pfgmpp/tensor/reference');
    expect(philox4x32([0, 0, 0, 0], [0, 0])).toEqual([
      0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8,
    ]);
    expect(
      philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]),
    ).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    expect(
      philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
    ).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });
  it('uniforms equal the CPU reference bit for bit (odd sizes, offsets, streams, per-row)', async () => {
    const cases = [
      { shape: [1], o: { seed: 0 } },
      { shape: [7], o: { seed: 123, stream: 5, offset: 3 } },
      { shape: [5, 13], o: { seed: 2 ** 40 + 17, perRow: true, stream: 100 } },
      { shape: [3, 2, 3], o: { seed: 9, rowStreams: [42, 7, 1_000_000] } },
    ];
    for (const c of cases) {
      const t = scope(() => rand(c.shape, c.o));
      expectClose(
        await t.read(),
        Float32Array.from(randomRef(c.shape, false, c.o)),
        { atol: 0, rtol: 0 },
        JSON.stringify(c),
      );
    }
  });
  it('normals match the reference (Box-Muller in f32)', async () => {
    const o = { seed: 77, perRow: true };
    const t = scope(() => randn([4, 1001], o));
    // |z| <= ~6 and f32 log/cos/sin are accurate to a few ulp.
    expectClose(await t.read(), randomRef([4, 1001], true, o), { atol: 2e-6, rtol: 2e-6 }, 'randn');
  });
  it('row k does not depend on the batch it is generated in', async () => {
    const big = await scope(() =>
      randn([8, 3, 4, 4], { seed: 5, perRow: true, stream: 10 }),
    ).read();
    const one = await scope(() =>
      randn([1, 3, 4, 4], { seed: 5, perRow: true, stream: 13 }),
    ).read();
    expect(Array.from(one)).toEqual(Array.from(big.subarray(3 * 48, 4 * 48)));
    const picked = await scope(() => randn([2, 3, 4, 4], { seed: 5, rowStreams: [13, 10] })).read();
    expect(Array.from(picked.subarray(0, 48))).toEqual(Array.from(one));
  });
  it('moments and Kolmogorov-Smirnov tests for uniform and normal', async () => {
    const n = 200_000;
    const u = await scope(() => rand([n], { seed: 31 })).read();
    const z = await scope(() => randn([n], { seed: 32 })).read();
    const meanU = u.reduce((p, v) => p + v, 0) / n;
    const varU = u.reduce((p, v) => p + (v - meanU) ** 2, 0) / n;
    expect(Math.abs(meanU - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(varU - 1 / 12)).toBeLessThan(0.002);
    expect(u.reduce((p, v) => Math.min(p, v), 1)).toBeGreaterThan(0);
    expect(u.reduce((p, v) => Math.max(p, v), 0)).toBeLessThan(1);
    const meanZ = z.reduce((p, v) => p + v, 0) / n;
    const varZ = z.reduce((p, v) => p + (v - meanZ) ** 2, 0) / n;
    const kurt = z.reduce((p, v) => p + (v - meanZ) ** 4, 0) / n / varZ ** 2;
    expect(Math.abs(meanZ)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(varZ - 1)).toBeLessThan(0.015);
    expect(Math.abs(kurt - 3)).toBeLessThan(0.05);
    // KS critical value at alpha = 0.001: 1.95 / sqrt(n).
    expect(ksStatistic(u, (v) => v)).toBeLessThan(1.95 / Math.sqrt(n));
    expect(ksStatistic(z, normalCdf)).toBeLessThan(1.95 / Math.sqrt(n));
  });
  it('rejects a bad seed', () => {
    expect(() => rand([2], { seed: -1 })).toThrow(/seed/);
  });
});
