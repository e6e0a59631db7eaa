/**
 * The official weight initialisations (SPEC 5.1), drawn from the project's Philox streams on
 * the GPU. For a tensor with fan_in, fan_out (Linear: in, out; conv k x k: in*k^2, out*k^2):
 * xavier_uniform U(-1,1)*sqrt(6/(fan_in+fan_out)), xavier_normal N(0,1)*sqrt(2/(fan_in+fan_out)),
 * kaiming_uniform U(-1,1)*sqrt(3/fan_in), kaiming_normal N(0,1)*sqrt(1/fan_in), times a gain
 * (init_weight or init_bias; 0 gives exact zeros).
 */
import { affine, full, rand, randn, type Tensor, tensor } from '@pfgmpp/tensor';
import { NnError } from './errors.ts';

export type InitMode = 'xavier_uniform' | 'xavier_normal' | 'kaiming_uniform' | 'kaiming_normal';
export const INIT_MODES: readonly InitMode[] = [
  'xavier_uniform',
  'xavier_normal',
  'kaiming_uniform',
  'kaiming_normal',
];

export type InitSpec =
  | { kind: 'fan'; mode: InitMode; fanIn: number; fanOut: number; gain: number }
  | { kind: 'const'; value: number }
  | { kind: 'normal'; std: number }
  | { kind: 'data'; values: Float32Array };

/** Layer init keywords as EDM spells them: init_mode, init_weight, init_bias. */
export interface InitKwargs {
  mode?: InitMode;
  weight?: number;
  bias?: number;
}

export function fanInit(mode: InitMode, fanIn: number, fanOut: number, gain: number): InitSpec {
  if (!INIT_MODES.includes(mode)) {
    throw new NnError(`unknown init mode ${String(mode)}; valid: ${INIT_MODES.join(', ')}`);
  }
  return { kind: 'fan', mode, fanIn, fanOut, gain };
}

/** Scale of the unit sample (U(-1,1) or N(0,1)) for a mode. */
export function fanScale(mode: InitMode, fanIn: number, fanOut: number): number {
  switch (mode) {
    case 'xavier_uniform':
      return Math.sqrt(6 / (fanIn + fanOut));
    case 'xavier_normal':
      return Math.sqrt(2 / (fanIn + fanOut));
    case 'kaiming_uniform':
      return Math.sqrt(3 / fanIn);
    case 'kaiming_normal':
      return Math.sqrt(1 / fanIn);
  }
}

/** Materialises one slot from Philox stream `stream` of `seed`. */
export function initTensor(
  shape: readonly number[],
  spec: InitSpec,
  seed: number,
  stream: number,
): Tensor {
  switch (spec.kind) {
    case 'const':
      return full(shape, spec.value);
    case 'data':
      return tensor(spec.values, [...shape]);
    case 'normal': {
      const z = randn(shape, { seed, stream });
      const t = affine(z, spec.std, 0);
      z.dispose();
      return t;
    }
    case 'fan': {
      if (spec.gain === 0) return full(shape, 0);
      const s = fanScale(spec.mode, spec.fanIn, spec.fanOut) * spec.gain;
      if (spec.mode.endsWith('normal')) {
        const z = randn(shape, { seed, stream });
        const t = affine(z, s, 0);
        z.dispose();
        return t;
      }
      const u = rand(shape, { seed, stream });
      const t = affine(u, 2 * s, -s); // U(0,1) -> U(-s, s)
      u.dispose();
      return t;
    }
  }
}
