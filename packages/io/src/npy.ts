/**
 * NumPy .npy arrays: format versions 1.0, 2.0 and 3.0, little- and big-endian numbers, bool,
 * C order. Written files use version 1.0 (2.0 when the header needs it) with the header padded
 * so the data starts 64-byte aligned, as NumPy itself does.
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
import { decodeLatin1 } from './latin1.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const KIND: Record<string, Partial<Record<number, DType>>> = {
  b: { 1: 'bool' },
  i: { 1: 'int8', 2: 'int16', 4: 'int32', 8: 'int64' },
  u: { 1: 'uint8', 2: 'uint16', 4: 'uint32', 8: 'uint64' },
  f: { 2: 'float16', 4: 'float32', 8: 'float64' },
};

const DESCR: Partial<Record<DType, string>> = {
  bool: '|b1',
  int8: '|i1',
  uint8: '|u1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  uint32: '<u4',
  int64: '<i8',
  uint64: '<u8',
  float16: '<f2',
  float32: '<f4',
  float64: '<f8',
};

type PyLiteral = string | number | boolean | null | PyLiteral[] | { [k: string]: PyLiteral };

/** Parses the Python dict literal of an .npy header (strings, ints, bools, None, tuples, lists). */
export function parsePyLiteral(text: string): PyLiteral {
  let i = 0;
  const fail = (msg: string): never => {
    throw new FormatError(`bad .npy header: ${msg} at character ${i} of ${JSON.stringify(text)}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const value = (depth: number): PyLiteral => {
    if (depth > 32) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{' || c === '(' || c === '[') {
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      i++;
      const items: PyLiteral[] = [];
      const dict: Record<string, PyLiteral> = {};
      for (;;) {
        ws();
        if (text[i] === close) break;
        const v = value(depth + 1);
        if (c === '{') {
          ws();
          if (text[i++] !== ':') fail("expected ':'");
          if (typeof v !== 'string') fail('dict keys must be strings');
          dict[v as string] = value(depth + 1);
        } else {
          items.push(v);
        }
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`expected ',' or '${close}'`);
      }
      i++;
      return c === '{' ? dict : items;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i));
    if (!m) return fail('unexpected token');
    i += (m[0] as string).length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number.parseInt(m[0] as string, 10);
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

/** Maps a NumPy dtype string such as '<f4' or '|b1' to our dtype and byte order. */
export function parseDescr(descr: string): { dtype: DType; bigEndian: boolean } {
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const kind = m ? KIND[m[2] as string] : undefined;
  const dtype = m && kind ? kind[Number(m[3])] : undefined;
  if (!m || !dtype) {
    const why = /O/.test(descr)
      ? 'object arrays hold pickles and are not read'
      : 'supported are bool, int8..int64, uint8..uint64, float16, float32 and float64';
    throw new FormatError(`unsupported .npy dtype '${descr}': ${why}`);
  }
  return { dtype, bigEndian: m[1] === '>' };
}

export interface NpyHeader {
  dtype: DType;
  bigEndian: boolean;
  shape: number[];
  /** Offset of the array data from the start of the file. */
  dataOffset: number;
}

export function readNpyHeader(bytes: Uint8Array): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    throw new FormatError('not an .npy file: missing the \\x93NUMPY magic');
  }
  const major = bytes[6] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new FormatError('truncated .npy file: header length missing');
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new FormatError(
      `unsupported .npy format version ${major}.${bytes[7]} (1.0, 2.0 and 3.0 are read)`,
    );
  }
  if (start + headerLen > bytes.length) {
    throw new FormatError(
      `truncated .npy file: header of ${headerLen} bytes but only ${bytes.length - start} follow`,
    );
  }
  // Version 3 allows UTF-8 in the header (structured field names); 1 and 2 are latin-1.
  const raw = bytes.subarray(start, start + headerLen);
  const text = (major === 3 ? new TextDecoder('utf-8').decode(raw) : decodeLatin1(raw)).trim();
  const h = parsePyLiteral(text);
  if (typeof h !== 'object' || h === null || Array.isArray(h)) {
    throw new FormatError('bad .npy header: not a dict');
  }
  const descr = h.descr;
  if (typeof descr !== 'string') {
    throw new FormatError(
      `unsupported .npy dtype ${JSON.stringify(descr)}: structured arrays are not read`,
    );
  }
  if (h.fortran_order !== false) {
    throw new FormatError(
      h.fortran_order === true
        ? '.npy array is in Fortran order; only C order is read (save np.ascontiguousarray(a))'
        : 'bad .npy header: fortran_order missing',
    );
  }
  const shape = h.shape;
  if (
    !Array.isArray(shape) ||
    shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
  ) {
    throw new FormatError(
      `bad .npy header: shape ${JSON.stringify(shape)} is not a tuple of sizes`,
    );
  }
  return { ...parseDescr(descr), shape: shape as number[], dataOffset: start + headerLen };
}

/** Decodes an .npy file; big-endian data is converted to native order. */
export function readNpy(bytes: Uint8Array): NdArray {
  const h = readNpyHeader(bytes);
  const n = sizeOfShape(h.shape, '.npy shape');
  const need = n * itemSize(h.dtype);
  const have = bytes.length - h.dataOffset;
  if (have !== need) {
    throw new FormatError(
      `.npy header says ${h.dtype} [${h.shape.join(', ')}] (${need} bytes) but ${have} bytes of data follow${have < need ? ' (truncated)' : ''}`,
    );
  }
  const data = typedFromBytes(h.dtype, bytes.subarray(h.dataOffset), h.bigEndian);
  return { dtype: h.dtype, shape: h.shape, data };
}

/** Encodes an array as .npy (little-endian, C order). bfloat16 has no NumPy dtype and is refused. */
export function writeNpy(array: NdArray, name = 'array'): Uint8Array {
  checkArray(array, name);
  const descr = DESCR[array.dtype];
  if (!descr) throw new FormatError(`${name}: ${array.dtype} has no NumPy dtype; convert it first`);
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  let pre = 10;
  let total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  if (total - pre > 0xffff) {
    pre = 12;
    total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  }
  const headerLen = total - pre;
  const data = bytesOf(array.data);
  const out = new Uint8Array(total + data.length);
  out.set(MAGIC, 0);
  out[6] = pre === 10 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (pre === 10) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  const text = dict.padEnd(headerLen - 1, ' ') + '\n';
  for (let k = 0; k < text.length; k++) out[pre + k] = text.charCodeAt(k);
  out.set(data, total);
  return out;
}
