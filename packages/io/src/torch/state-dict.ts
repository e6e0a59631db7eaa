/**
 * State dicts out of torch checkpoints: name -> contiguous array, in the file's order. Values
 * are float32 (what the tensor package uploads); `original` keeps the stored dtype's values.
 */
import { type DType, type NdArray, toFloat32 } from '../dtype.ts';
import { FormatError } from '../errors.ts';
import { describe } from '../pickle/vm.ts';
import { PyObject } from '../pickle/types.ts';
import { type LoadOptions, loadTorch } from './load.ts';
import { TorchTensor } from './tensor.ts';

export interface StateDictEntry {
  /** The dtype stored in the file (e.g. int64 for num_batches_tracked). */
  dtype: DType;
  shape: number[];
  /** The values converted to float32 (the same array as `original.data` for float32 tensors). */
  data: Float32Array;
  /** The values in the stored dtype, contiguous. */
  original: NdArray;
}

export type StateDict = Map<string, StateDictEntry>;

function entry(t: TorchTensor): StateDictEntry {
  const original = t.toArray();
  return { dtype: original.dtype, shape: original.shape, data: toFloat32(original), original };
}

/** Nested modules deeper than this are refused (a real network is a few dozen levels deep). */
const MAX_MODULE_DEPTH = 1000;

/**
 * The state dict of a pickled nn.Module (an inert PyObject from a .pkl or training-state .pt):
 * `_parameters`, then persistent `_buffers`, then each child in `_modules`, as PyTorch orders it.
 */
export function moduleTensors(root: PyObject): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  const active = new Set<PyObject>();
  const visit = (m: PyObject, prefix: string, depth: number) => {
    if (depth > MAX_MODULE_DEPTH)
      throw new FormatError(`modules nested deeper than ${MAX_MODULE_DEPTH} levels`);
    if (active.has(m)) throw new FormatError(`module '${prefix}' contains itself`);
    active.add(m);
    const params = m.attr('_parameters');
    const buffers = m.attr('_buffers');
    const skip = m.attr('_non_persistent_buffers_set');
    for (const [dict, isBuffer] of [
      [params, false],
      [buffers, true],
    ] as const) {
      if (!(dict instanceof Map)) continue;
      for (const [name, t] of dict) {
        if (t === null || (isBuffer && skip instanceof Set && skip.has(name))) continue;
        if (!(t instanceof TorchTensor)) {
          throw new FormatError(
            `module entry '${prefix}${String(name)}' is a ${describe(t)}, not a tensor`,
          );
        }
        out.set(`${prefix}${String(name)}`, t);
      }
    }
    const children = m.attr('_modules');
    if (children instanceof Map) {
      for (const [name, child] of children) {
        if (child instanceof PyObject) visit(child, `${prefix}${String(name)}.`, depth + 1);
      }
    }
    active.delete(m);
  };
  visit(root, '', 0);
  return out;
}

/**
 * The tensors of a checkpoint's object: a dict of tensors (torch.save(state_dict)) or a pickled
 * module. `key` first selects an entry of a top-level dict (e.g. 'ema' or 'net').
 */
export function stateDictOf(value: unknown, key?: string): StateDict {
  let v = value;
  if (key !== undefined) {
    if (!(v instanceof Map) || !v.has(key)) {
      const keys = v instanceof Map ? [...v.keys()].map(String).join(', ') : describe(v);
      throw new FormatError(`checkpoint has no top-level key '${key}' (it has: ${keys})`);
    }
    v = v.get(key);
  }
  const out: StateDict = new Map();
  if (v instanceof PyObject) {
    for (const [name, t] of moduleTensors(v)) out.set(name, entry(t));
    return out;
  }
  if (!(v instanceof Map))
    throw new FormatError(`not a state dict: the object is a ${describe(v)}`);
  for (const [name, t] of v) {
    if (t instanceof TorchTensor) out.set(String(name), entry(t));
  }
  if (out.size === 0 && v.size > 0) {
    const keys = [...v.keys()].map(String).slice(0, 10).join(', ');
    throw new FormatError(
      `not a state dict: no tensors at the top level (keys: ${keys}); pass a key to select one`,
    );
  }
  return out;
}

/** Loads a torch checkpoint (zip, legacy or plain pickle) and returns its state dict. */
export function loadTorchStateDict(
  bytes: Uint8Array,
  opts: LoadOptions & { key?: string } = {},
): StateDict {
  return stateDictOf(loadTorch(bytes, opts).value, opts.key);
}
