/** Reading pickle operands: every length is checked against the bytes left before it is used. */
import { FormatError } from '../errors.ts';
import { decodeLatin1 } from '../latin1.ts';

export const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4c: 'LONG',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x58: 'BINUNICODE',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x7d: 'EMPTY_DICT',
  0x65: 'APPENDS',
  0x67: 'GET',
  0x68: 'BINGET',
  0x69: 'INST',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x29: 'EMPTY_TUPLE',
  0x75: 'SETITEMS',
  0x47: 'BINFLOAT',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/** Python ints longer than this many bytes are refused (a real checkpoint has none near it). */
const MAX_LONG_BYTES = 1 << 16;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class PickleInput {
  private readonly view: DataView;

  constructor(
    private readonly data: Uint8Array,
    public pos: number,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private need(n: number): number {
    const at = this.pos;
    if (!Number.isSafeInteger(n) || n < 0 || n > this.data.length - at) {
      throw new FormatError(
        `truncated pickle: an operand of ${n} bytes at byte ${at} runs past the end (${this.data.length} bytes)`,
      );
    }
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.data[this.need(1)] as number;
  }
  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  i32(): number {
    return this.view.getInt32(this.need(4), true);
  }
  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  u64(): number {
    const v = this.view.getBigUint64(this.need(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FormatError(`pickle: length ${v} at byte ${this.pos - 8} is impossibly large`);
    }
    return Number(v);
  }
  f64be(): number {
    return this.view.getFloat64(this.need(8), false);
  }

  /** A little-endian two's-complement integer of n bytes (LONG1/LONG4). */
  long(n: number): number | bigint {
    if (n < 0 || n > MAX_LONG_BYTES) {
      throw new FormatError(
        `pickle: integer of ${n} bytes at byte ${this.pos} is refused (limit ${MAX_LONG_BYTES})`,
      );
    }
    const at = this.need(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let k = n - 1; k >= 0; k--) v = (v << 8n) | BigInt(this.data[at + k] as number);
    if ((this.data[at + n - 1] as number) & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;
  }

  /** A copy, so results never alias (or keep alive) the input buffer. */
  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.data.slice(at, at + n);
  }
  utf8(n: number): string {
    const at = this.need(n);
    try {
      return utf8.decode(this.data.subarray(at, at + n));
    } catch {
      throw new FormatError(`pickle: string at byte ${at} is not valid UTF-8`);
    }
  }
  latin1(n: number): string {
    const at = this.need(n);
    return decodeLatin1(this.data.subarray(at, at + n));
  }
  /** A protocol-0 text operand up to (not including) the newline. */
  line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw new FormatError(`truncated pickle: no newline after byte ${this.pos}`);
    const at = this.need(end - this.pos + 1);
    return decodeLatin1(this.data.subarray(at, end));
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  r: '\r',
  t: '\t',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '\n': '',
};

/** The STRING operand: a quoted Python 2 str literal with backslash escapes. */
export function decodeEscapedString(text: string, fail: (m: string) => never): string {
  const q = text[0];
  if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q) {
    return fail('STRING operand is not quoted');
  }
  const body = text.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i] ?? '';
    if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e];
    else if (e === 'x') {
      const h = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) fail('bad \\x escape in STRING');
      out += String.fromCharCode(Number.parseInt(h, 16));
      i += 2;
    } else if (/[0-7]/.test(e)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i)) as RegExpExecArray;
      out += String.fromCharCode(Number.parseInt(m[0], 8) & 0xff);
      i += m[0].length - 1;
    } else out += `\\${e}`;
  }
  return out;
}

/** The UNICODE operand: raw-unicode-escape (only \uXXXX and \UXXXXXXXX are escapes). */
export function decodeRawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u4, u8) =>
    String.fromCodePoint(Number.parseInt(u4 ?? u8, 16)),
  );
}

export function parseIntText(text: string, fail: (m: string) => never): number | bigint {
  if (!/^[+-]?\d+$/.test(text))
    return fail(`bad integer literal ${JSON.stringify(text.slice(0, 40))}`);
  const v = BigInt(text);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

/**
 * The opcodes that push one plain value (None, bools, ints, floats, strings, bytes). Returns false
 * for any other opcode.
 */
export function readScalar(
  op: number,
  input: PickleInput,
  push: (v: unknown) => void,
  fail: (m: string) => never,
): boolean {
  switch (op) {
    case 0x4e: // NONE
      push(null);
      break;
    case 0x88: // NEWTRUE
      push(true);
      break;
    case 0x89: // NEWFALSE
      push(false);
      break;
    case 0x4a: // BININT
      push(input.i32());
      break;
    case 0x4b: // BININT1
      push(input.u8());
      break;
    case 0x4d: // BININT2
      push(input.u16());
      break;
    case 0x8a: // LONG1
      push(input.long(input.u8()));
      break;
    case 0x8b: // LONG4
      push(input.long(input.i32()));
      break;
    case 0x47: // BINFLOAT (big-endian double)
      push(input.f64be());
      break;
    case 0x49: {
      // INT: text; "00"/"01" are protocol-0 booleans.
      const line = input.line();
      if (line === '00' || line === '01') push(line === '01');
      else push(parseIntText(line, fail));
      break;
    }
    case 0x4c: // LONG: text with a trailing L
      push(parseIntText(input.line().replace(/L$/, ''), fail));
      break;
    case 0x46: {
      // FLOAT: repr text
      const text = input.line();
      const v = text === 'nan' ? Number.NaN : Number(text.replace(/^(-?)inf$/, '$1Infinity'));
      if (Number.isNaN(v) && text !== 'nan')
        fail(`bad FLOAT literal ${JSON.stringify(text.slice(0, 40))}`);
      push(v);
      break;
    }
    case 0x53: // STRING: quoted repr (Python 2 str), decoded as latin-1
      push(decodeEscapedString(input.line(), fail));
      break;
    case 0x54: // BINSTRING
      push(input.latin1(input.i32()));
      break;
    case 0x55: // SHORT_BINSTRING
      push(input.latin1(input.u8()));
      break;
    case 0x56: // UNICODE: raw-unicode-escape text
      push(decodeRawUnicodeEscape(input.line()));
      break;
    case 0x58: // BINUNICODE
      push(input.utf8(input.u32()));
      break;
    case 0x8c: // SHORT_BINUNICODE
      push(input.utf8(input.u8()));
      break;
    case 0x8d: // BINUNICODE8
      push(input.utf8(input.u64()));
      break;
    case 0x42: // BINBYTES
      push(input.bytes(input.u32()));
      break;
    case 0x43: // SHORT_BINBYTES
      push(input.bytes(input.u8()));
      break;
    case 0x8e: // BINBYTES8
      push(input.bytes(input.u64()));
      break;
    case 0x96: // BYTEARRAY8
      push(input.bytes(input.u64()));
      break;
    default:
      return false;
  }
  return true;
}
