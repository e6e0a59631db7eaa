/**
 * Python values out of checkpoints as plain JSON-like data (`_init_kwargs`, attributes, Adam's
 * param_groups, dataset_kwargs), and JSON text that keeps non-finite floats: the project's
 * metadata writes them as the strings "inf", "-inf" and "nan", as the reference fixtures do.
 */
import { CheckpointError } from '../errors.ts';
import { NumpyArray } from '../pickle/globals.ts';
import { isRebuilder, PyGlobal, PyObject } from '../pickle/types.ts';
import { TorchTensor } from '../torch/tensor.ts';

/** JSON values; numbers may be Infinity or NaN (written as "inf"/"-inf"/"nan" strings). */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** Hostile pickles can nest containers a million deep; real keyword dicts are a few levels. */
const MAX_DEPTH = 64;
/**
 * Values converted per call. Pickles share objects: a list holding one list twice, 40 levels
 * deep, is a few hundred bytes yet 2^40 values when walked as a tree.
 */
const MAX_NODES = 100_000;

/** Like `o[k] = v`, but a key such as '__proto__' stays an ordinary entry. */
export function setOwn(o: JsonObject, k: string, v: Json): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/**
 * A Python value as JSON data: dicts become objects (keys as strings), tuples/lists/sets arrays,
 * big ints decimal strings, bytes arrays of numbers. Objects that are not data (modules, classes,
 * tensors) become a short description such as `{"__class__": "torch.nn.Conv2d"}`, so one odd
 * attribute does not make a whole checkpoint unreadable.
 */
export function pyToJson(v: unknown, what: string, count: JsonBudget = { nodes: 0 }): Json {
  return convert(v, what, 0, count);
}

/** Values converted so far; share one between the calls that read one file. */
export interface JsonBudget {
  nodes: number;
}

function convert(v: unknown, what: string, depth: number, count: JsonBudget): Json {
  if (depth > MAX_DEPTH) throw new CheckpointError(`${what} is nested too deeply`);
  if (++count.nodes > MAX_NODES) {
    throw new CheckpointError(`${what}: more than ${MAX_NODES} values (shared or repeated data?)`);
  }
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v) || v instanceof Set) {
    return [...v].map((x, i) => convert(x, `${what}[${i}]`, depth + 1, count));
  }
  if (v instanceof Map) {
    const o: JsonObject = {};
    for (const [k, x] of v) {
      const key = typeof k === 'string' ? k : String(convert(k, `${what} key`, depth + 1, count));
      setOwn(o, key, convert(x, `${what}.${key}`, depth + 1, count));
    }
    return o;
  }
  if (v instanceof Uint8Array) return Array.from(v);
  if (v instanceof TorchTensor) return { __tensor__: { dtype: v.dtype, shape: [...v.shape] } };
  if (v instanceof NumpyArray) return { __ndarray__: { dtype: v.dtype, shape: [...v.shape] } };
  if (v instanceof PyObject) {
    const cls = v.module === 'torch_utils.persistence' ? v.name : v.qualifiedName;
    return { __class__: cls };
  }
  if (v instanceof PyGlobal) return { __global__: v.qualifiedName };
  if (isRebuilder(v)) return { __global__: `${v.module}.${v.name}` };
  return { __python__: typeof v };
}

function toText(v: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new CheckpointError('metadata value is nested too deeply');
  if (typeof v === 'number' && !Number.isFinite(v))
    return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  if (Array.isArray(v)) return v.map((x) => toText(x, depth + 1));
  if (v && typeof v === 'object') {
    const o: JsonObject = {};
    for (const [k, x] of Object.entries(v)) setOwn(o, k, toText(x, depth + 1) as Json);
    return o;
  }
  if (typeof v === 'bigint' || typeof v === 'function' || typeof v === 'symbol') {
    throw new CheckpointError(`metadata cannot hold a ${typeof v}`);
  }
  return v;
}

/** JSON text; non-finite numbers become "inf"/"-inf"/"nan"; refuses what JSON cannot hold. */
export function stringifyJson(v: unknown, what: string): string {
  try {
    return JSON.stringify(toText(v, 0));
  } catch (e) {
    throw new CheckpointError(`${what}: ${(e as Error).message}`);
  }
}

function fromText(v: unknown, depth: number): Json {
  if (depth > MAX_DEPTH) throw new CheckpointError('metadata value is nested too deeply');
  if (v === 'inf') return Number.POSITIVE_INFINITY;
  if (v === '-inf') return Number.NEGATIVE_INFINITY;
  if (v === 'nan') return Number.NaN;
  if (Array.isArray(v)) return v.map((x) => fromText(x, depth + 1));
  if (v && typeof v === 'object') {
    const o: JsonObject = {};
    for (const [k, x] of Object.entries(v)) setOwn(o, k, fromText(x, depth + 1));
    return o;
  }
  return v as Json;
}

/** Parses JSON text written by `stringifyJson` (the strings "inf"/"-inf"/"nan" become numbers). */
export function parseJson(text: string, what: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${what} is not valid JSON (${(e as Error).message})`);
  }
  try {
    return fromText(v, 0);
  } catch (e) {
    throw e instanceof CheckpointError ? new CheckpointError(`${what}: ${e.message}`) : e;
  }
}
