/**
 * Weight loading by name: the FID Inception weights written as legacy and zip torch files (with
 * and without BatchNorm's num_batches_tracked, under the weight file's names and pytorch-fid's)
 * and as safetensors; BatchNorm folding; clear errors for truncated, mis-shaped, incomplete and
 * foreign files.
 */
import { writeSafetensors } from '@pfgmpp/io';
import { describe, expect, it } from 'vitest';
import {
  canonicalName,
  prepareWeights,
  readInceptionWeights,
  syntheticWeights,
  WEIGHTS_FILE,
  WEIGHTS_URL,
  WeightsError,
} from '../src/index.ts';
import { type TorchEntry, torchLegacy, torchZip } from './torch-writer.ts';

/** The synthetic weights as a torch state dict, optionally renamed and with num_batches_tracked. */
function stateDict(o: { rename: boolean; tracked: boolean; fc: boolean }): Map<string, TorchEntry> {
  const out = new Map<string, TorchEntry>();
  for (const [name, t] of syntheticWeights({ fc: o.fc })) {
    const key = o.rename ? canonicalName(name) : name;
    out.set(key, t);
    if (o.tracked && key.endsWith('.bn.running_var')) {
      out.set(key.replace(/running_var$/, 'num_batches_tracked'), {
        shape: [],
        data: BigInt64Array.of(0n),
      });
    }
  }
  return out;
}

/** Bit-for-bit equality of two float32 arrays. */
function sameBits(a: Float32Array | undefined, b: Float32Array | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.every((v, i) => v === y[i]);
}

const expected = prepareWeights(syntheticWeights({ fc: true }), 'memory');

function expectSameWeights(got: ReturnType<typeof prepareWeights>, fc: boolean) {
  expect(got.units.size).toBe(94);
  for (const [name, u] of expected.units) {
    const g = got.units.get(name);
    expect(g, name).toBeDefined();
    expect(sameBits(g?.w, u.w), name).toBe(true);
    expect(Array.from(g?.b ?? [])).toEqual(Array.from(u.b));
  }
  expect(got.fcT !== undefined).toBe(fc);
  if (fc) expect(sameBits(got.fcT, expected.fcT)).toBe(true);
}

describe('Inception weights', () => {
  it('folds BatchNorm: w * gamma / sqrt(var + 0.001), beta - mean * gamma / sqrt(var + 0.001)', () => {
    const w = syntheticWeights();
    const u = expected.units.get('Conv2d_1a_3x3');
    const conv = w.get('blocks.0.0.conv.weight')?.data as Float32Array;
    const [g, b, m, v] = ['weight', 'bias', 'running_mean', 'running_var'].map(
      (p) => w.get(`blocks.0.0.bn.${p}`)?.data as Float32Array,
    ) as [Float32Array, Float32Array, Float32Array, Float32Array];
    for (const o of [0, 7, 31]) {
      const s = (g[o] as number) / Math.sqrt((v[o] as number) + 0.001);
      expect(u?.b[o]).toBeCloseTo((b[o] as number) - (m[o] as number) * s, 6);
      expect(u?.w[o * 27 + 5]).toBeCloseTo((conv[o * 27 + 5] as number) * s, 6);
    }
  });

  it('reads a legacy torch file with num_batches_tracked, under the weight file names, with fc', () => {
    const bytes = torchLegacy(stateDict({ rename: true, tracked: true, fc: true }));
    expectSameWeights(readInceptionWeights(bytes, WEIGHTS_FILE), true);
  });

  it('reads a zip torch file without num_batches_tracked, under pytorch-fid names, without fc', () => {
    const bytes = torchZip(stateDict({ rename: false, tracked: false, fc: false }), 'inception');
    expectSameWeights(readInceptionWeights(bytes, 'pytorch_fid.pt'), false);
  });

  it('reads safetensors', () => {
    const tensors = new Map(
      [...syntheticWeights({ fc: true })].map(([k, t]) => [
        canonicalName(k),
        { dtype: 'float32' as const, shape: [...t.shape], data: t.data },
      ]),
    );
    expectSameWeights(readInceptionWeights(writeSafetensors(tensors), 'w.safetensors'), true);
  });

  it('says which file is needed when a file is truncated, foreign, incomplete or mis-shaped', () => {
    const hint = (e: unknown) => {
      expect(e).toBeInstanceOf(WeightsError);
      const msg = (e as Error).message;
      expect(msg).toContain(WEIGHTS_FILE);
      expect(msg).toContain(WEIGHTS_URL);
      return msg;
    };
    const catching = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return hint(e);
      }
      throw new Error('no error thrown');
    };
    const small = new Map([...stateDict({ rename: true, tracked: true, fc: false })].slice(0, 60));
    const legacy = torchLegacy(small);
    expect(
      catching(() => readInceptionWeights(legacy.subarray(0, legacy.length - 100), 'w.pth')),
    ).toMatch(/^w\.pth: .*truncated legacy torch file/);
    expect(
      catching(() => readInceptionWeights(new TextEncoder().encode('<html>404</html>'), 'w.pth')),
    ).toMatch(/^w\.pth: not a checkpoint/);
    expect(catching(() => readInceptionWeights(legacy, 'w.pth'))).toMatch(
      /^w\.pth: not the FID Inception weights: \d+ tensors missing \(Mixed_5b\.branch3x3dbl_3\.conv\.weight, /,
    );
    const bad = stateDict({ rename: true, tracked: false, fc: true });
    const t = bad.get('Mixed_6b.branch7x7_2.conv.weight') as TorchEntry;
    bad.set('Mixed_6b.branch7x7_2.conv.weight', { shape: [128, 128, 7, 1], data: t.data });
    expect(catching(() => readInceptionWeights(torchZip(bad), 'w.pt'))).toMatch(
      /^w\.pt: tensor 'Mixed_6b\.branch7x7_2\.conv\.weight' has shape \[128, 128, 7, 1\], expected \[128, 128, 1, 7\]/,
    );
    const fc = new Map(syntheticWeights({ fc: true }));
    fc.set('fc.weight', { shape: [1000, 2048], data: new Float32Array(1000 * 2048) });
    expect(catching(() => prepareWeights(fc, 'w.pt'))).toMatch(
      /'fc\.weight' has shape \[1000, 2048\]/,
    );
  });
});
