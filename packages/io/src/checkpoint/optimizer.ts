/**
 * Adam's `state_dict()` by parameter name. The file keys Adam's state by parameter index: the
 * position in the concatenated `params` lists of the param groups, which train.py fills from
 * `net.parameters()` (named_parameters order: no buffers, shared parameters once).
 */
import { CheckpointError } from '../errors.ts';
import { PyObject } from '../pickle/types.ts';
import { describe } from '../pickle/vm.ts';
import { moduleTensors, type StateDictEntry, TensorCopies } from '../torch/state-dict.ts';
import { TorchTensor } from '../torch/tensor.ts';
import { isJsonObject, type JsonObject, pyToJson, setOwn } from './json.ts';
import type { OptimizerState, TensorMap } from './types.ts';

function scalar(v: number): StateDictEntry {
  const data = Float32Array.of(v);
  return { dtype: 'float32', shape: [], data, original: { dtype: 'float32', shape: [], data } };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * `value` is the unpickled `optimizer_state`; `net` the pickled training network; `copies` the
 * copy budget shared with the networks of the same file.
 */
export function adamState(
  value: unknown,
  net: unknown,
  copies: TensorCopies = new TensorCopies(),
): OptimizerState {
  if (!(value instanceof Map)) {
    throw new CheckpointError(`optimizer_state is a ${describe(value)}, not a dict`);
  }
  const state = value.get('state');
  const groups = value.get('param_groups');
  if (!(state instanceof Map) || !Array.isArray(groups)) {
    throw new CheckpointError("optimizer_state needs a 'state' dict and a 'param_groups' list");
  }
  if (!(net instanceof PyObject)) {
    throw new CheckpointError(
      `optimizer_state cannot be matched to parameters: 'net' is a ${describe(net)}, not a pickled network`,
    );
  }
  const params = [...moduleTensors(net, 'parameters')];
  const ids: number[][] = groups.map((g, i) => {
    const list = g instanceof Map ? g.get('params') : undefined;
    if (!Array.isArray(list) || list.some((x) => !Number.isSafeInteger(x))) {
      throw new CheckpointError(`optimizer param_groups[${i}] has no list of parameter indices`);
    }
    return list as number[];
  });
  const total = ids.reduce((s, l) => s + l.length, 0);
  if (total !== params.length) {
    throw new CheckpointError(
      `optimizer_state lists ${total} parameters but the network has ${params.length}`,
    );
  }
  const byId = new Map<number, [string, TorchTensor]>();
  let k = 0;
  for (const list of ids) {
    for (const id of list) {
      if (byId.has(id))
        throw new CheckpointError(`optimizer parameter index ${id} is listed twice`);
      byId.set(id, params[k++] as [string, TorchTensor]);
    }
  }
  for (const id of state.keys()) {
    if (typeof id !== 'number' || !byId.has(id)) {
      throw new CheckpointError(`optimizer state for index ${String(id)}, which no group lists`);
    }
  }
  const tensors: TensorMap = new Map();
  for (const [id, [name, param]] of byId) {
    const st = state.get(id);
    if (st === undefined) continue; // never had a gradient
    if (!(st instanceof Map)) {
      throw new CheckpointError(`optimizer state of '${name}' is a ${describe(st)}, not a dict`);
    }
    for (const [key, v] of st) {
      const full = `${name}.${String(key)}`;
      if (typeof v === 'number') tensors.set(full, scalar(v));
      else if (v instanceof TorchTensor) {
        if (key !== 'step' && !sameShape(v.shape, param.shape)) {
          throw new CheckpointError(
            `optimizer ${String(key)} of '${name}' has shape [${v.shape}], the parameter [${param.shape}]`,
          );
        }
        tensors.set(full, copies.entry(v, full));
      }
    }
  }
  const budget = { nodes: 0 };
  const paramGroups = groups.map((g, i) => {
    const o = pyToJson(g, `optimizer param_groups[${i}]`, budget);
    if (!isJsonObject(o)) throw new CheckpointError(`optimizer param_groups[${i}] is not a dict`);
    setOwn(
      o,
      'params',
      (ids[i] as number[]).map((id) => (byId.get(id) as [string, TorchTensor])[0]),
    );
    return o as JsonObject;
  });
  return { tensors, paramGroups };
}
