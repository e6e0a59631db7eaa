/**
 * A small reader for (optionally gzipped) tar archives: ustar and GNU headers, GNU long names
 * ('L') and pax 'path' records; regular files only (directories, links and devices are
 * skipped). Header checksums and every size are checked against the buffer, so a truncated or
 * corrupt archive fails with the member it was reading.
 */
import { gunzipSync } from 'fflate';
import { FormatError } from '../errors.ts';

export interface TarEntry {
  name: string;
  /** A view into the archive bytes. */
  data: Uint8Array;
}

const BLOCK = 512;
const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

function text(h: Uint8Array, at: number, len: number, decoder = utf8): string {
  const field = h.subarray(at, at + len);
  const end = field.indexOf(0);
  return decoder.decode(end < 0 ? field : field.subarray(0, end));
}

function octal(h: Uint8Array, at: number, len: number, what: string): number {
  if (((h[at] as number) & 0x80) !== 0) {
    // GNU base-256 for values that do not fit the octal field.
    let v = (h[at] as number) & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + (h[at + i] as number);
    if (!Number.isSafeInteger(v)) throw new FormatError(`corrupt tar: ${what} too large`);
    return v;
  }
  const s = text(h, at, len, latin1).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new FormatError(`corrupt tar: ${what} field '${s}' is not octal`);
  return Number.parseInt(s, 8);
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export function gunzip(bytes: Uint8Array): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (e) {
    throw new FormatError(`corrupt or truncated gzip data (${(e as Error).message})`);
  }
}

/** Lists the regular files of a tar archive (gzip is undone first when present). */
export function readTar(input: Uint8Array): TarEntry[] {
  const bytes = isGzip(input) ? gunzip(input) : input;
  const entries: TarEntry[] = [];
  let p = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (p + BLOCK <= bytes.length) {
    const h = bytes.subarray(p, p + BLOCK);
    if (h.every((b) => b === 0)) return entries;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    const stored = octal(h, 148, 8, 'checksum');
    const ustar = text(h, 257, 6, latin1).startsWith('ustar');
    const prefix = ustar ? text(h, 345, 155) : '';
    const plain = prefix ? `${prefix}/${text(h, 0, 100)}` : text(h, 0, 100);
    if (sum !== stored) {
      throw new FormatError(`corrupt tar: header checksum mismatch at byte ${p} ('${plain}')`);
    }
    const size = octal(h, 124, 12, 'size');
    const type = String.fromCharCode(h[156] as number);
    const start = p + BLOCK;
    const name = paxPath ?? longName ?? plain;
    if (start + size > bytes.length) {
      throw new FormatError(
        `truncated tar: member '${name}' needs ${size} bytes at ${start} but the archive has ${bytes.length}`,
      );
    }
    const data = bytes.subarray(start, start + size);
    p = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') {
      longName = text(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      paxPath = paxRecords(data).get('path');
      continue;
    }
    if (type === 'g') continue;
    longName = undefined;
    paxPath = undefined;
    if (type === '0' || type === '\0' || type === '7') entries.push({ name, data });
  }
  if (p < bytes.length) throw new FormatError('truncated tar: the archive ends inside a header');
  if (bytes.length === 0) throw new FormatError('empty tar archive');
  return entries;
}

function paxRecords(data: Uint8Array): Map<string, string> {
  // Records are "<length> <key>=<value>\n" with the length in bytes, record included.
  const map = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const len = space < 0 ? Number.NaN : Number(latin1.decode(data.subarray(at, space)));
    if (!(Number.isInteger(len) && len > space - at && at + len <= data.length)) {
      throw new FormatError('corrupt tar: bad pax header record');
    }
    const record = utf8.decode(data.subarray(space + 1, at + len - 1));
    const eq = record.indexOf('=');
    if (eq > 0) map.set(record.slice(0, eq), record.slice(eq + 1));
    at += len;
  }
  return map;
}
