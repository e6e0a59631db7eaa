/**
 * safetensors, the project's own checkpoint format: 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}`,
 * then the raw little-endian data. Reading checks what the reference implementation checks:
 * the header size limit, known dtypes, sizes that match shapes, and offsets that tile the data
 * region exactly (no gaps, overlaps or bytes past the end).
 */
import {
  bytesOf,
  checkArray,
  type DType,
  itemSize,
  type NdArray,
  sizeOfShape,
  typedFromBytes,
} from './dtype.ts';
import { FormatError } from './errors.ts';

/** The reference implementation refuses headers over 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;

const TO_DTYPE: Record<string, DType> = {
  BOOL: 'bool',
  U8: 'uint8',
  I8: 'int8',
  U16: 'uint16',
  I16: 'int16',
  U32: 'uint32',
  I32: 'int32',
  U64: 'uint64',
  I64: 'int64',
  F16: 'float16',
  BF16: 'bfloat16',
  F32: 'float32',
  F64: 'float64',
};
const FROM_DTYPE = Object.fromEntries(Object.entries(TO_DTYPE).map(([k, v]) => [v, k])) as Record<
  DType,
  string
>;

export interface Safetensors {
  tensors: Map<string, NdArray>;
  /** `__metadata__`: string values only (the project keeps JSON text in them). */
  metadata: Record<string, string>;
}

interface Slot {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

export function readSafetensors(bytes: Uint8Array): Safetensors {
  if (bytes.length < 8) throw new FormatError(`not a safetensors file: only ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    throw new FormatError(
      `safetensors header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`,
    );
  }
  const n = Number(n64);
  if (8 + n > bytes.length) {
    throw new FormatError(
      `truncated safetensors file: header of ${n} bytes but only ${bytes.length - 8} follow`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new FormatError(`safetensors header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new FormatError('safetensors header is not a JSON object');
  }
  const metadata: Record<string, string> = {};
  const slots: Slot[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) {
        throw new FormatError('safetensors __metadata__ must be an object of strings');
      }
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string')
          throw new FormatError(`safetensors __metadata__['${k}'] is not a string`);
        // defineProperty: a key such as '__proto__' stays an ordinary entry.
        Object.defineProperty(metadata, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      continue;
    }
    slots.push(parseSlot(name, info));
  }
  // Offsets are relative to the data region and must tile it: sorted, touching, ending at its end.
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const sorted = [...slots].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const s of sorted) {
    if (s.begin < at)
      throw new FormatError(
        `safetensors tensor '${s.name}' overlaps the previous tensor (offset ${s.begin} < ${at})`,
      );
    if (s.begin > at)
      throw new FormatError(
        `safetensors data has a gap of ${s.begin - at} bytes before tensor '${s.name}'`,
      );
    if (s.end > dataLen) {
      throw new FormatError(
        `safetensors tensor '${s.name}' ends at ${s.end}, past the ${dataLen} data bytes (truncated file?)`,
      );
    }
    at = s.end;
  }
  if (at !== dataLen)
    throw new FormatError(`safetensors file has ${dataLen - at} bytes after the last tensor`);
  const tensors = new Map<string, NdArray>();
  for (const s of slots) {
    const raw = bytes.subarray(dataStart + s.begin, dataStart + s.end);
    tensors.set(s.name, { dtype: s.dtype, shape: s.shape, data: typedFromBytes(s.dtype, raw) });
  }
  return { tensors, metadata };
}

function parseSlot(name: string, info: unknown): Slot {
  const bad = (msg: string) => new FormatError(`safetensors tensor '${name}': ${msg}`);
  if (typeof info !== 'object' || info === null) throw bad('entry is not an object');
  const { dtype: code, shape, data_offsets: offsets } = info as Record<string, unknown>;
  const dtype = typeof code === 'string' ? TO_DTYPE[code] : undefined;
  if (!dtype)
    throw bad(
      `unsupported dtype ${JSON.stringify(code)} (supported: ${Object.keys(TO_DTYPE).join(', ')})`,
    );
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw bad(`shape ${JSON.stringify(shape)} is not a list of sizes`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    offsets.some((o) => !Number.isSafeInteger(o) || o < 0) ||
    offsets[0] > offsets[1]
  ) {
    throw bad(`data_offsets ${JSON.stringify(offsets)} are not [begin, end]`);
  }
  const need =
    sizeOfShape(shape as number[], `safetensors tensor '${name}' shape`) * itemSize(dtype);
  if (offsets[1] - offsets[0] !== need) {
    throw bad(
      `shape [${shape.join(', ')}] of ${dtype} needs ${need} bytes but data_offsets span ${offsets[1] - offsets[0]}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin: offsets[0], end: offsets[1] };
}

/** Encodes tensors (in the given order) and string metadata; the header is space-padded to 8 bytes. */
export function writeSafetensors(
  tensors: Map<string, NdArray> | Record<string, NdArray>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string')
      throw new FormatError(`safetensors metadata '${k}' must be a string`);
  }
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, a] of entries) {
    if (name === '__metadata__') throw new FormatError("'__metadata__' cannot name a tensor");
    checkArray(a, name);
    const size = a.data.byteLength;
    header[name] = {
      dtype: FROM_DTYPE[a.dtype],
      shape: a.shape,
      data_offsets: [offset, offset + size],
    };
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.fill(0x20, 8, 8 + padded);
  out.set(json, 8);
  let p = 8 + padded;
  for (const [, a] of entries) {
    out.set(bytesOf(a.data), p);
    p += a.data.byteLength;
  }
  return out;
}
