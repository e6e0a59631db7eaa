/**
 * How Python values look after unpickling. None is null, bool is boolean, int is a number (a
 * bigint past 2^53), float is a number, str is a string, bytes/bytearray are Uint8Array, list and
 * tuple are arrays, dict and OrderedDict are Map (insertion order kept), set and frozenset are Set.
 * Everything else is inert data: a `PyGlobal` names a class or function that was referenced but
 * never resolved, and a `PyObject` is an instance of such a class with its arguments and state.
 */

/** A module-level name from GLOBAL/STACK_GLOBAL that is not rebuilt: never called. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of a class that is not on the allow-list, kept as data. */
export class PyObject {
  /** Set by BUILD (usually the instance `__dict__` as a Map). */
  state: unknown = undefined;
  /** Filled by SETITEM(S) when the class is a dict subclass. */
  dictItems: Map<unknown, unknown> | undefined;
  /** Filled by APPEND(S) when the class is a list subclass. */
  listItems: unknown[] | undefined;

  constructor(
    readonly module: string,
    readonly name: string,
    readonly args: unknown[] = [],
    readonly kwargs: Map<unknown, unknown> | undefined = undefined,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }

  /** The value of attribute `key` when the state is a dict (or a (dict, slots) pair). */
  attr(key: string): unknown {
    const s = Array.isArray(this.state) ? this.state[0] : this.state;
    return s instanceof Map ? s.get(key) : undefined;
  }
}

/**
 * An allow-listed global. Each handler only builds data from data (no lookups by name at call
 * time, no evaluation), so a pickle can never run code through one.
 */
export interface Rebuilder {
  readonly module: string;
  readonly name: string;
  /** REDUCE: `callable(*args)`. Absent when the global may only appear as data. */
  call?(args: unknown[]): unknown;
  /** NEWOBJ / copyreg._reconstructor: `cls.__new__(cls, *args)`; defaults to `call`. */
  create?(args: unknown[]): unknown;
}

export function isRebuilder(v: unknown): v is Rebuilder {
  return typeof v === 'object' && v !== null && REBUILDER in v;
}

/** Marks objects made by `rebuilder()` so data never passes for a handler. */
export const REBUILDER: unique symbol = Symbol('rebuilder');

export function rebuilder(
  module: string,
  name: string,
  fns: { call?(args: unknown[]): unknown; create?(args: unknown[]): unknown },
): Rebuilder {
  return { module, name, ...fns, [REBUILDER]: true } as Rebuilder;
}

/** Objects that accept BUILD (`__setstate__`) themselves. */
export interface Buildable {
  setState(state: unknown): void;
}

export function isBuildable(v: unknown): v is Buildable {
  return (
    typeof v === 'object' && v !== null && typeof (v as Partial<Buildable>).setState === 'function'
  );
}

const attributes = new WeakMap<object, unknown>();

/** State a BUILD attached to a dict/list/set (e.g. a state dict's `_metadata`), if any. */
export function pyAttributes(obj: object): unknown {
  return attributes.get(obj);
}

export function setPyAttributes(obj: object, state: unknown): void {
  attributes.set(obj, state);
}
