/** What `readCheckpoint` returns for every checkpoint kind it reads (official files and ours). */
import type { StateDictEntry } from '../torch/state-dict.ts';
import type { Json, JsonObject } from './json.ts';

/** Dotted tensor name -> stored dtype, shape and float32 values (`original` keeps the dtype). */
export type TensorMap = Map<string, StateDictEntry>;

/**
 * - `training-state`: a dict with `net` (and optionally `ema`, `optimizer_state`, `step`), as
 *   EDM's and PFGM++'s `training-state-*.pt`, PFGM++'s published `.pkl`, or ours;
 * - `network-snapshot`: a dict whose network is `ema` (EDM `network-snapshot-*.pkl`, or ours);
 * - `module`: a pickled network on its own (`torch.save(net)`);
 * - `state-dict`: tensors by name only (`torch.save(net.state_dict())`, plain safetensors).
 */
export type CheckpointFormat = 'training-state' | 'network-snapshot' | 'module' | 'state-dict';

export type CheckpointContainer = 'torch-zip' | 'torch-legacy' | 'pickle' | 'safetensors';

/** Adam's state, by parameter name instead of index. */
export interface OptimizerState {
  /**
   * `<param>.exp_avg`, `<param>.exp_avg_sq` and `<param>.step` (0-d), plus any other tensor
   * Adam keeps (`max_exp_avg_sq` with amsgrad). Parameters that never had a gradient have none.
   */
  tensors: TensorMap;
  /** `param_groups` (lr, betas, eps, weight_decay, ...), `params` given as parameter names. */
  paramGroups: JsonObject[];
}

/** The parts a caller can insist on with `require`. */
export type CheckpointPart = 'net' | 'ema' | 'optimizer' | 'initKwargs' | 'step';

export interface Checkpoint {
  format: CheckpointFormat;
  container: CheckpointContainer;
  /** The name given in the options (errors start with it). */
  fileName?: string;
  /**
   * The weights to run: the EMA network when the file has one (what the official generate.py
   * loads), else its only network. The same Map as `ema` or `net` when those are set.
   */
  tensors: TensorMap;
  /** The training network (training states), for resuming. */
  net?: TensorMap;
  /** The EMA network. */
  ema?: TensorMap;
  optimizer?: OptimizerState;
  /**
   * The network's constructor keywords (`_init_kwargs` of the top-level persistent module): the
   * architecture (img_resolution, img_channels, label_dim, model_type, channel_mult, ...).
   */
  initKwargs?: JsonObject;
  /** The top-level module's class, e.g. 'EDMPrecond' (persistent classes keep the bare name). */
  className?: string;
  /** Plain-data attributes of the top-level module (e.g. sigma_max: Infinity, D, N, pfgmpp). */
  attributes?: JsonObject;
  /** Training images seen (cur_nimg): PFGM++'s `step`, ours, or `<kimg> * 1000` from the name. */
  step?: number;
  kimg?: number;
  /** `dataset_kwargs` of an EDM snapshot. */
  datasetKwargs?: JsonObject;
  /** Random-generator state kept by our training states (opaque to this package). */
  rng?: Json;
  /** Other `__metadata__` strings of a safetensors file. */
  metadata?: Record<string, string>;
}
