/**
 * `dataset.json`: `{"labels": [["00000/img00000000.png", 6], ...]}` or `{"labels": null}`.
 * Labels are class ids (non-negative integers, delivered one-hot with label_dim = max + 1) or
 * float vectors of one length (delivered as they are), as in the official `Dataset`.
 */
import { FormatError } from '../errors.ts';

export type RawLabel = number | number[];

/** Parses dataset.json into name -> label (later duplicates win, like a Python dict), or null. */
export function parseDatasetJson(bytes: Uint8Array): Map<string, RawLabel> | null {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new FormatError(`dataset.json is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FormatError('dataset.json must hold an object with a "labels" entry');
  }
  const list = (json as { labels?: unknown }).labels;
  if (list === undefined || list === null) return null;
  if (!Array.isArray(list)) throw new FormatError('dataset.json: "labels" must be a list or null');
  const map = new Map<string, RawLabel>();
  list.forEach((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') {
      throw new FormatError(`dataset.json: labels[${i}] is not a [file name, label] pair`);
    }
    const [name, label] = entry as [string, unknown];
    const ok =
      (typeof label === 'number' && Number.isFinite(label)) ||
      (Array.isArray(label) && label.every((v) => typeof v === 'number' && Number.isFinite(v)));
    if (!ok) {
      throw new FormatError(
        `dataset.json: label of '${name}' must be a number or a list of numbers, got ${JSON.stringify(label)}`,
      );
    }
    map.set(name, label as RawLabel);
  });
  return map;
}

export interface Labels {
  /** Class ids (one-hot on delivery) or vectors (as they are). */
  kind: 'class' | 'vector';
  /** Width of a delivered label: max id + 1 (or `numClasses`), or the vector length. */
  dim: number;
  /** Class id per image (kind 'class'). */
  ids?: Int32Array;
  /** `dim` values per image (kind 'vector'). */
  vectors?: Float32Array;
}

/**
 * Looks up every image's label (names with `\` turned into `/`). Every image needs one; class
 * ids must be integers in [0, numClasses) when `numClasses` is given, else >= 0.
 */
export function resolveLabels(
  names: readonly string[],
  map: ReadonlyMap<string, RawLabel>,
  numClasses?: number,
): Labels {
  const found = names.map((n) => {
    const key = n.replaceAll('\\', '/');
    const label = map.get(key);
    if (label === undefined) {
      throw new FormatError(
        `dataset.json has no label for '${key}' (${map.size} labels for ${names.length} images)`,
      );
    }
    return label;
  });
  const first = found[0];
  if (first === undefined) return { kind: 'class', dim: 0, ids: new Int32Array(0) };
  if (typeof first === 'number') {
    const ids = new Int32Array(found.length);
    let max = -1;
    found.forEach((l, i) => {
      if (typeof l !== 'number' || !Number.isInteger(l) || l < 0 || l > 0x7fffffff) {
        throw new FormatError(
          `dataset.json: label of '${names[i]}' is ${JSON.stringify(l)}; class labels must be non-negative integers`,
        );
      }
      if (numClasses !== undefined && l >= numClasses) {
        throw new FormatError(
          `dataset.json: label of '${names[i]}' is ${l}, outside the ${numClasses} classes`,
        );
      }
      ids[i] = l;
      max = Math.max(max, l);
    });
    return { kind: 'class', dim: numClasses ?? max + 1, ids };
  }
  const dim = first.length;
  const vectors = new Float32Array(found.length * dim);
  found.forEach((l, i) => {
    if (!Array.isArray(l) || l.length !== dim) {
      throw new FormatError(
        `dataset.json: label of '${names[i]}' is ${JSON.stringify(l)}; expected a list of ${dim} numbers like the first`,
      );
    }
    vectors.set(l, i * dim);
  });
  return { kind: 'vector', dim, vectors };
}

/** Writes label `i` into `out` at `at` (one-hot for class ids). */
export function writeLabel(labels: Labels, i: number, out: Float32Array, at: number): void {
  if (labels.kind === 'class') {
    out.fill(0, at, at + labels.dim);
    out[at + (labels.ids?.[i] as number)] = 1;
  } else {
    out.set((labels.vectors as Float32Array).subarray(i * labels.dim, (i + 1) * labels.dim), at);
  }
}

/**
 * dataset.json text exactly as Python's `json.dumps` writes it (", " and ": " separators,
 * non-ASCII escaped), so our files equal the official tool's byte for byte.
 */
export function formatDatasetJson(labels: ReadonlyArray<readonly [string, RawLabel]> | null) {
  const str = (s: string) =>
    JSON.stringify(s).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  // Integers print alike; a float label may differ from Python's repr (1e-05 vs 0.00001).
  const num = (v: number) => String(v);
  const value = (l: RawLabel) => (typeof l === 'number' ? num(l) : `[${l.map(num).join(', ')}]`);
  if (labels === null) return '{"labels": null}';
  return `{"labels": [${labels.map(([n, l]) => `[${str(n)}, ${value(l)}]`).join(', ')}]}`;
}
