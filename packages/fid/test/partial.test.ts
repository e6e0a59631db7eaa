/**
 * Shards without the GPU: FeatureSums gives the same bits whatever the batching, shards' sums
 * merge to the whole list's statistics (1e-10), partial-statistics files round-trip, and
 * merging refuses parts of different runs, overlapping parts and missing shards with one line
 * that names the files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mt19937 } from '@pfgmpp/io';
import { afterAll, describe, expect, it } from 'vitest';
import {
  expandRanges,
  FEATURES,
  FeatureSums,
  formatRanges,
  mergePartials,
  type PartialMeta,
  type PartialStats,
  readPartial,
  statsOf,
  writePartial,
} from '../src/node.ts';
import { relErr } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-fid-partial-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const d = FEATURES;
const N = 7;

/** N feature rows like pool3's: non-negative, mean far from zero (the sums must not cancel). */
function features(seed: number, n = N): Float32Array {
  const rng = new Mt19937(seed);
  return Float32Array.from(
    { length: n * d },
    (_, i) => 0.3 + (i % 7) * 0.05 + rng.nextUint32() / 2 ** 32,
  );
}

const META: PartialMeta = {
  format: 'pfgmpp-fid-partial',
  version: 1,
  detector: 'edm',
  weights: { name: 'w.pth', sha256: 'ab'.repeat(32) },
  source: { kind: 'images', name: 'a.npy', path: 'data/a.npy', count: N },
  shard: { index: 0, count: 1 },
  indices: 'images',
};

/** The part of shard I/count over rows [start, end) of `f`. */
function part(
  f: Float32Array,
  start: number,
  end: number,
  index: number,
  count: number,
  meta: Partial<PartialMeta> = {},
  keep = true,
): PartialStats {
  const sums = new FeatureSums(d);
  sums.add(f.slice(start * d, end * d), end - start);
  return {
    meta: { ...META, ...meta, shard: { index, count } },
    sums,
    indices: Array.from({ length: end - start }, (_, i) => start + i),
    ...(keep && { features: f.slice(start * d, end * d) }),
  };
}

async function saved(name: string, p: PartialStats) {
  const file = join(dir, name);
  await writePartial(file, p);
  return { file, part: await readPartial(file) };
}

describe('FeatureSums', () => {
  it('gives the same bits whatever the batches, and EDM-style mu/sigma to 1e-12 of the exact ones', () => {
    const f = features(1);
    const whole = new FeatureSums(d);
    whole.add(f, N);
    const ones = new FeatureSums(d);
    for (let i = 0; i < N; i++) ones.add(f.subarray(i * d, (i + 1) * d), 1);
    const uneven = new FeatureSums(d);
    uneven.add(f.subarray(0, 3 * d), 3);
    uneven.add(f.subarray(3 * d), N - 3);
    for (const other of [ones, uneven]) {
      expect(other.count).toBe(N);
      expect(Buffer.from(other.sum.buffer).equals(Buffer.from(whole.sum.buffer))).toBe(true);
      expect(Buffer.from(other.outer().buffer).equals(Buffer.from(whole.outer().buffer))).toBe(
        true,
      );
    }
    const exact = statsOf(f, N, d);
    const got = whole.result();
    expect(relErr(got.mu, exact.mu)).toBeLessThan(1e-14);
    expect(relErr(got.sigma, exact.sigma)).toBeLessThan(1e-12);
  });

  it('ranges of seeds print and parse back', () => {
    expect(formatRanges([0, 1, 2, 5, 7, 8])).toBe('0-2,5,7-8');
    expect(expandRanges('0-2,5,7-8')).toEqual([0, 1, 2, 5, 7, 8]);
    expect(formatRanges([])).toBe('');
    expect(expandRanges('')).toEqual([]);
  });
});

describe('partial statistics and merging', () => {
  const f = features(2);

  it('round-trips a part, and the parts of 2 or 3 shards merge to the whole (1e-10)', async () => {
    const whole = new FeatureSums(d);
    whole.add(f, N);
    const exact = whole.result();
    for (const cuts of [
      [0, 4, 7],
      [0, 3, 5, 7],
    ]) {
      const k = cuts.length - 1;
      const parts = [];
      for (let i = 0; i < k; i++) {
        parts.push(
          await saved(`p${k}_${i}.npz`, part(f, cuts[i] as number, cuts[i + 1] as number, i, k)),
        );
      }
      const back = parts[0]?.part as PartialStats;
      expect(back.meta).toEqual({ ...META, shard: { index: 0, count: k } });
      expect(back.indices).toEqual(Array.from({ length: cuts[1] as number }, (_, i) => i));
      // Any order on the command line: the same bits (shard order is used).
      const m = mergePartials(parts);
      const r = mergePartials([...parts].reverse());
      expect(Buffer.from(r.sums.outer().buffer).equals(Buffer.from(m.sums.outer().buffer))).toBe(
        true,
      );
      const s = m.sums.result();
      expect(s.count).toBe(N);
      expect(relErr(s.mu, exact.mu)).toBeLessThan(1e-10);
      expect(relErr(s.sigma, exact.sigma)).toBeLessThan(1e-10);
      expect(m.features && Array.from(m.features)).toEqual(Array.from(f));
    }
  });

  it('refuses parts of other runs, overlaps and missing shards, naming the files', () => {
    // As read back from files (the round trip is tested above).
    const named = (name: string, p: PartialStats) => ({ file: join(dir, name), part: p });
    const a = named('a.npz', part(f, 0, 4, 0, 2));
    const b = named('b.npz', part(f, 4, 7, 1, 2));
    const cases: [{ file: string; part: PartialStats }[], string][] = [
      [[a, a], `${a.file} and ${a.file} overlap: both cover image 0`],
      [
        [a, named('b3.npz', part(f, 3, 7, 1, 2))],
        `${a.file} and ${join(dir, 'b3.npz')} overlap: both cover image 3`,
      ],
      [[a], `shard 1/2 is missing (given: ${a.file})`],
      [
        [a, named('short.npz', part(f, 4, 6, 1, 2))],
        `the parts cover 6 of 7 images; image 6 is missing (given: ${a.file}, ${join(dir, 'short.npz')})`,
      ],
      [
        [a, named('det.npz', part(f, 4, 7, 1, 2, { detector: 'pytorch-fid' }))],
        `${a.file} and ${join(dir, 'det.npz')} come from different detectors (edm, pytorch-fid)`,
      ],
      [
        [
          a,
          named(
            'w.npz',
            part(f, 4, 7, 1, 2, { weights: { name: 'w.pth', sha256: 'cd'.repeat(32) } }),
          ),
        ],
        `${a.file} and ${join(dir, 'w.npz')} come from different Inception weights (sha256 abababababab..., cdcdcdcdcdcd...)`,
      ],
      [
        [a, named('src.npz', part(f, 4, 7, 1, 2, { source: { ...META.source, name: 'b.npy' } }))],
        `${a.file} and ${join(dir, 'src.npz')} come from different sources: images a.npy (7 images) vs images b.npy (7 images)`,
      ],
      [
        [a, named('split.npz', part(f, 4, 7, 1, 3))],
        `${a.file} and ${join(dir, 'split.npz')} are shards of different splits (0/2, 1/3)`,
      ],
      [
        [a, named('nofeat.npz', part(f, 4, 7, 1, 2, {}, false))],
        `${a.file} holds features (--kid) but ${join(dir, 'nofeat.npz')} does not`,
      ],
    ];
    for (const [parts, message] of cases) {
      let error = '';
      try {
        mergePartials(parts);
      } catch (e) {
        error = (e as Error).message;
      }
      expect(error, message).toContain(message);
      expect(error.split('\n')).toHaveLength(1);
    }
    // The path is not part of a run's identity (machines mount data in different places).
    const moved = named(
      'moved.npz',
      part(f, 4, 7, 1, 2, { source: { ...META.source, path: '/mnt/a.npy' } }),
    );
    expect(mergePartials([a, moved]).sums.count).toBe(N);
    expect(mergePartials([b, a]).sums.count).toBe(N);
  });

  it('names the file that is no part', async () => {
    const { writeStats } = await import('../src/node.ts');
    const stats = join(dir, 'stats.npz');
    await writeStats(stats, { mu: new Float64Array(2), sigma: new Float64Array(4), count: 2 });
    await expect(readPartial(stats)).rejects.toThrow(
      `${stats}: not a partial-statistics file (it holds mu and sigma: merged statistics)`,
    );
  });
});
