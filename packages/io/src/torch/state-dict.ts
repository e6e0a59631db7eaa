/**
 * State dicts out of torch checkpoints: name -> contiguous array, in the file's order. Values
 * are float32 (what the tensor package uploads); `original` keeps the stored dtype's values.
 * Every walk and copy is bounded, since a few bytes of pickle can describe huge structures.
 */
import { type DType, itemSize, type NdArray, sizeOfShape, toFloat32 } from '../dtype.ts';
import { FormatError } from '../errors.ts';
import { describe } from '../pickle/vm.ts';
import { PyObject } from '../pickle/types.ts';
import { type LoadOptions, loadTorch } from './load.ts';
import { type TorchStorage, TorchTensor } from './tensor.ts';

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

/**
 * Beyond what the storages justify (each converted fully, twice over), tensor copies may use this
 * much more: enough for the small expanded or overlapping views real files have.
 */
const COPY_SLACK_BYTES = 64 << 20;

/**
 * The copies one conversion makes. A hostile pickle costs a few bytes per tensor, yet each
 * tensor may view a whole (large) storage, or an expanded one billions of elements long; the
 * copies are therefore limited by the size of the storages they come from. A tensor object met
 * twice (shared, or listed under several names) gives the same entry.
 */
export class TensorCopies {
  private readonly entries = new Map<TorchTensor, StateDictEntry>();
  private readonly storages = new Set<TorchStorage>();
  private allowed = COPY_SLACK_BYTES;
  private used = 0;

  entry(t: TorchTensor, name: string): StateDictEntry {
    const seen = this.entries.get(t);
    if (seen) return seen;
    const size = itemSize(t.dtype);
    if (!this.storages.has(t.storage)) {
      this.storages.add(t.storage);
      this.allowed += 2 * t.storage.numel * (size + 4);
    }
    const n = sizeOfShape(t.shape);
    this.used += n * (size + (t.dtype === 'float32' ? 0 : 4));
    if (this.used > this.allowed) {
      throw new FormatError(
        `tensor '${name}' [${t.shape}] would bring the copies to ${this.used} bytes, far more than its storages hold (expanded or repeated views?)`,
      );
    }
    const original = t.toArray();
    const e = { dtype: original.dtype, shape: original.shape, data: toFloat32(original), original };
    this.entries.set(t, e);
    return e;
  }
}

/** A tensor as a state-dict entry: contiguous values, converted to float32. */
export function tensorEntry(t: TorchTensor): StateDictEntry {
  return new TensorCopies().entry(t, 'tensor');
}

/** Nested modules deeper than this are refused (a real network is a few dozen levels deep). */
const MAX_MODULE_DEPTH = 1000;
/**
 * Module visits allowed in one walk. A real network has hundreds of modules; a pickle can share
 * one child under two names per level and so make 2^depth paths out of a few hundred bytes.
 */
const MAX_MODULE_VISITS = 100_000;

/**
 * The state dict of a pickled nn.Module (an inert PyObject from a .pkl or training-state .pt):
 * `_parameters`, then persistent `_buffers`, then each child in `_modules`, as PyTorch orders it.
 * With `only: 'parameters'` it is `named_parameters()` instead: no buffers, and a parameter
 * shared by several modules listed once (the order Adam's state indices refer to).
 */
export function moduleTensors(
  root: PyObject,
  only: 'state' | 'parameters' = 'state',
): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  const active = new Set<PyObject>();
  const seen = new Set<TorchTensor>();
  let visits = 0;
  const visit = (m: PyObject, prefix: string, depth: number) => {
    if (++visits > MAX_MODULE_VISITS) {
      throw new FormatError(`more than ${MAX_MODULE_VISITS} module visits (shared submodules?)`);
    }
    if (depth > MAX_MODULE_DEPTH)
      throw new FormatError(`modules nested deeper than ${MAX_MODULE_DEPTH} levels`);
    if (active.has(m)) throw new FormatError(`module '${prefix}' contains itself`);
    active.add(m);
    const params = m.attr('_parameters');
    const buffers = m.attr('_buffers');
    const skip = m.attr('_non_persistent_buffers_set');
    const groups = only === 'state' ? [params, buffers] : [params];
    for (const [k, dict] of groups.entries()) {
      if (!(dict instanceof Map)) continue;
      for (const [name, t] of dict) {
        if (t === null || (k === 1 && skip instanceof Set && skip.has(name))) continue;
        if (!(t instanceof TorchTensor)) {
          throw new FormatError(
            `module entry '${prefix}${String(name)}' is a ${describe(t)}, not a tensor`,
          );
        }
        if (only === 'parameters' && seen.has(t)) continue;
        seen.add(t);
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
export function stateDictOf(
  value: unknown,
  key?: string,
  copies: TensorCopies = new TensorCopies(),
): StateDict {
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
    for (const [name, t] of moduleTensors(v)) out.set(name, copies.entry(t, name));
    return out;
  }
  if (!(v instanceof Map))
    throw new FormatError(`not a state dict: the object is a ${describe(v)}`);
  for (const [name, t] of v) {
    if (t instanceof TorchTensor) out.set(String(name), copies.entry(t, String(name)));
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
