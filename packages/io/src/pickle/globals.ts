/**
 * The generic allow-list: Python builtins and NumPy reconstructors that only turn data into data.
 * Torch's rebuilders live in torch/globals.ts and are passed in by the torch loaders. Python 2
 * names (`__builtin__`, `copy_reg`) and NumPy 2's `numpy._core` are mapped to the usual ones.
 */
import {
  type DType,
  float16ToNumber,
  sizeOfShape,
  type TypedData,
  typedFromBytes,
} from '../dtype.ts';
import { FormatError } from '../errors.ts';
import { encodeLatin1 } from '../latin1.ts';
import { parseDescr } from '../npy.ts';
import { isRebuilder, PyGlobal, PyObject, type Rebuilder, rebuilder } from './types.ts';

const ALIASES: Record<string, string> = {
  __builtin__: 'builtins',
  copy_reg: 'copyreg',
  'numpy._core.multiarray': 'numpy.core.multiarray',
  'numpy._core.numeric': 'numpy.core.numeric',
};

/** `cls.__new__(cls, *args)` without running anything: allow-listed classes build their value. */
export function instantiate(
  cls: unknown,
  args: unknown[],
  kwargs?: Map<unknown, unknown>,
): unknown {
  if (isRebuilder(cls)) {
    const make = cls.create ?? cls.call;
    if (!make) throw new FormatError(`${cls.module}.${cls.name} cannot be instantiated`);
    return make(args);
  }
  if (cls instanceof PyGlobal) return new PyObject(cls.module, cls.name, args, kwargs);
  throw new FormatError('cannot instantiate something that is not a class');
}

/** Bytes from a bytes object, or from a str that stood for bytes (Python 2 pickles, latin-1). */
export function asBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return encodeLatin1(v, what);
  throw new FormatError(`${what}: expected bytes`);
}

function iterableItems(v: unknown, what: string): unknown[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  if (v instanceof Map) return [...v.keys()];
  throw new FormatError(`${what}: argument is not a list, tuple or set`);
}

/** A NumPy dtype (numpy.dtype REDUCE, then BUILD with its byte order). */
export class NumpyDType {
  byteOrder = '=';
  constructor(readonly code: string) {}
  setState(state: unknown): void {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteOrder = state[1];
  }
  /** Our dtype and whether values are big-endian. */
  resolve(): { dtype: DType; bigEndian: boolean } {
    const order = this.byteOrder === '>' ? '>' : '<';
    return parseDescr(/^[<>|=]/.test(this.code) ? this.code : `${order}${this.code}`);
  }
}

/** A NumPy array rebuilt from `_reconstruct` + BUILD, or from `_frombuffer` (protocol 5). */
export class NumpyArray {
  dtype: DType = 'uint8';
  shape: number[] = [0];
  data: TypedData = new Uint8Array(0);

  setState(state: unknown): void {
    if (!Array.isArray(state) || state.length !== 5) {
      throw new FormatError('numpy array state is not (version, shape, dtype, fortran, data)');
    }
    const [, shape, dtype, fortran, raw] = state;
    this.fill(shape, dtype, fortran === true, raw);
  }

  fill(shape: unknown, dtype: unknown, fortran: boolean, raw: unknown): void {
    if (!(dtype instanceof NumpyDType)) throw new FormatError('numpy array state has no dtype');
    if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number')) {
      throw new FormatError('numpy array shape is not a tuple of ints');
    }
    if (fortran && shape.length > 1) {
      throw new FormatError('numpy array in Fortran order: only C order is read');
    }
    if (Array.isArray(raw)) throw new FormatError('numpy object arrays are not read');
    const { dtype: dt, bigEndian } = dtype.resolve();
    const bytes = asBytes(raw, 'numpy array data');
    const n = sizeOfShape(shape as number[], 'numpy array shape');
    const data = typedFromBytes(dt, bytes, bigEndian);
    if (data.length !== n) {
      throw new FormatError(
        `numpy array of shape [${shape.join(', ')}] needs ${n} ${dt} values but its data holds ${data.length}`,
      );
    }
    this.dtype = dt;
    this.shape = shape as number[];
    this.data = data;
  }
}

function scalarValue(dtype: unknown, raw: unknown): number | bigint | boolean {
  if (!(dtype instanceof NumpyDType)) throw new FormatError('numpy scalar without a dtype');
  const { dtype: dt, bigEndian } = dtype.resolve();
  const data = typedFromBytes(dt, asBytes(raw, 'numpy scalar'), bigEndian);
  if (data.length !== 1) throw new FormatError(`numpy ${dt} scalar has ${data.length} values`);
  const v = data[0] as number | bigint;
  if (dt === 'bool') return v !== 0;
  if (dt === 'float16') return float16ToNumber(v as number);
  if (
    typeof v === 'bigint' &&
    v >= BigInt(Number.MIN_SAFE_INTEGER) &&
    v <= BigInt(Number.MAX_SAFE_INTEGER)
  ) {
    return Number(v);
  }
  return v;
}

function codecsEncode([text, encoding]: unknown[]): Uint8Array {
  if (typeof text !== 'string') throw new FormatError('_codecs.encode needs a str');
  const enc = String(encoding ?? 'utf-8')
    .toLowerCase()
    .replace('_', '-');
  if (enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1')
    return asBytes(text, '_codecs.encode');
  if (enc === 'utf-8' || enc === 'utf8' || enc === 'ascii') return new TextEncoder().encode(text);
  throw new FormatError(`_codecs.encode with encoding '${enc}' is not supported`);
}

function reconstructor(args: unknown[]): unknown {
  const [cls, , state] = args;
  if (isRebuilder(cls)) return instantiate(cls, []);
  if (!(cls instanceof PyGlobal)) throw new FormatError('copyreg._reconstructor needs a class');
  return new PyObject(cls.module, cls.name, state === null || state === undefined ? [] : [state]);
}

const GENERIC: Rebuilder[] = [
  rebuilder('collections', 'OrderedDict', {
    call: ([items]) =>
      new Map(
        items instanceof Map
          ? items
          : (iterableItems(items, 'OrderedDict') as [unknown, unknown][]),
      ),
  }),
  rebuilder('builtins', 'dict', {
    call: ([items]) =>
      new Map(
        items instanceof Map ? items : (iterableItems(items, 'dict') as [unknown, unknown][]),
      ),
  }),
  rebuilder('builtins', 'set', { call: ([items]) => new Set(iterableItems(items, 'set')) }),
  rebuilder('builtins', 'frozenset', {
    call: ([items]) => new Set(iterableItems(items, 'frozenset')),
  }),
  rebuilder('builtins', 'list', { call: ([items]) => [...iterableItems(items, 'list')] }),
  rebuilder('builtins', 'tuple', { call: ([items]) => [...iterableItems(items, 'tuple')] }),
  rebuilder('builtins', 'bytes', {
    call: ([v]) =>
      v === undefined ? new Uint8Array(0) : Uint8Array.from(iterableItems(v, 'bytes') as number[]),
  }),
  rebuilder('builtins', 'bytearray', {
    call: ([v, enc]) =>
      v === undefined
        ? new Uint8Array(0)
        : typeof v === 'string'
          ? codecsEncode([v, enc])
          : v instanceof Uint8Array
            ? v.slice()
            : Uint8Array.from(iterableItems(v, 'bytearray') as number[]),
  }),
  rebuilder('_codecs', 'encode', { call: codecsEncode }),
  rebuilder('copyreg', '_reconstructor', { call: reconstructor }),
  rebuilder('copyreg', '__newobj__', { call: ([cls, ...args]) => instantiate(cls, args) }),
  rebuilder('copyreg', '__newobj_ex__', {
    call: ([cls, args, kwargs]) =>
      instantiate(
        cls,
        iterableItems(args, '__newobj_ex__'),
        kwargs instanceof Map ? kwargs : undefined,
      ),
  }),
  rebuilder('numpy', 'dtype', {
    call: ([code]) => {
      if (typeof code !== 'string') throw new FormatError('numpy.dtype needs a type code string');
      return new NumpyDType(code);
    },
  }),
  rebuilder('numpy.core.multiarray', 'scalar', { call: ([dtype, raw]) => scalarValue(dtype, raw) }),
  rebuilder('numpy.core.multiarray', '_reconstruct', { call: () => new NumpyArray() }),
  rebuilder('numpy.core.numeric', '_frombuffer', {
    call: ([buf, dtype, shape, order]) => {
      const a = new NumpyArray();
      a.fill(shape, dtype, order === 'F', buf);
      return a;
    },
  }),
  // Referenced as data only (e.g. the class argument of _reconstruct); calling them is refused.
  rebuilder('numpy', 'ndarray', {}),
  rebuilder('builtins', 'object', {}),
];

const TABLE = new Map(GENERIC.map((r) => [`${r.module}.${r.name}`, r]));

function canonical(key: string): string {
  const dot = key.lastIndexOf('.');
  const module = key.slice(0, dot);
  return `${ALIASES[module] ?? module}${key.slice(dot)}`;
}

/** The allow-listed rebuilder for 'module.name', if any (after aliasing). */
export function resolveGlobal(
  key: string,
  extra?: ReadonlyMap<string, Rebuilder>,
): Rebuilder | undefined {
  const c = canonical(key);
  return extra?.get(c) ?? extra?.get(key) ?? TABLE.get(c);
}
