/**
 * The robustness experiments of the PFGM++ paper as library functions (SPEC 1.4, 6.4):
 * alpha perturbation (EdmSamplerConfig.alpha, swept here), step sweeps, and post-training weight
 * quantization with the official parameter selection rule.
 */
import type { Denoiser } from './denoiser.ts';
import { type EdmSamplerConfig, edmSampler, type SampleOptions } from './edm-sampler.ts';

export const ALPHA_SWEEP = [0, 0.1, 0.2] as const;
export const STEP_SWEEP = [10, 12, 14, 16, 18, 20, 22, 24] as const;
export const QUANT_BITS = [5, 6, 7, 8, 9] as const;

/** Samples the same latents once per value of `key` (alpha or numSteps). */
async function sweep(
  key: 'alpha' | 'numSteps',
  values: readonly number[],
  net: Denoiser,
  latents: Float64Array,
  shape: readonly number[],
  config: Partial<EdmSamplerConfig>,
  options: SampleOptions,
): Promise<Map<number, Float64Array>> {
  const out = new Map<number, Float64Array>();
  for (const v of values)
    out.set(v, await edmSampler(net, latents, shape, { ...config, [key]: v }, options));
  return out;
}

/** generate_alpha.py: x_i += alpha t_i eps at every step, for each alpha (eps per seed). */
export const alphaSweep = (
  net: Denoiser,
  latents: Float64Array,
  shape: readonly number[],
  config: Partial<EdmSamplerConfig>,
  options: SampleOptions,
  alphas: readonly number[] = ALPHA_SWEEP,
) => sweep('alpha', alphas, net, latents, shape, config, options);

/** generate_steps.py: the same latents sampled with each number of steps (NFE = 2 steps - 1). */
export const stepSweep = (
  net: Denoiser,
  latents: Float64Array,
  shape: readonly number[],
  config: Partial<EdmSamplerConfig>,
  options: SampleOptions,
  steps: readonly number[] = STEP_SWEEP,
) => sweep('numSteps', steps, net, latents, shape, config, options);

/**
 * generate_quant.py's selection: parameters whose dotted name contains 'weight' and none of
 * 'norm', 'affine', 'map', '32'. ('32' is resolution-dependent, SPEC 13.9: for 32x32 models it
 * keeps the whole first level and the output head in float.)
 */
export function isQuantized(name: string): boolean {
  return name.includes('weight') && !['norm', 'affine', 'map', '32'].some((s) => name.includes(s));
}

const f = Math.fround;

/** Round half to even in float32 (torch.round). */
function roundEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Per-tensor min-max fake quantization with `bits` bits, in float32 arithmetic as torch does it:
 * scale = (max - min) / (2^b - 1), z0 = trunc(clamp(-min / scale, 0, 2^b - 1)),
 * q = round(clamp(z0 + W / scale, 0, 2^b - 1)), W' = scale (q - z0). A constant tensor
 * (scale 0, NaN in the official code) is returned unchanged.
 */
export function fakeQuantize(w: Float32Array, bits: number): Float32Array {
  if (!(Number.isInteger(bits) && bits >= 1 && bits <= 24))
    throw new RangeError(`fakeQuantize: bits must be an integer in [1, 24], got ${bits}`);
  const qmax = 2 ** bits - 1;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of w) {
    if (Number.isNaN(v)) throw new RangeError('fakeQuantize: tensor holds NaN');
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const scale = f(f(hi - lo) / qmax);
  if (w.length === 0 || !(scale > 0) || !Number.isFinite(scale)) return w.slice();
  const z0 = Math.trunc(Math.min(Math.max(f(0 - f(lo / scale)), 0), qmax));
  return w.map((v) => {
    const q = roundEven(Math.min(Math.max(f(z0 + f(v / scale)), 0), qmax));
    return f(scale * (q - z0));
  });
}

/** A state-dict entry: float32 values and the tensor shape. */
export interface StateEntry {
  data: Float32Array;
  shape: readonly number[];
}

/**
 * A copy of `state` with every selected weight fake-quantized to `bits` (others shared, not
 * copied), and the names that were quantized, in order.
 */
export function quantizeState(
  state: ReadonlyMap<string, StateEntry>,
  bits: number,
  select: (name: string) => boolean = isQuantized,
): { state: Map<string, StateEntry>; quantized: string[] } {
  const out = new Map<string, StateEntry>();
  const quantized: string[] = [];
  for (const [name, e] of state) {
    if (select(name)) {
      out.set(name, { data: fakeQuantize(e.data, bits), shape: e.shape });
      quantized.push(name);
    } else out.set(name, e);
  }
  return { state: out, quantized };
}
