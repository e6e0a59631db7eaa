/**
 * The Node entry without the GPU: reference-statistics files (round trip in float64, clear
 * errors for other .npz files), image sets from .npy (grey to RGB, seeded subsets, bad arrays)
 * and the weight file's missing-file message.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy, writeNpz } from '@pfgmpp/io';
import { afterAll, describe, expect, it } from 'vitest';
import {
  frechetDistance,
  loadInceptionWeights,
  openImages,
  readStats,
  WEIGHTS_URL,
  writeStats,
} from '../src/node.ts';
import { FIXTURES } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-fid-node-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('statistics files', () => {
  it('round-trips mu and sigma as float64 (and features as float32)', async () => {
    const d = 3;
    const stats = {
      mu: Float64Array.of(0.1, 1 / 3, -2e-300),
      sigma: Float64Array.from({ length: 9 }, (_, i) => Math.PI * i),
      count: 5,
    };
    const path = join(dir, 'ref.npz');
    await writeStats(path, stats, Float32Array.of(1, 2, 3, 4, 5, 6));
    const back = await readStats(path);
    expect(Array.from(back.mu)).toEqual(Array.from(stats.mu));
    expect(Array.from(back.sigma)).toEqual(Array.from(stats.sigma));
    expect(back.features?.length).toBe(2 * d);
  });

  it('reads the reference layout (np.savez of mu, sigma) and scores it as pytorch-fid and EDM', async () => {
    for (const [c, want] of [
      ['wellcond', 22.313123040733416],
      ['rankdef', 70.6875399147388],
    ] as const) {
      const a = await readStats(`${FIXTURES}ref_${c}_A.npz`);
      const b = await readStats(`${FIXTURES}ref_${c}_B.npz`);
      expect(Math.abs(frechetDistance(a, b) - want) / want).toBeLessThan(1e-6);
    }
  });

  it('names the file and the problem for other .npz files', async () => {
    const other = join(dir, 'other.npz');
    writeFileSync(
      other,
      writeNpz({ arr_0: { dtype: 'float32', shape: [2], data: Float32Array.of(1, 2) } }),
    );
    await expect(readStats(other)).rejects.toThrow(
      /other\.npz: not a statistics file: needs arrays 'mu' and 'sigma' \(it has: arr_0\)/,
    );
    const bad = join(dir, 'bad.npz');
    writeFileSync(
      bad,
      writeNpz({
        mu: { dtype: 'float64', shape: [3], data: new Float64Array(3) },
        sigma: { dtype: 'float64', shape: [2, 2], data: new Float64Array(4) },
      }),
    );
    await expect(readStats(bad)).rejects.toThrow(
      /bad\.npz: mu \[3\] and sigma \[2, 2\] are not \[d\] and \[d, d\]/,
    );
    await expect(readStats(join(dir, 'absent.npz'))).rejects.toThrow(/absent\.npz/);
  });
});

describe('image sets', () => {
  it('reads uint8 [n, C, H, W] .npy files, repeats grey to RGB, draws seeded subsets', async () => {
    const grey = join(dir, 'grey.npy');
    const n = 10;
    const data = Uint8Array.from({ length: n * 4 }, (_, i) => i);
    writeFileSync(grey, writeNpy({ dtype: 'uint8', shape: [n, 1, 2, 2], data }));
    const all = await openImages(grey);
    expect(all.count).toBe(n);
    expect(all.shape).toEqual([3, 2, 2]);
    expect(Array.from(await all.read(1, 1))).toEqual([4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7]);
    const a = await openImages(grey, { num: 4, seed: 7 });
    const b = await openImages(grey, { num: 4, seed: 7 });
    const c = await openImages(grey, { num: 4, seed: 8 });
    expect(a.count).toBe(4);
    const firstPixels = async (s: typeof a) => {
      const px = await s.read(0, 4);
      return [0, 1, 2, 3].map((i) => (px[i * 12] as number) / 4);
    };
    const picked = await firstPixels(a);
    expect(picked).toEqual([...picked].sort((x, y) => x - y));
    expect(await firstPixels(b)).toEqual(picked);
    expect(await firstPixels(c)).not.toEqual(picked);
  });

  it('refuses other arrays with the file name', async () => {
    const f = join(dir, 'floats.npy');
    writeFileSync(
      f,
      writeNpy({ dtype: 'float32', shape: [1, 3, 2, 2], data: new Float32Array(12) }),
    );
    await expect(openImages(f)).rejects.toThrow(
      /floats\.npy: expected uint8 \[n, C, H, W\] images, got float32 \[1, 3, 2, 2\]/,
    );
    const four = join(dir, 'rgba.npy');
    writeFileSync(
      four,
      writeNpy({ dtype: 'uint8', shape: [1, 4, 2, 2], data: new Uint8Array(16) }),
    );
    await expect(openImages(four)).rejects.toThrow(/rgba\.npy: images have 4 channels/);
    await expect(openImages(join(dir, 'none'))).rejects.toThrow(
      /none: cannot open \(no such file or folder\)/,
    );
  });

  it('a missing weight file says where the right one comes from', async () => {
    await expect(loadInceptionWeights(join(dir, 'w.pth'))).rejects.toThrow(
      new RegExp(
        `w\\.pth: cannot read the Inception weights \\(no such file\\); .*${WEIGHTS_URL.replace(/[.]/g, '\\.')}`,
      ),
    );
  });
});
