/**
 * A pickle virtual machine (protocols 0-5) that never executes anything. GLOBAL and
 * STACK_GLOBAL resolve names against an allow-list of data rebuilders (see globals.ts); any
 * other name becomes an inert `PyGlobal`. Instantiating one (NEWOBJ, copyreg._reconstructor, INST
 * without arguments) yields an inert `PyObject`; calling one (REDUCE, INST/OBJ with arguments)
 * raises `UnsafePickleError` naming it. Stack, memo and nesting are bounded.
 */
import { FormatError, UnsafePickleError } from '../errors.ts';
import { instantiate, resolveGlobal } from './globals.ts';
import { OPCODE_NAMES, PickleInput, parseIntText, readScalar } from './input.ts';
import {
  isBuildable,
  isRebuilder,
  PyGlobal,
  PyObject,
  type Rebuilder,
  setPyAttributes,
} from './types.ts';

export interface UnpickleOptions {
  /** Resolves BINPERSID/PERSID ids (torch storages); without it they are an error. */
  persistentLoad?: (pid: unknown) => unknown;
  /** More allow-listed globals, keyed 'module.name' (they take precedence). */
  globals?: ReadonlyMap<string, Rebuilder>;
  /**
   * Limits against hostile input. Defaults: 1e6 stack items, 1e6 memo entries, 10,000 nested
   * MARKs; picklers batch containers by 1,000 items, so real files stay far below them.
   */
  maxStack?: number;
  maxMemo?: number;
  maxMarks?: number;
}

/** Unpickles the single pickle in `bytes`. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): unknown {
  return unpickleAt(bytes, 0, options).value;
}

/** Unpickles one pickle starting at `offset`; `end` is the offset just past its STOP. */
export function unpickleAt(
  bytes: Uint8Array,
  offset: number,
  options: UnpickleOptions = {},
): { value: unknown; end: number } {
  const maxStack = options.maxStack ?? 1_000_000;
  const maxMemo = options.maxMemo ?? 1_000_000;
  const maxMarks = options.maxMarks ?? 10_000;
  const input = new PickleInput(bytes, offset);
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  let below = 0; // items held in the stacks under the MARKs
  const memo = new Map<number, unknown>();
  let opAt = offset;
  let op = 0;

  const here = () => `opcode ${OPCODE_NAMES[op] ?? `0x${op.toString(16)}`} at byte ${opAt}`;
  const fail = (msg: string): never => {
    throw new FormatError(`pickle: ${msg} (${here()})`);
  };
  const push = (v: unknown) => {
    if (stack.length + below >= maxStack) fail(`stack exceeds ${maxStack} items`);
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown =>
    stack.length === 0 ? fail('stack underflow') : stack[stack.length - 1];
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) return fail('no MARK on the stack');
    stack = prev;
    below -= prev.length;
    return items;
  };
  const put = (idx: number) => {
    if (!memo.has(idx) && memo.size >= maxMemo) fail(`memo exceeds ${maxMemo} entries`);
    memo.set(idx, top());
  };
  const get = (idx: number) => {
    if (!memo.has(idx)) fail(`memo key ${idx} was never stored`);
    push(memo.get(idx));
  };
  const lookup = (module: string, name: string): unknown => {
    const key = `${module}.${name}`;
    return resolveGlobal(key, options.globals) ?? new PyGlobal(module, name);
  };
  const call = (fn: unknown, args: unknown, how: string): unknown => {
    if (!Array.isArray(args)) fail(`${how} arguments must be a tuple`);
    if (isRebuilder(fn)) {
      if (!fn.call) return fail(`${fn.module}.${fn.name} cannot be called`);
      return fn.call(args as unknown[]);
    }
    if (fn instanceof PyGlobal) {
      throw new UnsafePickleError(
        `pickle wants to call ${fn.qualifiedName}, which is not on the allow-list; refused, nothing was executed (${here()})`,
      );
    }
    return fail(`${how} on a ${describe(fn)}, which is not callable`);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (items.length % 2) fail('odd number of items for a dict');
    let map: Map<unknown, unknown>;
    if (target instanceof Map) map = target;
    else if (target instanceof PyObject) map = target.dictItems ??= new Map();
    else return fail(`cannot set items on a ${describe(target)}`);
    for (let k = 0; k < items.length; k += 2) map.set(items[k], items[k + 1]);
  };
  const append = (target: unknown, items: unknown[]) => {
    if (Array.isArray(target)) {
      for (const v of items) target.push(v);
    } else if (target instanceof PyObject) {
      const list = (target.listItems ??= []);
      for (const v of items) list.push(v);
    } else {
      fail(`cannot append to a ${describe(target)}`);
    }
  };
  const addItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Set)) fail(`cannot add items to a ${describe(target)}`);
    for (const v of items) (target as Set<unknown>).add(v);
  };
  const persistent = (pid: unknown) => {
    if (!options.persistentLoad) fail('persistent id found but this file type defines none');
    push(options.persistentLoad?.(pid));
  };

  for (;;) {
    opAt = input.pos;
    if (input.pos >= bytes.length) {
      throw new FormatError(`truncated pickle: ended at byte ${opAt} without a STOP opcode`);
    }
    op = input.u8();
    try {
      switch (op) {
        case 0x80: {
          const proto = input.u8();
          if (proto > 5) fail(`unsupported pickle protocol ${proto} (0-5 are read)`);
          break;
        }
        case 0x95: // FRAME: only a read-ahead hint; check it fits, then read on.
          if (input.u64() > bytes.length - input.pos) fail('frame runs past the end of the data');
          break;
        case 0x2e: // STOP
          return { value: pop(), end: input.pos };
        case 0x28: // MARK
          if (marks.length >= maxMarks) fail(`more than ${maxMarks} nested MARKs`);
          marks.push(stack);
          below += stack.length;
          stack = [];
          break;
        case 0x30: // POP
          if (stack.length === 0 && marks.length > 0) popMark();
          else pop();
          break;
        case 0x31: // POP_MARK
          popMark();
          break;
        case 0x32: // DUP
          push(top());
          break;
        case 0x97: // NEXT_BUFFER
          fail('out-of-band buffers (protocol 5 NEXT_BUFFER) are not supported');
          break;
        case 0x98: // READONLY_BUFFER: no-op on our copies
          top();
          break;
        case 0x29: // EMPTY_TUPLE
          push([]);
          break;
        case 0x85: // TUPLE1
          push([pop()]);
          break;
        case 0x86: {
          // TUPLE2
          const b = pop();
          push([pop(), b]);
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = pop();
          const b = pop();
          push([pop(), b, c]);
          break;
        }
        case 0x74: // TUPLE
          push(popMark());
          break;
        case 0x5d: // EMPTY_LIST
          push([]);
          break;
        case 0x6c: // LIST
          push(popMark());
          break;
        case 0x61: {
          // APPEND
          const v = pop();
          append(top(), [v]);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = popMark();
          append(top(), items);
          break;
        }
        case 0x7d: // EMPTY_DICT
          push(new Map());
          break;
        case 0x64: {
          // DICT
          const m = new Map();
          setItems(m, popMark());
          push(m);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = pop();
          const k = pop();
          setItems(top(), [k, v]);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = popMark();
          setItems(top(), items);
          break;
        }
        case 0x8f: // EMPTY_SET
          push(new Set());
          break;
        case 0x90: {
          // ADDITEMS
          const items = popMark();
          addItems(top(), items);
          break;
        }
        case 0x91: // FROZENSET
          push(new Set(popMark()));
          break;
        case 0x67: // GET
          get(parseIntText(input.line(), fail) as number);
          break;
        case 0x68: // BINGET
          get(input.u8());
          break;
        case 0x6a: // LONG_BINGET
          get(input.u32());
          break;
        case 0x70: // PUT
          put(parseIntText(input.line(), fail) as number);
          break;
        case 0x71: // BINPUT
          put(input.u8());
          break;
        case 0x72: // LONG_BINPUT
          put(input.u32());
          break;
        case 0x94: // MEMOIZE
          put(memo.size);
          break;
        case 0x63: {
          // GLOBAL: "module\nname\n"
          const module = input.line();
          push(lookup(module, input.line()));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string')
            fail('STACK_GLOBAL needs two strings');
          push(lookup(module as string, name as string));
          break;
        }
        case 0x82:
        case 0x83:
        case 0x84:
          fail('the copyreg extension registry (EXT1/EXT2/EXT4) is not supported');
          break;
        case 0x52: {
          // REDUCE
          const args = pop();
          const fn = pop();
          push(call(fn, args, 'REDUCE'));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = pop();
          const cls = pop();
          if (!Array.isArray(args)) fail('NEWOBJ arguments must be a tuple');
          push(instantiate(cls, args as unknown[]));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = pop();
          const args = pop();
          const cls = pop();
          if (!Array.isArray(args) || !(kwargs instanceof Map))
            fail('NEWOBJ_EX needs a tuple and a dict');
          push(instantiate(cls, args as unknown[], kwargs as Map<unknown, unknown>));
          break;
        }
        case 0x69: {
          // INST: "module\nname\n", arguments above the MARK
          const module = input.line();
          const cls = lookup(module, input.line());
          const args = popMark();
          push(args.length ? call(cls, args, 'INST') : instantiate(cls, args));
          break;
        }
        case 0x6f: {
          // OBJ: class and arguments above the MARK
          const items = popMark();
          if (items.length === 0) fail('OBJ without a class');
          const [cls, ...args] = items;
          push(args.length ? call(cls, args, 'OBJ') : instantiate(cls, args));
          break;
        }
        case 0x62: {
          // BUILD
          const state = pop();
          build(top(), state, fail);
          break;
        }
        case 0x50: // PERSID
          persistent(input.line());
          break;
        case 0x51: // BINPERSID
          persistent(pop());
          break;
        default:
          if (readScalar(op, input, push, fail)) break;
          throw new FormatError(
            `pickle: unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte ${opAt} (corrupt data, or not a pickle)`,
          );
      }
    } catch (e) {
      if (e instanceof FormatError) {
        if (e.message.startsWith('pickle') || e.message.startsWith('truncated pickle')) throw e;
        const Err = e instanceof UnsafePickleError ? UnsafePickleError : FormatError;
        throw new Err(`pickle: ${e.message} (${here()})`);
      }
      throw new FormatError(`pickle: ${(e as Error).message} (${here()})`);
    }
  }
}

function build(target: unknown, state: unknown, fail: (m: string) => never): void {
  if (isBuildable(target)) target.setState(state);
  else if (target instanceof PyObject) target.state = state;
  else if (target instanceof Map || target instanceof Set || Array.isArray(target)) {
    setPyAttributes(target, state);
  } else fail(`BUILD on a ${describe(target)}`);
}

/** A short description of a value's Python type for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return `global ${v.qualifiedName}`;
  if (v instanceof PyObject) return `${v.qualifiedName} object`;
  if (isRebuilder(v)) return `global ${v.module}.${v.name}`;
  if (Array.isArray(v)) return 'tuple/list';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return v.constructor?.name ?? 'object';
  return typeof v;
}
