/**
 * The browser-safe half of PNG: an encoder (8-bit gray/gray+alpha/RGB/RGBA, filter 0, zlib
 * through fflate; level 0 = stored blocks, like the official tool's `compress_level=0`) and a
 * header reader and data check that validate a file before pngjs decodes it.
 * Decoding pixels is done by pngjs in the Node entry (`node/png.ts`), since pngjs needs Node's
 * zlib and buffers.
 */
import { inflateSync, zlibSync } from 'fflate';
import { FormatError } from '../errors.ts';
import { crc32 } from '../zip.ts';
import { checkImage, type Image } from './image.ts';

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
/** Default cap on width * height when decoding: 2^26 pixels (8192 x 8192). */
export const MAX_PNG_PIXELS = 1 << 26;

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA. */
  colorType: number;
  interlaced: boolean;
}

const VALID_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** Reads and checks the PNG signature and IHDR chunk (throws FormatError on anything odd). */
export function readPngHeader(bytes: Uint8Array, maxPixels = MAX_PNG_PIXELS): PngHeader {
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new FormatError('not a PNG file (bad signature)');
  }
  if (bytes.length < 33) throw new FormatError(`truncated PNG: ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = view.getUint32(8);
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (type !== 'IHDR' || len !== 13) throw new FormatError('corrupt PNG: first chunk is not IHDR');
  if (crc32(bytes.subarray(12, 29)) !== view.getUint32(29)) {
    throw new FormatError('corrupt PNG: IHDR checksum mismatch');
  }
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const bitDepth = bytes[24] as number;
  const colorType = bytes[25] as number;
  if (width === 0 || height === 0) throw new FormatError(`corrupt PNG: size ${width}x${height}`);
  if (!VALID_DEPTHS[colorType]?.includes(bitDepth)) {
    throw new FormatError(`corrupt PNG: bit depth ${bitDepth} with color type ${colorType}`);
  }
  if (bytes[26] !== 0 || bytes[27] !== 0 || (bytes[28] as number) > 1) {
    throw new FormatError('corrupt PNG: unknown compression, filter or interlace method');
  }
  if (width * height > maxPixels) {
    throw new FormatError(
      `PNG of ${width}x${height} pixels is larger than the limit of ${maxPixels} pixels`,
    );
  }
  return { width, height, bitDepth, colorType, interlaced: bytes[28] === 1 };
}

const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** Bytes of filtered scanlines the image data must inflate to. */
export function pngDataSize(h: PngHeader): number {
  const bits = h.bitDepth * (SAMPLES[h.colorType] as number);
  const rows = (w: number, n: number) => (w > 0 && n > 0 ? n * (1 + Math.ceil((w * bits) / 8)) : 0);
  if (!h.interlaced) return rows(h.width, h.height);
  return ADAM7.reduce(
    (sum, [x0, y0, dx, dy]) =>
      sum + rows(Math.ceil((h.width - x0) / dx), Math.ceil((h.height - y0) / dy)),
    0,
  );
}

/**
 * Checks chunk bounds and checksums, and that the image data inflates to exactly the scanlines
 * the header announces (pngjs pads short data with zeros instead of failing).
 */
export function checkPngData(bytes: Uint8Array, header: PngHeader): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idat: Uint8Array[] = [];
  let p = 8;
  let ended = false;
  while (p + 12 <= bytes.length && !ended) {
    const len = view.getUint32(p);
    if (p + 12 + len > bytes.length) break;
    const type = String.fromCharCode(...bytes.subarray(p + 4, p + 8));
    if (crc32(bytes.subarray(p + 4, p + 8 + len)) !== view.getUint32(p + 8 + len)) {
      throw new FormatError(`corrupt PNG: ${type} chunk checksum mismatch at byte ${p}`);
    }
    if (type === 'IDAT') idat.push(bytes.subarray(p + 8, p + 8 + len));
    ended = type === 'IEND';
    p += 12 + len;
  }
  if (!ended) throw new FormatError('truncated PNG: no IEND chunk (file cut short?)');
  const total = idat.reduce((s, b) => s + b.length, 0);
  const data = new Uint8Array(total);
  idat.reduce((at, b) => (data.set(b, at), at + b.length), 0);
  const want = pngDataSize(header);
  // zlib cannot expand more than ~1032x: refuse before allocating room for a forged size.
  if (want > total * 1032 + 1024) {
    throw new FormatError(
      `corrupt PNG: ${total} bytes of image data cannot hold the ${want} bytes of scanlines ${header.width}x${header.height} needs`,
    );
  }
  let got: number;
  try {
    // zlib header (2 bytes) + raw deflate; one spare byte reveals data longer than announced.
    got = inflateSync(data.subarray(2), { out: new Uint8Array(want + 1) }).length;
  } catch (e) {
    throw new FormatError(`corrupt PNG: image data does not inflate (${(e as Error).message})`);
  }
  if (got !== want) {
    throw new FormatError(
      `corrupt PNG: image data holds ${got > want ? 'more than' : got} bytes of scanlines, ${header.width}x${header.height} needs ${want}`,
    );
  }
}

/**
 * The same PNG without `tRNS` chunks. For gray and RGB images a tRNS chunk only names a
 * "transparent colour"; PIL's and pyspng's arrays keep the pixel values, so we drop the chunk
 * rather than let a decoder zero those pixels.
 */
export function withoutTransparency(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const keep: Uint8Array[] = [bytes.subarray(0, 8)];
  let p = 8;
  let dropped = false;
  while (p + 12 <= bytes.length) {
    const len = view.getUint32(p);
    const end = p + 12 + len;
    if (end > bytes.length) break;
    const type = String.fromCharCode(...bytes.subarray(p + 4, p + 8));
    if (type === 'tRNS') dropped = true;
    else keep.push(bytes.subarray(p, end));
    p = end;
  }
  if (!dropped) return bytes;
  keep.push(bytes.subarray(p));
  const out = new Uint8Array(keep.reduce((s, b) => s + b.length, 0));
  let at = 0;
  for (const b of keep) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes an 8-bit image as PNG. `level` is the zlib level (0 = stored, what dataset_tool
 * writes; 6 = a good default for sample grids).
 */
export function encodePng(img: Image, level: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 = 0) {
  checkImage(img, 'encodePng');
  const { width, height, channels, data } = img;
  const colorType = [0, 4, 2, 6][channels - 1] as number;
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  const row = width * channels;
  const raw = new Uint8Array((row + 1) * height);
  for (let y = 0; y < height; y++)
    raw.set(data.subarray(y * row, (y + 1) * row), y * (row + 1) + 1);
  const idat = zlibSync(raw, { level });
  const parts = [
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, b) => s + b.length, 0));
  let at = 0;
  for (const b of parts) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
