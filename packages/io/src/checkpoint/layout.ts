/**
 * The project's own checkpoint: one safetensors file (see docs/formats.md). Tensors are float32
 * and named `net.<param>`, `ema.<param>` and `opt.<param>.<exp_avg|exp_avg_sq|step>`; the
 * `__metadata__` strings are `format` ("pfgmpp-webgpu/1"), `kind`, `init_kwargs` (JSON),
 * `class_name`, `step`, `kimg`, `rng` (JSON), `optimizer` (JSON param_groups) and any extras.
 * Pure data in and out: the Node entry adds files.
 */
import { checkArray, type NdArray, toFloat32 } from '../dtype.ts';
import { CheckpointError } from '../errors.ts';
import { readSafetensors, type Safetensors, writeSafetensors } from '../safetensors.ts';
import type { StateDictEntry } from '../torch/state-dict.ts';
import { isJsonObject, type Json, type JsonObject, parseJson, stringifyJson } from './json.ts';
import type { Checkpoint, TensorMap } from './types.ts';

export const CHECKPOINT_FORMAT = 'pfgmpp-webgpu/1';

/** What a checkpoint of ours holds: a network for sampling, or everything to resume training. */
export type CheckpointKind = 'network-snapshot' | 'training-state';

/** A tensor to write: float32 values in C order. */
export interface TensorInput {
  shape: readonly number[];
  data: Float32Array;
}

export interface CheckpointParts {
  kind: CheckpointKind;
  /** The architecture: the official `_init_kwargs` (non-finite numbers are allowed). */
  initKwargs: JsonObject;
  className?: string;
  net?: ReadonlyMap<string, TensorInput>;
  ema?: ReadonlyMap<string, TensorInput>;
  /** Keys `<param>.exp_avg`, `<param>.exp_avg_sq`, `<param>.step`, as `readCheckpoint` gives. */
  optimizer?: { tensors: ReadonlyMap<string, TensorInput>; paramGroups?: JsonObject[] };
  /** Training images seen (cur_nimg); `kimg` defaults to floor(step / 1000). */
  step?: number;
  kimg?: number;
  /** Random-generator state, any JSON value. */
  rng?: Json;
  /** More metadata strings (keys must not be one of the reserved ones). */
  extra?: Record<string, string>;
}

const PREFIXES = { net: 'net.', ema: 'ema.', optimizer: 'opt.' } as const;
const RESERVED = [
  'format',
  'kind',
  'init_kwargs',
  'class_name',
  'step',
  'kimg',
  'rng',
  'optimizer',
];
const KINDS: readonly string[] = ['network-snapshot', 'training-state'];

function count(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new CheckpointError(`${what} must be a non-negative integer, got ${String(v)}`);
  }
  return v;
}

/** Encodes a checkpoint of ours as safetensors bytes (tensors in net, ema, opt order). */
export function encodeCheckpoint(parts: CheckpointParts): Uint8Array {
  const { kind } = parts;
  if (!KINDS.includes(kind)) {
    throw new CheckpointError(`checkpoint kind must be one of ${KINDS.join(', ')}, got ${kind}`);
  }
  if (kind === 'training-state' && !parts.net) {
    throw new CheckpointError('a training state needs the training network (net)');
  }
  if (!parts.net && !parts.ema) throw new CheckpointError('a checkpoint needs net or ema tensors');
  if (!isJsonObject(parts.initKwargs)) {
    throw new CheckpointError('initKwargs must be an object of architecture keywords');
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    kind,
    init_kwargs: stringifyJson(parts.initKwargs, 'initKwargs'),
  };
  if (parts.className !== undefined) metadata.class_name = String(parts.className);
  if (parts.step !== undefined) {
    metadata.step = String(count(parts.step, 'step'));
    metadata.kimg = String(Math.floor(parts.step / 1000));
  }
  if (parts.kimg !== undefined) metadata.kimg = String(count(parts.kimg, 'kimg'));
  if (parts.rng !== undefined) metadata.rng = stringifyJson(parts.rng, 'rng');
  if (parts.optimizer?.paramGroups) {
    metadata.optimizer = stringifyJson(
      { param_groups: parts.optimizer.paramGroups },
      'optimizer param groups',
    );
  }
  for (const [k, v] of Object.entries(parts.extra ?? {})) {
    if (RESERVED.includes(k)) throw new CheckpointError(`extra metadata key '${k}' is reserved`);
    // defineProperty: a key such as '__proto__' stays an ordinary entry.
    Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true });
  }
  const tensors = new Map<string, NdArray>();
  const add = (prefix: string, map: ReadonlyMap<string, TensorInput> | undefined) => {
    for (const [name, t] of map ?? []) {
      if (name === '') throw new CheckpointError(`a tensor under '${prefix}' has an empty name`);
      if (typeof t !== 'object' || t === null || !Array.isArray(t.shape)) {
        throw new CheckpointError(`${prefix}${name}: not a tensor ({ shape, data: Float32Array })`);
      }
      const a: NdArray = { dtype: 'float32', shape: [...t.shape], data: t.data };
      checkArray(a, `${prefix}${name}`);
      tensors.set(`${prefix}${name}`, a);
    }
  };
  add(PREFIXES.net, parts.net);
  add(PREFIXES.ema, parts.ema);
  add(PREFIXES.optimizer, parts.optimizer?.tensors);
  return writeSafetensors(tensors, metadata);
}

/** Decodes a checkpoint of ours (safetensors bytes). */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  return checkpointFromSafetensors(readSafetensors(bytes));
}

function entryOf(a: NdArray): StateDictEntry {
  return { dtype: a.dtype, shape: a.shape, data: toFloat32(a), original: a };
}

/**
 * A read safetensors file as a checkpoint: ours when `format` says so, otherwise a plain state
 * dict (every tensor, names as stored).
 */
export function checkpointFromSafetensors(st: Safetensors): Checkpoint {
  const meta = st.metadata;
  if (meta.format === undefined) {
    const tensors: TensorMap = new Map();
    for (const [name, a] of st.tensors) tensors.set(name, entryOf(a));
    return { format: 'state-dict', container: 'safetensors', tensors, metadata: { ...meta } };
  }
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      `unsupported checkpoint format '${meta.format}' (this version reads ${CHECKPOINT_FORMAT})`,
    );
  }
  const kind = meta.kind;
  if (kind === undefined || !KINDS.includes(kind)) {
    throw new CheckpointError(
      `checkpoint kind '${String(kind)}' is not one of ${KINDS.join(', ')}`,
    );
  }
  const initKwargs =
    meta.init_kwargs === undefined ? undefined : parseJson(meta.init_kwargs, 'init_kwargs');
  if (initKwargs !== undefined && !isJsonObject(initKwargs)) {
    throw new CheckpointError('init_kwargs metadata is not a JSON object');
  }
  const maps = { net: new Map(), ema: new Map(), optimizer: new Map() } as Record<
    keyof typeof PREFIXES,
    TensorMap
  >;
  for (const [name, a] of st.tensors) {
    const part = (Object.keys(PREFIXES) as (keyof typeof PREFIXES)[]).find((p) =>
      name.startsWith(PREFIXES[p]),
    );
    if (!part)
      throw new CheckpointError(`tensor '${name}' has none of the net./ema./opt. prefixes`);
    maps[part].set(name.slice(PREFIXES[part].length), entryOf(a));
  }
  const net = maps.net.size > 0 || kind === 'training-state' ? maps.net : undefined;
  const ema = maps.ema.size > 0 ? maps.ema : undefined;
  const tensors = ema ?? net;
  if (!tensors) throw new CheckpointError('checkpoint holds no net. or ema. tensors');
  const out: Checkpoint = {
    format: kind as CheckpointKind,
    container: 'safetensors',
    tensors,
    ...(net && { net }),
    ...(ema && { ema }),
    ...(initKwargs && { initKwargs }),
  };
  if (maps.optimizer.size > 0 || meta.optimizer !== undefined) {
    const opt = meta.optimizer === undefined ? {} : parseJson(meta.optimizer, 'optimizer');
    const groups = isJsonObject(opt) ? opt.param_groups : undefined;
    if (groups !== undefined && (!Array.isArray(groups) || !groups.every(isJsonObject))) {
      throw new CheckpointError('optimizer metadata: param_groups is not a list of objects');
    }
    out.optimizer = { tensors: maps.optimizer, paramGroups: (groups as JsonObject[]) ?? [] };
  }
  if (meta.class_name !== undefined) out.className = meta.class_name;
  const int = (key: 'step' | 'kimg') => {
    const v = meta[key];
    if (v === undefined) return undefined;
    if (!/^\d{1,15}$/.test(v)) throw new CheckpointError(`metadata ${key} '${v}' is not a count`);
    return Number(v);
  };
  const step = int('step');
  const kimg = int('kimg');
  if (step !== undefined) out.step = step;
  if (kimg !== undefined) out.kimg = kimg;
  if (meta.rng !== undefined) out.rng = parseJson(meta.rng, 'rng');
  const rest = Object.entries(meta).filter(([k]) => !RESERVED.includes(k));
  if (rest.length > 0) out.metadata = Object.fromEntries(rest);
  return out;
}
