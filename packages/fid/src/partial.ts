/**
 * Partial statistics of one shard of an evaluation (`fid ref|calc --shard I/N`), and merging
 * them (`fid merge`). A part is an .npz holding the float64 sums of FeatureSums (count, sum,
 * sum_outer), optionally the features (KID), the indices it covers (image positions or seeds)
 * and a JSON `meta` that identifies the run: detector, a SHA-256 of the Inception weights, the
 * source (image set or network file + seeds + sampler settings) and the shard I/N.
 *
 * Merging adds the sums in shard order, so the result does not depend on the order the files
 * are named in, and refuses parts of different runs and overlapping or missing shards with one
 * line that names the files.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { decodeJsonArray, encodeJsonArray, type NdArray, writeNpz as encodeNpz } from '@pfgmpp/io';
import { readNpz, writeFileAtomic } from '@pfgmpp/io/node';
import { FEATURES } from './architecture.ts';
import { FeatureSums } from './stats.ts';

export const PARTIAL_FORMAT = 'pfgmpp-fid-partial';

/** Where the images of a run come from; every field but `path` must agree between parts. */
export interface PartialSource {
  kind: 'images' | 'network';
  /** The file or folder's base name (paths differ between machines). */
  name: string;
  /** As given on the command line; informational only. */
  path: string;
  /** Images of the whole run (all shards). */
  count: number;
  /** calc's seeded subset of a larger image set (--num, --seed). */
  num?: number;
  seed?: number;
  /** network: SHA-256 of the network file, the seeds as ranges, the sampler settings. */
  sha256?: string;
  seeds?: string;
  sampler?: unknown;
}

export interface PartialMeta {
  format: typeof PARTIAL_FORMAT;
  version: 1;
  detector: string;
  weights: { name: string; sha256: string };
  source: PartialSource;
  shard: { index: number; count: number };
  /** What `indices` holds: positions in the image list, or seeds. */
  indices: 'images' | 'seeds';
}

export interface PartialStats {
  meta: PartialMeta;
  sums: FeatureSums;
  /** The images (positions) or seeds covered, in the order they were added. */
  indices: readonly number[];
  /** [count, 2048] when kept for KID. */
  features?: Float32Array;
}

/** SHA-256 of a file, hex, streamed (the weights are 95 MB, networks may be larger). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`, { cause: e });
  }
  return hash.digest('hex');
}

/** Sorted integers as ranges: [0, 1, 2, 5] -> "0-2,5". */
export function formatRanges(sorted: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** "0-2,5" -> [0, 1, 2, 5] (the inverse of formatRanges). */
export function expandRanges(text: string): number[] {
  const out: number[] = [];
  if (text === '') return out;
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`not a list of ranges: '${text}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let k = a; k <= b; k++) out.push(k);
  }
  return out;
}

/** The .npz bytes of a part; `extra` JSON arrays are added (the resume point's settings). */
export function encodePartial(p: PartialStats, extra: Record<string, unknown> = {}): Uint8Array {
  const n = p.sums.count;
  if (p.indices.length !== n) {
    throw new Error(`partial statistics: ${p.indices.length} indices for ${n} images`);
  }
  // A fixed key order and no time stamps: the same run always gives the same bytes.
  const arrays: Record<string, NdArray> = {
    meta: encodeJsonArray(p.meta),
    count: { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(n)) },
    indices: { dtype: 'int64', shape: [n], data: BigInt64Array.from(p.indices, (k) => BigInt(k)) },
    sum: { dtype: 'float64', shape: [p.sums.d], data: p.sums.sum },
    sum_outer: { dtype: 'float64', shape: [p.sums.d, p.sums.d], data: p.sums.outer() },
  };
  if (p.features) {
    arrays.features = {
      dtype: 'float32',
      shape: [n, p.sums.d],
      data: p.features.subarray(0, n * p.sums.d),
    };
  }
  for (const [k, v] of Object.entries(extra)) arrays[k] = encodeJsonArray(v);
  return encodeNpz(arrays);
}

export async function writePartial(
  path: string,
  p: PartialStats,
  extra: Record<string, unknown> = {},
) {
  await writeFileAtomic(path, encodePartial(p, extra));
}

const HINT = "make parts with 'pfgmpp fid ref|calc --shard I/N --dest PART.npz'";

/** Reads a part (or a resume point, whose extra JSON arrays come back in `extra`). */
export async function readPartial(
  path: string,
): Promise<PartialStats & { extra: Map<string, unknown> }> {
  const npz = await readNpz(path);
  const bad = (why: string) =>
    new Error(`${path}: not a partial-statistics file (${why}); ${HINT}`);
  const metaArray = npz.get('meta');
  if (!metaArray)
    throw bad(npz.has('mu') ? 'it holds mu and sigma: merged statistics' : "no 'meta'");
  let meta: PartialMeta;
  try {
    meta = decodeJsonArray(metaArray, { nonFinite: 'strings' }) as PartialMeta;
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (meta?.format !== PARTIAL_FORMAT) throw bad(`meta.format is not '${PARTIAL_FORMAT}'`);
  if (meta.version !== 1)
    throw new Error(`${path}: partial statistics version ${meta.version}, this program reads 1`);
  const count = npz.get('count');
  const indices = npz.get('indices');
  const sum = npz.get('sum');
  const outer = npz.get('sum_outer');
  if (!count || !indices || !sum || !outer) throw bad('count, indices, sum or sum_outer missing');
  const n = Number((count.data as BigInt64Array)[0]);
  const d = sum.shape[0] ?? 0;
  if (d !== FEATURES || outer.shape[0] !== d || outer.shape[1] !== d || indices.shape[0] !== n) {
    throw bad(
      `sum [${sum.shape.join(', ')}], sum_outer [${outer.shape.join(', ')}], ${indices.shape[0]} indices for count ${n}`,
    );
  }
  const f = npz.get('features');
  if (f && (f.shape[0] !== n || f.shape[1] !== d)) {
    throw bad(`features [${f.shape.join(', ')}] for ${n} images`);
  }
  const extra = new Map<string, unknown>();
  for (const [k, v] of npz) {
    if (!['meta', 'count', 'indices', 'sum', 'sum_outer', 'features'].includes(k)) {
      extra.set(k, decodeJsonArray(v));
    }
  }
  return {
    meta,
    sums: FeatureSums.of(d, n, sum.data as Float64Array, outer.data as Float64Array),
    indices: Array.from(indices.data as BigInt64Array, Number),
    ...(f && { features: Float32Array.from(f.data as Float32Array) }),
    extra,
  };
}

/** One line describing a source, for messages. */
export function describeSource(s: PartialSource): string {
  if (s.kind === 'network') return `network ${s.name} (seeds ${s.seeds})`;
  const subset = s.num !== undefined ? `, --num ${s.num} --seed ${s.seed ?? 0}` : '';
  return `images ${s.name} (${s.count} images${subset})`;
}

/** JSON with the keys of every object sorted, to compare values. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The source without the path, as a string to compare. */
function sourceKey(s: PartialSource): string {
  const { path: _, ...rest } = s;
  return canonical(rest);
}

/**
 * The first way two runs differ, as a phrase for "A and B <phrase>", or null where they are
 * shards of one run (the shard index aside).
 */
export function runDifference(a: PartialMeta, b: PartialMeta): string | null {
  if (a.detector !== b.detector)
    return `come from different detectors (${a.detector}, ${b.detector})`;
  if (a.weights.sha256 !== b.weights.sha256) {
    return `come from different Inception weights (sha256 ${a.weights.sha256.slice(0, 12)}..., ${b.weights.sha256.slice(0, 12)}...)`;
  }
  if (sourceKey(a.source) !== sourceKey(b.source)) {
    const da = describeSource(a.source);
    const db = describeSource(b.source);
    const what =
      da === db
        ? `${da}, with different ${a.source.kind === 'network' ? 'sampler settings or network files' : 'contents'}`
        : `${da} vs ${db}`;
    return `come from different sources: ${what}`;
  }
  if (a.shard.count !== b.shard.count) {
    return `are shards of different splits (${a.shard.index}/${a.shard.count}, ${b.shard.index}/${b.shard.count})`;
  }
  return null;
}

export interface Merged {
  meta: PartialMeta;
  sums: FeatureSums;
  /** [count, 2048] in the order of the whole list, where every part has features. */
  features?: Float32Array;
  files: number;
}

/** The full list a run covers: image positions 0..count-1, or its seeds, ascending. */
export function coveredList(meta: PartialMeta): number[] {
  if (meta.indices === 'seeds') return expandRanges(meta.source.seeds ?? '');
  return Array.from({ length: meta.source.count }, (_, i) => i);
}

/**
 * Merges the parts of one run (see the module comment). Errors are one line naming the files:
 * parts of different runs, overlapping parts, missing shards or images.
 */
export function mergePartials(parts: readonly { file: string; part: PartialStats }[]): Merged {
  const first = parts[0];
  if (!first) throw new Error('no parts to merge');
  const names = parts.map((p) => p.file).join(', ');
  for (const p of parts.slice(1)) {
    const why = runDifference(first.part.meta, p.part.meta);
    if (why) throw new Error(`${first.file} and ${p.file} ${why}`);
    if (Boolean(p.part.features) !== Boolean(first.part.features)) {
      const [has, lacks] = first.part.features ? [first.file, p.file] : [p.file, first.file];
      throw new Error(
        `${has} holds features (--kid) but ${lacks} does not; make all parts with or without --kid`,
      );
    }
  }
  const { meta } = first.part;
  const what = meta.indices === 'seeds' ? 'seed' : 'image';
  // Who covers each index: overlaps are named by both files.
  const owner = new Map<number, string>();
  for (const { file, part } of parts) {
    for (const k of part.indices) {
      const other = owner.get(k);
      if (other !== undefined) {
        throw new Error(`${other} and ${file} overlap: both cover ${what} ${k}`);
      }
      owner.set(k, file);
    }
  }
  const shards = new Map<number, string>();
  for (const { file, part } of parts) shards.set(part.meta.shard.index, file);
  for (let i = 0; i < meta.shard.count; i++) {
    if (!shards.has(i))
      throw new Error(`shard ${i}/${meta.shard.count} is missing (given: ${names})`);
  }
  const list = coveredList(meta);
  const position = new Map(list.map((k, i) => [k, i]));
  for (const [k, file] of owner) {
    if (!position.has(k))
      throw new Error(
        `${file} covers ${what} ${k}, which is not in ${describeSource(meta.source)}`,
      );
  }
  const missing = list.find((k) => !owner.has(k));
  if (missing !== undefined) {
    throw new Error(
      `the parts cover ${owner.size} of ${list.length} ${what}s; ${what} ${missing} is missing (given: ${names})`,
    );
  }
  // Shard order, whatever the order of the files on the command line.
  const ordered = [...parts].sort((a, b) => a.part.meta.shard.index - b.part.meta.shard.index);
  const sums = new FeatureSums(FEATURES);
  for (const { part } of ordered) sums.addSums(part.sums);
  let features: Float32Array | undefined;
  if (first.part.features) {
    features = new Float32Array(list.length * FEATURES);
    for (const { part } of ordered) {
      for (const [r, k] of part.indices.entries()) {
        const f = (part.features as Float32Array).subarray(r * FEATURES, (r + 1) * FEATURES);
        features.set(f, (position.get(k) as number) * FEATURES);
      }
    }
  }
  return { meta, sums, ...(features && { features }), files: parts.length };
}
