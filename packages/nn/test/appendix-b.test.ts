/**
 * SPEC Appendix B: EDMPrecond + SongUNet with deterministic sine weights (no PyTorch RNG
 * involved), both variants; per-image sum, sum of squares and first six values of D(x) and of
 * the raw U-Net output F. The table prints 6-7 significant digits; we ask for 1e-5 relative
 * on the sums (the appendix's stated float32 agreement) and 2e-6 absolute on the listed values.
 */
import { readFileSync } from 'node:fs';
import { buildPrecond, type TensorData } from '@pfgmpp/nn';
import { scopeAsync, tensor } from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from './fixtures.ts';

const VARIANTS = {
  ddpmpp: {
    embedding_type: 'positional',
    channel_mult_noise: 1,
    encoder_type: 'standard',
    decoder_type: 'standard',
    resample_filter: [1, 1],
  },
  ncsnpp: {
    embedding_type: 'fourier',
    channel_mult_noise: 2,
    encoder_type: 'residual',
    decoder_type: 'standard',
    resample_filter: [1, 3, 3, 1],
  },
} as const;

// [D sum, D sum^2, D first 6, F sum, F sum^2, F first 6] per image.
const TABLE = {
  ddpmpp: [
    [
      7.615532,
      53.983023,
      [0.161323, 0.370115, 0.550547, 0.681391, 0.752167, 0.756654],
      17.662229,
      1.919479,
      [0.03485, 0.029829, 0.035441, 0.036727, 0.036995, 0.036503],
    ],
    [
      9.010147,
      0.658814,
      [0.058368, 0.05874, 0.058676, 0.05268, 0.043259, 0.031435],
      17.993285,
      1.956225,
      [0.040305, 0.036917, 0.039984, 0.03808, 0.035371, 0.032466],
    ],
  ],
  ncsnpp: [
    [
      2.286566,
      55.020852,
      [0.179199, 0.414157, 0.59818, 0.728335, 0.797595, 0.799706],
      2.589639,
      6.696586,
      [0.085411, 0.154398, 0.170166, 0.169505, 0.165485, 0.158272],
    ],
    [
      2.470943,
      2.469007,
      [0.093197, 0.133358, 0.136113, 0.127158, 0.115258, 0.101955],
      4.734477,
      9.310605,
      [0.110925, 0.18821, 0.196995, 0.189091, 0.181355, 0.175452],
    ],
  ],
} as const;

function stats(v: Float32Array, image: number) {
  const n = v.length / 2;
  const part = v.subarray(image * n, (image + 1) * n);
  let s = 0;
  let s2 = 0;
  for (const x of part) {
    s += x;
    s2 += x * x;
  }
  return { s, s2, first: [...part.subarray(0, 6)] };
}

describe.skipIf(GPU_SKIP_REASON)('SPEC Appendix B deterministic network', () => {
  beforeAll(async () => {
    await testGpu();
  });

  for (const variant of ['ddpmpp', 'ncsnpp'] as const) {
    it(variant, async () => {
      const net = buildPrecond('EDMPrecond', {
        img_resolution: 8,
        img_channels: 3,
        label_dim: 4,
        augment_dim: 9,
        model_type: 'SongUNet',
        model_channels: 16,
        channel_mult: [1, 2],
        num_blocks: 1,
        attn_resolutions: [4],
        dropout: 0,
        ...VARIANTS[variant],
      }).eval();
      // Fill order: the listing of the specification (resample filters keep their value).
      const order = readFileSync(`${FIXTURES}fixture-tensors.tsv`, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith(`${variant}\t`) && !l.includes('resample_filter'))
        .map((l) => l.split('\t')[2] as string);
      const slots = new Map(net.namedSlots());
      const sd = new Map<string, TensorData>();
      order.forEach((name, p) => {
        const slot = slots.get(name);
        if (!slot) throw new Error(`no ${name}`);
        const gain = name === 'model.map_noise.freqs' ? 5 : 1;
        const data = Float32Array.from(
          { length: slot.size },
          (_, j) => gain * 0.15 * Math.sin(0.37 * (j + 1) + 0.91 * (p + 1)),
        );
        sd.set(name, { shape: slot.shape, data });
      });
      expect(sd.size).toBe(variant === 'ddpmpp' ? 145 : 148);
      expect(net.parameterCount()).toBe(variant === 'ddpmpp' ? 189_571 : 191_267);
      const report = net.loadStateDict(sd, { strict: false });
      expect(report.unexpected).toEqual([]);
      expect(report.missing.every((n) => n.endsWith('resample_filter'))).toBe(true);

      const x = Float32Array.from({ length: 2 * 3 * 64 }, (_, k) => 1.5 * Math.sin(0.3 * k + 0.2));
      const labels = Float32Array.from([0, 1, 0, 0, 0, 0, 0, 1]);
      const aug = Float32Array.from({ length: 18 }, (_, i) => 0.1 * i - 0.5); // 0.1 * (9b + i) - 0.5
      const [D, F] = await scopeAsync(async () => {
        const sigma = [0.5, 3.0];
        const xt = tensor(x, [2, 3, 8, 8]);
        const lt = tensor(labels, [2, 4]);
        const at = tensor(aug, [2, 9]);
        const d = net.forward(xt, tensor(sigma), lt, at);
        const c = net.coefficients(tensor(sigma, [2, 1, 1, 1]));
        const f = net.model.forward(xt.mul(c.cIn), c.cNoise, lt, at);
        return [await d.read(), await f.read()];
      });
      for (const image of [0, 1]) {
        const row = TABLE[variant][image] as unknown as [
          number,
          number,
          number[],
          number,
          number,
          number[],
        ];
        for (const [what, v, sum, sum2, first] of [
          ['D', D as Float32Array, row[0], row[1], row[2]],
          ['F', F as Float32Array, row[3], row[4], row[5]],
        ] as const) {
          const got = stats(v, image);
          const label = `${variant} image ${image} ${what}`;
          expect(Math.abs(got.s - sum), `${label} sum ${got.s}`).toBeLessThanOrEqual(
            1e-5 * Math.abs(sum) + 5e-6,
          );
          expect(Math.abs(got.s2 - sum2), `${label} sum^2 ${got.s2}`).toBeLessThanOrEqual(
            1e-5 * sum2 + 5e-6,
          );
          got.first.forEach((g, i) => {
            expect(Math.abs(g - (first[i] as number)), `${label}[${i}] ${g}`).toBeLessThanOrEqual(
              2e-6,
            );
          });
        }
      }
      net.dispose();
    });
  }
});
