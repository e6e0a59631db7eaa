/**
 * ZIP archives as .npz and torch .pt files use them: stored and deflated members (fflate inflates),
 * zip64 sizes and offsets, data offsets taken from the local header (torch pads it to align
 * storages). Every size and offset is checked against the buffer before use, CRCs are verified,
 * and a member may not claim more than deflate can produce from its compressed bytes.
 */
import { deflateSync, inflateSync } from 'fflate';
import { FormatError } from './errors.ts';

export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the member's data (after its local header) in the archive. */
  dataOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;
/** Deflate cannot expand data by more than ~1032x; a larger claim is a lie or a bomb. */
const MAX_DEFLATE_RATIO = 1032;

export function isZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4
  );
}

function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new FormatError(`corrupt ZIP: ${what} ${v} is too large`);
  return Number(v);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Lists the members of a ZIP archive (central directory order); throws on any inconsistency. */
export function readZipEntries(bytes: Uint8Array): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let eocd = -1;
  for (let i = n - 22; i >= Math.max(0, n - 22 - MAX_COMMENT); i--) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new FormatError(
      n < 22
        ? `not a ZIP archive: only ${n} bytes`
        : 'not a ZIP archive, or truncated: no end-of-central-directory record',
    );
  }
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (view.getUint16(eocd + 4, true) !== 0 || view.getUint16(eocd + 6, true) !== 0) {
    throw new FormatError('multi-disk ZIP archives are not supported');
  }
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== EOCD64_LOCATOR) {
      throw new FormatError('corrupt ZIP: zip64 sizes announced but no zip64 locator');
    }
    const at = u64(view, loc + 8, 'zip64 record offset');
    if (at + 56 > n || view.getUint32(at, true) !== EOCD64) {
      throw new FormatError('corrupt ZIP: zip64 end-of-central-directory record missing');
    }
    count = u64(view, at + 32, 'entry count');
    cdSize = u64(view, at + 40, 'central directory size');
    cdOffset = u64(view, at + 48, 'central directory offset');
  }
  if (cdOffset + cdSize > n) {
    throw new FormatError(
      `corrupt or truncated ZIP: central directory (${cdSize} bytes at ${cdOffset}) ends past the file end (${n} bytes)`,
    );
  }
  const entries: ZipEntry[] = [];
  const seen = new Set<string>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdOffset + cdSize || view.getUint32(p, true) !== CENTRAL) {
      throw new FormatError(`corrupt ZIP: central directory entry ${i} of ${count} is missing`);
    }
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc32 = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let localOffset = view.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdOffset + cdSize)
      throw new FormatError(`corrupt ZIP: entry ${i} overruns the central directory`);
    const name = utf8.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra: the 64-bit values appear only for the fields set to 0xffffffff, in this order.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = view.getUint16(x, true);
      // A field claiming to run past the extra area is cut at its end, so values are never
      // read from the comment or the next entry.
      const len = Math.min(view.getUint16(x + 2, true), xEnd - x - 4);
      if (id === 1) {
        let q = x + 4;
        const take = (what: string) => {
          if (q + 8 > x + 4 + len)
            throw new FormatError(`corrupt ZIP: short zip64 field in '${name}'`);
          const v = u64(view, q, what);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localOffset === 0xffffffff) localOffset = take('offset');
      }
      x += 4 + len;
    }
    if (flags & 1) throw new FormatError(`ZIP entry '${name}' is encrypted; not supported`);
    if (method !== 0 && method !== 8) {
      throw new FormatError(
        `ZIP entry '${name}' uses compression method ${method}; only stored (0) and deflate (8) are supported`,
      );
    }
    if (seen.has(name)) throw new FormatError(`corrupt ZIP: duplicate entry '${name}'`);
    seen.add(name);
    if (localOffset + 30 > n || view.getUint32(localOffset, true) !== LOCAL) {
      throw new FormatError(
        `corrupt or truncated ZIP: local header of '${name}' not found at ${localOffset}`,
      );
    }
    const dataOffset =
      localOffset +
      30 +
      view.getUint16(localOffset + 26, true) +
      view.getUint16(localOffset + 28, true);
    if (dataOffset + compressedSize > n) {
      throw new FormatError(
        `truncated ZIP: entry '${name}' needs bytes ${dataOffset}..${dataOffset + compressedSize} but the file has ${n}`,
      );
    }
    if (method === 0 && size !== compressedSize) {
      throw new FormatError(
        `corrupt ZIP: stored entry '${name}' has size ${size} != ${compressedSize}`,
      );
    }
    if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw new FormatError(
        `corrupt ZIP: entry '${name}' claims ${size} bytes from ${compressedSize} compressed bytes, more than deflate can produce`,
      );
    }
    entries.push({ name, method, crc32, compressedSize, size, dataOffset });
    p = end;
  }
  return entries;
}

let crcTable: Uint32Array | undefined;

export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++)
    c = (t[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The uncompressed bytes of one member (a view into `bytes` for stored members). */
export function readZipEntry(bytes: Uint8Array, entry: ZipEntry, verifyCrc = true): Uint8Array {
  const raw = bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
  let out: Uint8Array;
  if (entry.method === 0) {
    out = raw;
  } else {
    // One spare byte tells "longer than declared" apart from "exactly as declared".
    let inflated: Uint8Array;
    try {
      inflated = inflateSync(raw, { out: new Uint8Array(entry.size + 1) });
    } catch (e) {
      throw new FormatError(
        `corrupt ZIP: entry '${entry.name}' has invalid deflate data (${(e as Error).message})`,
      );
    }
    if (inflated.length !== entry.size) {
      throw new FormatError(
        `corrupt ZIP: entry '${entry.name}' inflates to ${inflated.length > entry.size ? 'more than' : inflated.length} bytes, expected ${entry.size}`,
      );
    }
    out = inflated;
  }
  if (verifyCrc && crc32(out) !== entry.crc32) {
    throw new FormatError(`corrupt ZIP: CRC-32 mismatch in entry '${entry.name}'`);
  }
  return out;
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
}

/**
 * Writes a ZIP archive (no zip64: members and archive must stay under 4 GiB). Timestamps are fixed
 * (1980-01-01) so equal inputs give equal bytes; `compress` deflates members that shrink.
 */
export function writeZip(files: readonly ZipInput[], compress = false): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = enc.encode(f.name);
    const crc = crc32(f.data);
    let method = 0;
    let body = f.data;
    if (compress) {
      const d = deflateSync(f.data, { level: 6 });
      if (d.length < f.data.length) {
        method = 8;
        body = d;
      }
    }
    if (body.length >= 0xffffffff || f.data.length >= 0xffffffff || offset >= 0xffffffff) {
      throw new FormatError(
        `ZIP member '${f.name}' is too large: archives over 4 GiB are not supported`,
      );
    }
    // Bit 11: names are UTF-8.
    const flags = /^[\x20-\x7e]*$/.test(f.name) ? 0 : 0x800;
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, LOCAL, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(6, flags, true);
    lv.setUint16(8, method, true);
    lv.setUint16(10, 0, true);
    lv.setUint16(12, 0x21, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, f.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const cd = new Uint8Array(46 + name.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, CENTRAL, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, flags, true);
    cv.setUint16(10, method, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, f.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    cd.set(name, 46);
    parts.push(local, body);
    central.push(cd);
    offset += local.length + body.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  if (files.length > 0xfffe || offset + cdSize >= 0xffffffff) {
    throw new FormatError('ZIP archive too large: over 65534 members or 4 GiB are not supported');
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, EOCD, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + cdSize + 22);
  let p = 0;
  for (const part of [...parts, ...central, end]) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}
