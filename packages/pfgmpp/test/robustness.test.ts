/** Weight quantization (generate_quant.py's rule), the transfer helpers and the align factor. */
import { describe, expect, it } from 'vitest';
import {
  alignFactor,
  alignSampler,
  EDM_SAMPLER,
  fakeQuantize,
  isQuantized,
  QUANT_BITS,
  quantizeState,
  rFromSigma,
  sigmaFromR,
  type StateEntry,
  transferPrior,
} from '../src/index.ts';

describe('post-training weight quantization', () => {
  it('min-max fake quantization with a truncated zero point and round-half-even', () => {
    // scale 2/3, z0 = trunc(1.5) = 1; q = round(clamp(1 + w / scale, 0, 3)) = [0, 1, 2, 2] (2.5 -> 2).
    const out = fakeQuantize(Float32Array.from([-1, 0, 0.5, 1]), 2);
    const s = Math.fround(2 / 3);
    expect(Array.from(out)).toEqual([-s, 0, s, s].map(Math.fround));
  });
  it('error stays within one step for every bit width of the experiments', () => {
    const w = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i * 12.9898) * 0.3 + 0.05);
    for (const bits of QUANT_BITS) {
      const q = fakeQuantize(w, bits);
      const lo = Math.min(...w);
      const hi = Math.max(...w);
      const scale = (hi - lo) / (2 ** bits - 1);
      const err = Math.max(...q.map((v, i) => Math.abs(v - (w[i] as number))));
      expect(err).toBeLessThanOrEqual(scale * 1.0001);
      expect(new Set(q).size).toBeLessThanOrEqual(2 ** bits);
    }
  });
  it('a constant tensor is kept; bad bit widths are rejected', () => {
    expect(Array.from(fakeQuantize(Float32Array.from([0.5, 0.5]), 8))).toEqual([0.5, 0.5]);
    expect(() => fakeQuantize(new Float32Array(2), 0)).toThrow(/bits/);
    expect(() => fakeQuantize(Float32Array.from([Number.NaN]), 8)).toThrow(/NaN/);
  });
  it("selects weights without 'norm', 'affine', 'map' or '32' in the name", () => {
    const names = {
      'model.enc.16x16_down.conv0.weight': true,
      'model.dec.8x8_block1.qkv.weight': true,
      'model.enc.16x16_block0.conv0.bias': false,
      'model.enc.16x16_block0.norm0.weight': false,
      'model.enc.16x16_block0.affine.weight': false,
      'model.map_layer0.weight': false,
      'model.map_label.weight': false,
      'model.enc.32x32_conv.weight': false,
      'model.dec.32x32_aux_conv.weight': false,
    };
    for (const [n, v] of Object.entries(names)) expect(isQuantized(n), n).toBe(v);
  });
  it('quantizes a state dict, sharing the untouched entries', () => {
    const state = new Map<string, StateEntry>([
      ['a.conv.weight', { data: Float32Array.from([0.1, -0.2, 0.33]), shape: [3] }],
      ['a.conv.bias', { data: Float32Array.from([0.1]), shape: [1] }],
    ]);
    const { state: q, quantized } = quantizeState(state, 5);
    expect(quantized).toEqual(['a.conv.weight']);
    expect(q.get('a.conv.bias')).toBe(state.get('a.conv.bias'));
    expect(q.get('a.conv.weight')?.data).not.toBe(state.get('a.conv.weight')?.data);
  });
});

describe('hyper-parameter transfer r = sigma sqrt(D)', () => {
  it('maps sigma to r and back; the prior keeps sigma_max', () => {
    expect(rFromSigma(80, 128)).toBeCloseTo(80 * Math.sqrt(128), 12);
    expect(sigmaFromR(rFromSigma(0.3, 2048), 2048)).toBeCloseTo(0.3, 14);
    expect(transferPrior(EDM_SAMPLER, 128)).toEqual({ D: 128, sigmaMax: 80 });
    expect(() => rFromSigma(1, 1)).toThrow(/D must be/);
  });
  it('align multiplies the sigma range by sqrt(1 + N/D)', () => {
    expect(alignFactor(48, 128)).toBeCloseTo(Math.sqrt(1 + 48 / 128), 15);
    expect(alignFactor(48, Number.POSITIVE_INFINITY)).toBe(1);
    const c = alignSampler(EDM_SAMPLER, 3072, 128);
    expect(c.sigmaMax).toBeCloseTo(80 * 5, 12);
    expect(c.rho).toBe(7);
  });
});
