/** The safe pickle machine: Python's own pickles (protocols 0-5), hostile input, limits. */
import { describe, expect, it } from 'vitest';
import {
  describePyValue,
  FormatError,
  NumpyArray,
  PyGlobal,
  PyObject,
  pyAttributes,
  readNpz,
  unpickle,
  unpickleAt,
  UnsafePickleError,
} from '../src/index.ts';
import { fixture, latin1 } from './fixtures.ts';

describe('pickle: Python-written data', () => {
  for (const protocol of [0, 1, 2, 3, 4, 5]) {
    it(`decodes protocol ${protocol}`, () => {
      const v = unpickle(fixture(`pickle_p${protocol}.pkl`));
      expect(v).toBeInstanceOf(Map);
      const m = v as Map<string, unknown>;
      expect(m.get('int')).toBe(1);
      expect(m.get('neg')).toBe(-5);
      expect(m.get('int2')).toBe(40000);
      expect(m.get('int4')).toBe(-2_000_000_000);
      expect(m.get('big')).toBe(2n ** 70n);
      expect(m.get('negbig')).toBe(-(2n ** 64n));
      expect(m.get('float')).toBe(1.5);
      expect(m.get('inf')).toBe(Number.POSITIVE_INFINITY);
      expect(m.get('str')).toBe('h\u00e9llo \u4e16');
      expect(m.get('bytes')).toEqual(Uint8Array.of(0, 255));
      expect(m.get('empty_bytes')).toEqual(new Uint8Array(0));
      expect(m.get('bytearray')).toEqual(Uint8Array.of(97, 98));
      expect(m.get('list')).toEqual([1, 2, 3]);
      expect(m.get('tuple')).toEqual([1, 'a']);
      expect(m.get('set')).toEqual(new Set([1, 2]));
      expect(m.get('frozenset')).toEqual(new Set([3]));
      expect(m.get('none')).toBeNull();
      expect(m.get('true')).toBe(true);
      expect(m.get('false')).toBe(false);
      expect([...(m.get('od') as Map<string, number>)]).toEqual([
        ['b', 2],
        ['a', 1],
      ]);
      expect(m.get('nested')).toEqual([[[]]]);
      expect(m.get('np_f64')).toBe(0.5);
      expect(m.get('np_i64')).toBe(-7);
      const arr = m.get('np_arr') as NumpyArray;
      expect(arr).toBeInstanceOf(NumpyArray);
      expect([arr.dtype, arr.shape, Array.from(arr.data as Float32Array)]).toEqual([
        'float32',
        [2, 3],
        [0, 1, 2, 3, 4, 5],
      ]);
      const thing = m.get('thing') as PyObject;
      expect(thing).toBeInstanceOf(PyObject);
      expect(thing.qualifiedName).toBe('fixturemod.Thing');
      expect(thing.attr('a')).toBe(1);
      expect(thing.attr('b')).toEqual([1, 2]);
      expect(m.get('long_list')).toEqual(Array.from({ length: 300 }, (_, i) => i));
      const shared = m.get('shared') as unknown[][];
      expect(shared[0]).toBe(shared[1]);
    });
  }

  it('reads a Python-2 style CIFAR batch (BINSTRING data, numpy _reconstruct)', () => {
    const batch = unpickle(fixture('cifar_data_batch_1.pkl')) as Map<string, unknown>;
    const expected = readNpz(fixture('cifar_batch1_expected.npz'));
    const data = batch.get('data') as NumpyArray;
    expect([data.dtype, data.shape]).toEqual(['uint8', [7, 3072]]);
    expect(Array.from(data.data as Uint8Array)).toEqual(
      Array.from(expected.get('data')?.data as Uint8Array),
    );
    expect(batch.get('labels')).toEqual(
      Array.from(expected.get('labels')?.data as BigInt64Array, Number),
    );
    expect(typeof batch.get('batch_label')).toBe('string');
  });

  it('decodes protocol-0 text opcodes and Python 2 strings', () => {
    expect(unpickle(latin1("S'a\\x41\\n\\'b\\\\'\n."))).toBe("aA\n'b\\");
    expect(unpickle(latin1('S"\\101\\t"\n.'))).toBe('A\t');
    expect(unpickle(latin1('I01\n.'))).toBe(true);
    expect(unpickle(latin1('I-42\n.'))).toBe(-42);
    expect(unpickle(latin1('L123456789012345678901234567890L\n.'))).toBe(
      123456789012345678901234567890n,
    );
    expect(unpickle(latin1('F-1.25e-3\n.'))).toBe(-1.25e-3);
    expect(unpickle(latin1('(F-inf\nFnan\nl.'))).toEqual([Number.NEGATIVE_INFINITY, Number.NaN]);
    expect(unpickle(latin1('Vh\\u00e9\\U0001F600\n.'))).toBe('h\u00e9\u{1F600}');
    expect(unpickle(latin1('(I1\nI2\nl.'))).toEqual([1, 2]);
    expect(unpickle(latin1("(S'k'\nI3\nd."))).toEqual(new Map([['k', 3]]));
    // Python 2 byte strings keep bytes 0x80-0x9f (a windows-1252 decoder would not).
    expect(unpickle(latin1('U\x03\x80\x9f\xff.'))).toBe('\x80\x9f\xff');
    expect(unpickle(latin1('\x80\x02\x8a\x00.'))).toBe(0);
    expect(unpickle(latin1('\x80\x02\x8a\x01\xff.'))).toBe(-1);
    expect(unpickle(latin1('\x80\x02G\x3f\xf8\x00\x00\x00\x00\x00\x00.'))).toBe(1.5);
  });

  it('keeps shared and self-referencing structure without expanding it', () => {
    const selfRef = unpickle(latin1('\x80\x02]q\x00h\x00a.')) as unknown[];
    expect(selfRef[0]).toBe(selfRef);
    // "Billion laughs": 60 levels of lists holding the previous level twice (2^60 leaves).
    let p = '\x80\x02]q\x00';
    for (let i = 1; i <= 60; i++)
      p += `(h${String.fromCharCode(i - 1)}h${String.fromCharCode(i - 1)}lq${String.fromCharCode(i)}`;
    const t0 = performance.now();
    const laughs = unpickle(latin1(`${p}.`)) as unknown[];
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(laughs[0]).toBe(laughs[1]);
    // 100,000 nested lists: no recursion in the machine.
    const deep = unpickle(
      latin1(`\x80\x02${']'.repeat(100_000)}${'a'.repeat(99_999)}.`),
    ) as unknown[];
    expect(Array.isArray(deep[0])).toBe(true);
    expect(describePyValue(deep)).toBe('tuple/list');
  });

  it('reports where one pickle ends, for formats that chain them', () => {
    const two = latin1('\x80\x02K\x05.\x80\x02X\x02\x00\x00\x00hi.');
    const first = unpickleAt(two, 0);
    expect(first).toEqual({ value: 5, end: 5 });
    expect(unpickleAt(two, first.end).value).toBe('hi');
  });

  it('keeps the attributes a BUILD sets on a dict (a state dict _metadata)', () => {
    const v = unpickle(
      latin1('\x80\x02ccollections\nOrderedDict\n)R}X\x01\x00\x00\x00kK\x01sb.'),
    ) as Map<unknown, unknown>;
    expect(v).toBeInstanceOf(Map);
    expect(pyAttributes(v)).toEqual(new Map([['k', 1]]));
  });
});

describe('pickle: hostile input never runs anything', () => {
  const refuses = (bytes: string, name: RegExp) => {
    let err: unknown;
    try {
      unpickle(latin1(bytes));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsafePickleError);
    expect((err as Error).message).toMatch(name);
    expect((err as Error).message).toMatch(/not on the allow-list; refused, nothing was executed/);
  };

  it('refuses REDUCE on os.system, builtins.eval, subprocess.Popen and getattr', () => {
    refuses("cos\nsystem\n(S'echo pwned'\ntR.", /call os\.system,.*REDUCE at byte 27/);
    refuses("c__builtin__\neval\n(S'1+1'\ntR.", /__builtin__\.eval/);
    refuses('cbuiltins\nexec\n(Vimport os\ntR.', /builtins\.exec/);
    refuses(
      '\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\nsubprocess\x94\x8c\x05Popen\x94\x93\x94\x8c\x02ls\x94\x85\x94R\x94.',
      /subprocess\.Popen/,
    );
    refuses("cbuiltins\ngetattr\n(cbuiltins\nobject\nS'__subclasses__'\ntR.", /builtins\.getattr/);
    // Inside allow-listed data, the refusal still comes first.
    refuses("ccollections\nOrderedDict\n((cos\nsystem\n(S'x'\ntRtR.", /os\.system/);
  });

  it('refuses INST and OBJ with arguments (they call the class)', () => {
    refuses("(S'ls'\nios\nsystem\n.", /os\.system/);
    refuses("(cos\nsystem\nS'ls'\no.", /os\.system/);
  });

  it('turns referenced or instantiated unknown globals into inert data', () => {
    const g = unpickle(latin1('cos\nsystem\n.')) as PyGlobal;
    expect(g).toBeInstanceOf(PyGlobal);
    expect(g.qualifiedName).toBe('os.system');
    const o = unpickle(
      latin1("\x80\x02cos\nsystem\n)\x81}X\x01\x00\x00\x00aS'rm -rf /'\nsb."),
    ) as PyObject;
    expect(o).toBeInstanceOf(PyObject);
    expect([o.qualifiedName, o.attr('a')]).toEqual(['os.system', 'rm -rf /']);
    const inst = unpickle(latin1('(ios\nsystem\n.')) as PyObject;
    expect(inst.qualifiedName).toBe('os.system');
    const rec = unpickle(
      latin1('ccopy_reg\n_reconstructor\n(cposix\nsystem\nc__builtin__\nobject\nNtR.'),
    ) as PyObject;
    expect(rec.qualifiedName).toBe('posix.system');
    const ex = unpickle(latin1('\x80\x04cos\nsystem\n)}\x92.')) as PyObject;
    expect(ex.kwargs).toEqual(new Map());
  });

  it('refuses calls to names it knows only as data, and calls on non-callables', () => {
    expect(() => unpickle(latin1('cnumpy\nndarray\n)R.'))).toThrow(
      /numpy\.ndarray cannot be called/,
    );
    expect(() => unpickle(latin1('\x80\x02K\x01)R.'))).toThrow(
      /REDUCE on a number, which is not callable/,
    );
    expect(() => unpickle(latin1('\x80\x02K\x01K\x02b.'))).toThrow(/BUILD on a number/);
    expect(() => unpickle(latin1('\x80\x02K\x01K\x02K\x03s.'))).toThrow(
      /cannot set items on a number/,
    );
  });

  it('names unknown opcodes, bad protocols and unsupported features with their offset', () => {
    expect(() => unpickle(latin1('\x80\x02N\xff.'))).toThrow(/unknown opcode 0xff at byte 3/);
    expect(() => unpickle(latin1('\x80\x02N\x00.'))).toThrow(/unknown opcode 0x00 at byte 3/);
    expect(() => unpickle(latin1('\x80\x06N.'))).toThrow(/unsupported pickle protocol 6/);
    expect(() => unpickle(latin1('\x80\x02\x82\x01.'))).toThrow(/extension registry/);
    expect(() => unpickle(latin1('\x80\x05\x97.'))).toThrow(/out-of-band buffers/);
    expect(() => unpickle(latin1('\x80\x02(K\x01Q.'))).toThrow(
      /persistent id found but this file type defines none/,
    );
  });

  it('reports truncation, underflow and bad memo use clearly', () => {
    expect(() => unpickle(latin1('\x80\x02N'))).toThrow(/ended at byte 3 without a STOP opcode/);
    expect(() => unpickle(latin1('\x80\x02X\xff\xff\xff\xffab.'))).toThrow(
      /operand of 4294967295 bytes at byte 7 runs past the end/,
    );
    expect(() => unpickle(latin1('\x80\x02J\x01\x00'))).toThrow(/truncated pickle/);
    expect(() => unpickle(latin1('\x80\x02R.'))).toThrow(
      /stack underflow \(opcode REDUCE at byte 2\)/,
    );
    expect(() => unpickle(latin1('\x80\x021.'))).toThrow(/no MARK on the stack/);
    expect(() => unpickle(latin1('\x80\x02h\x05.'))).toThrow(/memo key 5 was never stored/);
    expect(() => unpickle(latin1('cos\nsys'))).toThrow(/no newline/);
    expect(() => unpickle(latin1("S'abc\n."))).toThrow(/not quoted/);
    expect(() => unpickle(latin1('Iabc\n.'))).toThrow(/bad integer literal/);
    expect(() => unpickle(latin1('\x80\x02X\x02\x00\x00\x00\xff\xfe.'))).toThrow(/not valid UTF-8/);
    expect(() => unpickle(latin1('\x80\x02\x93.'))).toThrow(/stack underflow/);
    expect(() => unpickle(latin1('\x80\x02K\x01K\x02\x93.'))).toThrow(
      /STACK_GLOBAL needs two strings/,
    );
  });

  it('bounds stack, memo, nesting and operand sizes', () => {
    expect(() => unpickle(latin1(`${'('.repeat(20_000)}.`))).toThrow(
      /more than 10000 nested MARKs/,
    );
    expect(() => unpickle(latin1(`${'N'.repeat(101)}.`), { maxStack: 100 })).toThrow(
      /stack exceeds 100 items/,
    );
    expect(() => unpickle(latin1(`${'N('.repeat(60)}.`), { maxStack: 50 })).toThrow(
      /stack exceeds 50 items/,
    );
    let memo = '\x80\x02N';
    for (let i = 0; i < 11; i++) memo += `q${String.fromCharCode(i)}`;
    expect(() => unpickle(latin1(`${memo}.`), { maxMemo: 10 })).toThrow(/memo exceeds 10 entries/);
    expect(() => unpickle(latin1('\x80\x02\x8b\x00\x00\x00\x40.'))).toThrow(
      /integer of 1073741824 bytes .* refused/,
    );
    expect(() => unpickle(latin1('\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x40.'))).toThrow(
      /impossibly large/,
    );
    expect(() => unpickle(latin1('\x80\x04\x95\x00\x10\x00\x00\x00\x00\x00\x00N.'))).toThrow(
      /frame runs past the end/,
    );
    expect(() =>
      unpickle(latin1('\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00u1\x85RcnumPy\nx\n.')),
    ).not.toThrow();
  });

  it('checks NumPy array data against its shape', () => {
    const lie =
      "\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R(K\x01M\x10'\x85cnumpy\ndtype\nX\x02\x00\x00\x00f4K\x00K\x01\x87R\x89C\x04\x00\x00\x80?tb.";
    expect(() => unpickle(latin1(lie))).toThrow(FormatError);
    expect(() => unpickle(latin1(lie))).toThrow(
      /shape \[10000\] needs 10000 float32 values but its data holds 1/,
    );
  });
});
