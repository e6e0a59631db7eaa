/** Mutation helpers shared by the fuzz tests: a seedable generator, byte mutators, budgets. */
import { crc32, readZipEntries, readZipEntry, writeZip } from '../src/index.ts';

/** No single parse of these few-KB inputs may take longer (it is a hang or a blow-up). */
export const TIME_BUDGET_MS = 2000;
/** Longer or different runs when hunting: IO_FUZZ_SCALE=20 IO_FUZZ_SEED=7 npx vitest run fuzz */
export const SCALE = Number(process.env.IO_FUZZ_SCALE ?? 1);
export const SEED = Number(process.env.IO_FUZZ_SEED ?? 0);

/** The seeded generator shared by the project's tests (mulberry32). */
export { seeded as rng } from '@pfgmpp/test-utils/rng';

/** Byte values that turn lengths, counts and opcodes into edge cases. */
const EDGES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
const WIDE = [0, 0x7fffffff, 0x80000000, 0xffffffff, 0x40000000, 0x01000000, 0x10000];

/**
 * Changes 1-4 (sometimes up to 16) bytes or 32-bit words, half of them in the first 512 or the
 * last 256 bytes (where headers, pickles and ZIP directories sit); or truncates; or both.
 */
export function mutate(src: Uint8Array, random: () => number): { bytes: Uint8Array; how: string } {
  const bytes = src.slice();
  const how: string[] = [];
  const mode = random();
  if (mode < 0.65 || mode >= 0.85) {
    const flips = 1 + Math.floor(random() * (random() < 0.8 ? 4 : 16));
    for (let k = 0; k < flips; k++) {
      const region = random();
      const n = bytes.length;
      const at =
        region < 0.25
          ? Math.floor(random() * Math.min(n, 512))
          : region < 0.5
            ? n - 1 - Math.floor(random() * Math.min(n, 256))
            : Math.floor(random() * n);
      const kind = random();
      if (kind < 0.15 && at + 4 <= n) {
        // A 32-bit length or count turned into an edge value (little-endian, as most fields are).
        const v = WIDE[Math.floor(random() * WIDE.length)] as number;
        new DataView(bytes.buffer).setUint32(at, v, true);
        how.push(`[${at}..+4]=0x${v.toString(16)}`);
      } else {
        const v =
          kind < 0.4 ? (EDGES[Math.floor(random() * EDGES.length)] as number) : random() * 256;
        bytes[at] = Math.floor(v);
        how.push(`[${at}]=${bytes[at]}`);
      }
    }
  }
  if (mode >= 0.65) {
    const cut = Math.floor(random() * bytes.length);
    how.push(`cut ${cut}`);
    return { bytes: bytes.subarray(0, cut), how: how.join(' ') };
  }
  return { bytes, how: how.join(' ') };
}

/** Rewrites every chunk checksum, so that mutated PNG data reaches the decoder. */
export function fixPngCrcs(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = 8; p + 12 <= bytes.length; ) {
    const len = view.getUint32(p);
    if (p + 12 + len > bytes.length) break;
    view.setUint32(p + 8 + len, crc32(bytes.subarray(p + 4, p + 8 + len)));
    p += 12 + len;
  }
  return bytes;
}

/**
 * Mutates one member of a ZIP archive and zips the members again (valid CRCs), so the damage
 * reaches the member's own reader instead of stopping at the ZIP checksum. `prefer` is picked
 * half of the time when present (a torch file's data.pkl).
 */
export function mutateMember(src: Uint8Array, random: () => number, prefer?: RegExp) {
  const files = readZipEntries(src).map((e) => ({ name: e.name, data: readZipEntry(src, e) }));
  const preferred = prefer ? files.findIndex((f) => prefer.test(f.name)) : -1;
  const k = preferred >= 0 && random() < 0.5 ? preferred : Math.floor(random() * files.length);
  const file = files[k] as { name: string; data: Uint8Array };
  const m = mutate(file.data, random);
  file.data = file.name.endsWith('.png') ? fixPngCrcs(m.bytes) : m.bytes;
  return { bytes: writeZip(files), how: `${file.name}: ${m.how}` };
}

/** Bytes of typed arrays reachable from a result (bounded walk). */
export function outputBytes(v: unknown, seen = new Set<unknown>(), depth = 0): number {
  if (v === null || typeof v !== 'object' || seen.has(v) || depth > 50) return 0;
  seen.add(v);
  if (ArrayBuffer.isView(v)) return v.byteLength;
  const items =
    v instanceof Map ? [...v.values()] : Array.isArray(v) ? v : Object.values(v as object);
  let sum = 0;
  for (const x of items.slice(0, 100_000)) sum += outputBytes(x, seen, depth + 1);
  return sum;
}
