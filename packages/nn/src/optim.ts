/**
 * Adam (PyTorch's formula, betas 0.9/0.999, eps 1e-8, no weight decay) and EDM's EMA with
 * half-life and ramp-up (SPEC 7.2), both as fused in-place GPU kernels (adam.wgsl, ema.wgsl), one
 * dispatch per parameter tensor inside one command batch.
 */
import { adamStep, emaUpdate, full, keep, noGrad, type Tensor, tensor } from '@pfgmpp/tensor';
import { NnError } from './errors.ts';
import type { Module, Slot, StateDict, TensorData } from './module.ts';

export interface AdamConfig {
  betas?: readonly [number, number];
  eps?: number;
}

export class Adam {
  readonly params: [string, Slot][];
  readonly betas: readonly [number, number];
  readonly eps: number;
  /** Optimizer steps taken (PyTorch's per-parameter `step`, equal for all here). */
  stepCount = 0;
  private readonly m = new Map<string, Tensor>();
  private readonly v = new Map<string, Tensor>();

  constructor(module: Module, config: AdamConfig = {}) {
    this.params = [...module.namedParameters()];
    this.betas = config.betas ?? [0.9, 0.999];
    this.eps = config.eps ?? 1e-8;
  }

  private moments(name: string, slot: Slot): [Tensor, Tensor] {
    let m = this.m.get(name);
    let v = this.v.get(name);
    if (!m || !v) {
      m = keep(full(slot.shape, 0));
      v = keep(full(slot.shape, 0));
      this.m.set(name, m);
      this.v.set(name, v);
    }
    return [m, v];
  }

  /**
   * One step with learning rate `lr` over every parameter that has a gradient, then frees
   * the gradients. `sanitize` replaces NaN by 0 and +-inf by +-1e5 first (EDM's loop).
   */
  step(lr: number, sanitize = true): void {
    if (!(lr >= 0)) throw new NnError(`Adam: learning rate must be >= 0, got ${lr}`);
    this.stepCount++;
    noGrad(() => {
      for (const [name, slot] of this.params) {
        const p = slot.tensor;
        if (!p.grad) continue;
        const [m, v] = this.moments(name, slot);
        adamStep(p, p.grad, m, v, {
          lr,
          beta1: this.betas[0],
          beta2: this.betas[1],
          eps: this.eps,
          step: this.stepCount,
          sanitize,
        });
      }
    });
    this.zeroGrad();
  }

  zeroGrad(): void {
    for (const [, slot] of this.params) {
      const p = slot.value;
      if (p?.grad) {
        p.grad.dispose();
        p.grad = null;
      }
    }
  }

  /**
   * `<param>.exp_avg`, `<param>.exp_avg_sq` and the 0-d `<param>.step`: the names `readCheckpoint`
   * gives official states, so a resumed run knows Adam's own step count.
   */
  async state(): Promise<StateDict> {
    const out: StateDict = new Map();
    for (const [name, slot] of this.params) {
      const m = this.m.get(name);
      const v = this.v.get(name);
      if (!m || !v) continue;
      out.set(`${name}.step`, { shape: [], data: Float32Array.of(this.stepCount) });
      out.set(`${name}.exp_avg`, { shape: slot.shape, data: await m.read() });
      out.set(`${name}.exp_avg_sq`, { shape: slot.shape, data: await v.read() });
    }
    return out;
  }

  /**
   * Restores moments saved by `state()` (or an official optimizer state) and the step count:
   * Adam's own `<param>.step` when stored; 0 for a state without moments (a fresh
   * `torch.optim.Adam`, whose first step is step 1 whatever the image count); otherwise
   * `fallbackSteps` (states that kept moments but no step).
   */
  loadState(tensors: ReadonlyMap<string, TensorData>, fallbackSteps: number): void {
    this.dispose();
    let stored: number | undefined;
    for (const [name, slot] of this.params) {
      const step = tensors.get(`${name}.step`)?.data[0];
      // PyTorch counts per parameter; one count serves all here, the largest.
      if (step !== undefined) stored = Math.max(stored ?? 0, step);
      const m = tensors.get(`${name}.exp_avg`);
      const v = tensors.get(`${name}.exp_avg_sq`);
      if (!m || !v) continue;
      if (m.data.length !== slot.size || v.data.length !== slot.size) {
        throw new NnError(
          `optimizer state for ${name} does not fit shape [${slot.shape.join(', ')}]`,
        );
      }
      this.m.set(name, keep(tensor(m.data, [...slot.shape])));
      this.v.set(name, keep(tensor(v.data, [...slot.shape])));
    }
    if (stored !== undefined && !(Number.isSafeInteger(stored) && stored >= 0))
      throw new NnError(`optimizer state: Adam's step ${stored} is not a count`);
    this.stepCount = stored ?? (this.m.size > 0 ? fallbackSteps : 0);
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

export interface EmaSchedule {
  /** Images per optimizer step. */
  batch: number;
  /** Images seen before this step (cur_nimg). */
  nimg: number;
  /** EMA half-life in kimg (`--ema` Mimg * 1000). */
  halfLifeKimg: number;
  /** Ramp-up ratio (0.05; null turns ramp-up off, as `--transfer` does). */
  rampup?: number | null;
}

/** beta = 0.5^(batch / max(h, 1e-8)), h = min(half-life images, nimg * rampup). */
export function emaBeta(s: EmaSchedule): number {
  let h = s.halfLifeKimg * 1000;
  const rampup = s.rampup === undefined ? 0.05 : s.rampup;
  if (rampup !== null) h = Math.min(h, s.nimg * rampup);
  return 0.5 ** (s.batch / Math.max(h, 1e-8));
}

/** p_ema <- beta p_ema + (1 - beta) p for every parameter (buffers are not averaged). */
export function updateEma(ema: Module, net: Module, beta: number): void {
  const src = new Map(net.namedParameters());
  noGrad(() => {
    for (const [name, slot] of ema.namedParameters()) {
      const p = src.get(name);
      if (!p) throw new NnError(`EMA: the network has no parameter ${name}`);
      emaUpdate(slot.tensor, p.tensor, beta);
    }
  });
}
