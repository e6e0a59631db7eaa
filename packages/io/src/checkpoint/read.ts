/**
 * One reader for every checkpoint the project meets: the official `training-state-*.pt` (EDM:
 * {net, optimizer_state}; PFGM++: {optimizer_state, step, ema, net}), EDM
 * `network-snapshot-*.pkl` ({ema, loss_fn, augment_pipe, dataset_kwargs}), PFGM++'s published
 * `.pkl` files, `torch.save(state_dict)` or `torch.save(net)` files, and our safetensors
 * checkpoints. Pickled networks are EDM persistent objects: only their class name and state are
 * used as data; the embedded module source is dropped unread (see torch/globals.ts).
 */
import { CheckpointError, FormatError, withFileName } from '../errors.ts';
import { PyObject } from '../pickle/types.ts';
import { describe } from '../pickle/vm.ts';
import { readSafetensors } from '../safetensors.ts';
import { type LoadOptions, loadTorch, type TorchCheckpoint } from '../torch/load.ts';
import { moduleTensors, stateDictOf, TensorCopies } from '../torch/state-dict.ts';
import { TorchTensor } from '../torch/tensor.ts';
import { isJsonObject, type JsonObject, pyToJson, setOwn } from './json.ts';
import { checkpointFromSafetensors } from './layout.ts';
import { adamState } from './optimizer.ts';
import type { Checkpoint, CheckpointPart, TensorMap } from './types.ts';

export interface ReadCheckpointOptions extends LoadOptions {
  /** The file's name or path: errors start with it, and `<kimg>` of `training-state-<kimg>.pt`
   * gives the step of files that do not store one (EDM's training states and snapshots). */
  fileName?: string;
  /** Parts that must be present; otherwise a CheckpointError says which are missing. */
  require?: readonly CheckpointPart[];
  /** Convert Adam's state (two more copies of the weights)? Default true. */
  optimizer?: boolean;
}

const CONTAINERS = { zip: 'torch-zip', legacy: 'torch-legacy', pickle: 'pickle' } as const;

/**
 * safetensors: a little-endian u64 header length (under 100 MB, so bytes 4-7 are zero), then a
 * JSON object ending in '}' and space padding. Its first byte may well be 0x80 or 'P', so this
 * structural test runs before the torch magic-number tests.
 */
function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10 || bytes[8] !== 0x7b) return false;
  if (bytes[4] || bytes[5] || bytes[6] || bytes[7]) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(0, true);
  if (n < 2 || n > bytes.length - 8) return false;
  let end = 8 + n - 1;
  while (end > 8 && bytes[end] === 0x20) end--;
  return bytes[end] === 0x7d;
}

/** Reads a checkpoint from its bytes; see `Checkpoint` for what is returned. */
export function readCheckpoint(bytes: Uint8Array, options: ReadCheckpointOptions = {}): Checkpoint {
  const { fileName } = options;
  try {
    const safetensors = isSafetensors(bytes);
    // 'P' also starts torch's PYTORCH1 preview files, which loadTorch names in its message.
    if (!safetensors && bytes[0] !== 0x50 && bytes[0] !== 0x80) {
      throw new FormatError(
        'not a checkpoint: neither safetensors, a torch ZIP archive nor a pickle (wrong magic bytes)',
      );
    }
    const ckpt = safetensors
      ? checkpointFromSafetensors(readSafetensors(bytes))
      : fromTorch(loadTorch(bytes, options), options);
    if (options.optimizer === false) delete ckpt.optimizer;
    if (fileName !== undefined) {
      ckpt.fileName = fileName;
      const m = /(?:^|[\\/])(?:training-state|network-snapshot)-(\d{1,12})\.[a-z]+$/.exec(fileName);
      if (ckpt.step === undefined && m) {
        ckpt.kimg = Number(m[1]);
        ckpt.step = ckpt.kimg * 1000;
      }
    }
    if (ckpt.step !== undefined && ckpt.kimg === undefined)
      ckpt.kimg = Math.floor(ckpt.step / 1000);
    checkRequired(ckpt, options.require ?? []);
    return ckpt;
  } catch (e) {
    throw withFileName(e, fileName);
  }
}

const LABELS: Record<CheckpointPart, string> = {
  net: "the training network ('net')",
  ema: "the EMA network ('ema')",
  optimizer: "the optimizer state ('optimizer_state')",
  initKwargs: 'the architecture keywords (_init_kwargs of a pickled network)',
  step: "the training step (no 'step' entry, and no training-state-<kimg> file name)",
};

function checkRequired(ckpt: Checkpoint, require: readonly CheckpointPart[]): void {
  const has: Record<CheckpointPart, boolean> = {
    net: ckpt.net !== undefined,
    ema: ckpt.ema !== undefined,
    optimizer: ckpt.optimizer !== undefined,
    initKwargs: ckpt.initKwargs !== undefined,
    step: ckpt.step !== undefined,
  };
  const missing = require.filter((p) => !has[p]);
  if (missing.length > 0) {
    throw new CheckpointError(
      `this ${ckpt.format} (${ckpt.container}) lacks ${missing.map((p) => LABELS[p]).join(' and ')}`,
    );
  }
}

function fromTorch(torch: TorchCheckpoint, options: ReadCheckpointOptions): Checkpoint {
  const container = CONTAINERS[torch.format];
  const copies = new TensorCopies(); // one copy budget for net, ema and optimizer together
  const v = torch.value;
  if (v instanceof PyObject) {
    const tensors = networkTensors(v, 'the pickled network', copies);
    return { format: 'module', container, tensors, ...moduleInfo(v) };
  }
  if (!(v instanceof Map)) {
    throw new CheckpointError(`not a checkpoint: the file holds a ${describe(v)}`);
  }
  if (!['net', 'ema', 'optimizer_state'].some((k) => v.has(k))) {
    if (v.size > 0 && ![...v.values()].some((x) => x instanceof TorchTensor)) {
      const keys = [...v.keys()].map(String).slice(0, 10).join(', ');
      throw new CheckpointError(
        `not a checkpoint: no 'net', 'ema' or 'optimizer_state' entry and no tensors (keys: ${keys})`,
      );
    }
    return { format: 'state-dict', container, tensors: stateDictOf(v, undefined, copies) };
  }
  if (!v.has('net') && v.has('optimizer_state')) {
    throw new CheckpointError("has 'optimizer_state' but no 'net' whose parameters it belongs to");
  }
  const net = v.has('net') ? networkTensors(v.get('net'), "'net'", copies) : undefined;
  const ema = v.has('ema') ? networkTensors(v.get('ema'), "'ema'", copies) : undefined;
  const tensors = (ema ?? net) as TensorMap;
  const top = [v.get('ema'), v.get('net')].find((x) => x instanceof PyObject);
  const out: Checkpoint = {
    format: v.has('net') ? 'training-state' : 'network-snapshot',
    container,
    tensors,
    ...(net && { net }),
    ...(ema && { ema }),
    ...(top && moduleInfo(top as PyObject)),
  };
  if (v.has('optimizer_state') && options.optimizer !== false) {
    out.optimizer = adamState(v.get('optimizer_state'), v.get('net'), copies);
  }
  if (v.has('step')) {
    const step = v.get('step');
    if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) {
      throw new CheckpointError(
        `'step' is ${describe(step)} ${String(step)}, not a count of images`,
      );
    }
    out.step = step;
  }
  const dataset = v.get('dataset_kwargs');
  if (dataset instanceof Map) out.datasetKwargs = pyToJson(dataset, 'dataset_kwargs') as JsonObject;
  return out;
}

/** The state dict of a pickled network, or of a dict of tensors stored in its place. */
function networkTensors(x: unknown, what: string, copies: TensorCopies): TensorMap {
  if (x instanceof PyObject) {
    const out: TensorMap = new Map();
    for (const [name, t] of moduleTensors(x)) out.set(name, copies.entry(t, name));
    return out;
  }
  if (x instanceof Map) return stateDictOf(x, undefined, copies);
  throw new CheckpointError(`${what} is a ${describe(x)}, not a network`);
}

/** Class name, `_init_kwargs` and plain attributes of a pickled (persistent) module. */
function moduleInfo(m: PyObject): Pick<Checkpoint, 'className' | 'initKwargs' | 'attributes'> {
  const className = m.module === 'torch_utils.persistence' ? m.name : m.qualifiedName;
  const out: Pick<Checkpoint, 'className' | 'initKwargs' | 'attributes'> = { className };
  const budget = { nodes: 0 };
  const kwargs = m.attr('_init_kwargs');
  if (kwargs instanceof Map) {
    const json = pyToJson(kwargs, '_init_kwargs', budget);
    if (isJsonObject(json)) out.initKwargs = json;
  }
  const state = Array.isArray(m.state) ? m.state[0] : m.state;
  if (state instanceof Map) {
    const attributes: JsonObject = {};
    for (const [k, x] of state) {
      if (typeof k !== 'string' || k.startsWith('_')) continue;
      if (x instanceof PyObject || x instanceof TorchTensor) continue;
      setOwn(attributes, k, pyToJson(x, k, budget));
    }
    out.attributes = attributes;
  }
  return out;
}
