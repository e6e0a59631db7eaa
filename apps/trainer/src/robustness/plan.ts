/**
 * What `pfgmpp robustness` runs: the D values, the three sweeps of the PFGM++ paper's robustness
 * experiments (alpha perturbation, fewer steps, weight quantization), the training budget and
 * the seed ranges. Bad lists are refused here, before anything is trained.
 */
import { UsageError } from '../cli.ts';

/** One sampling setting; the baseline is alpha 0, 18 steps, float32 weights. */
export interface Setting {
  alpha: number;
  steps: number;
  /** Weight bits of the fake quantization; undefined = float32 weights. */
  bits?: number;
}

export type Axis = 'alpha' | 'nfe' | 'bits';

export interface Plan {
  D: number[];
  alphas: number[];
  steps: number[];
  bits: number[];
  /** Images of one seed range; every point is measured on `ranges` disjoint ranges. */
  samples: number;
  ranges: number;
  /** Training budget per model, thousands of images. */
  kimg: number;
  quick: boolean;
}

export const DEFAULTS = {
  D: [64, 128, 2048, Number.POSITIVE_INFINITY],
  alphas: [0, 0.05, 0.1, 0.2, 0.3],
  steps: [2, 3, 4, 6, 9, 18],
  bits: [16, 8, 6, 5, 4, 3],
};
/** --quick: the ends and a middle of each sweep. */
const QUICK = { alphas: [0, 0.1, 0.3], steps: [2, 4, 9], bits: [8, 4] };
export const BASELINE: Setting = { alpha: 0, steps: 18 };
/** The least the measure needs: a 64-d Frechet distance wants well over 64 real digits. */
export const MIN_HELD_OUT = 200;

export const nfe = (steps: number) => 2 * steps - 1;
export const formatD = (D: number) => (Number.isFinite(D) ? String(D) : 'inf');

/** "a,b,c" parsed value by value; an empty list or a repeated value is refused. */
function list(text: string, option: string, parse: (s: string) => number): number[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (!parts.length) throw new UsageError(`option --${option} is an empty list`);
  const values = parts.map(parse);
  if (new Set(values).size !== values.length)
    throw new UsageError(`option --${option} lists a value twice: '${text}'`);
  return values;
}

function parseDValue(s: string): number {
  if (s === 'inf') return Number.POSITIVE_INFINITY;
  const D = Number(s);
  if (!Number.isInteger(D) || D < 2)
    throw new UsageError(`option --D: unknown D '${s}' (an integer >= 2, or inf)`);
  return D;
}

const numberIn =
  (option: string, lo: number, hi: number, integer: boolean, what: string) => (s: string) => {
    const v = Number(s);
    if (!Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v)))
      throw new UsageError(`option --${option}: '${s}' is not ${what}`);
    return v;
  };

export interface PlanInput {
  D?: string;
  alphas?: string;
  steps?: string;
  bits?: string;
  samples?: number;
  ranges?: number;
  kimg?: number;
  quick?: boolean;
}

/** The plan from the command line; --quick: two D values, a tiny budget, few samples. */
export function makePlan(v: PlanInput): Plan {
  const quick = v.quick === true;
  const D =
    v.D === undefined
      ? quick
        ? [64, Number.POSITIVE_INFINITY]
        : DEFAULTS.D
      : list(v.D, 'D', parseDValue);
  const alphas =
    v.alphas === undefined
      ? (quick ? QUICK : DEFAULTS).alphas
      : list(v.alphas, 'alphas', numberIn('alphas', 0, 10, false, 'an alpha in [0, 10]'));
  const steps =
    v.steps === undefined
      ? (quick ? QUICK : DEFAULTS).steps
      : list(v.steps, 'steps', numberIn('steps', 2, 1000, true, 'a step count >= 2'));
  const bits =
    v.bits === undefined
      ? (quick ? QUICK : DEFAULTS).bits
      : list(v.bits, 'bits', numberIn('bits', 2, 24, true, 'a bit width in 2..24'));
  const samples = v.samples ?? (quick ? 16 : 256);
  if (!(Number.isInteger(samples) && samples >= 2))
    throw new UsageError(`option --samples must be an integer >= 2; got ${samples}`);
  const ranges = v.ranges ?? 3;
  if (!(Number.isInteger(ranges) && ranges >= 3))
    throw new UsageError(
      `option --ranges must be an integer >= 3 (a spread needs several seed ranges); got ${ranges}`,
    );
  const kimg = v.kimg ?? (quick ? 0.256 : 96);
  if (!(kimg > 0)) throw new UsageError(`option --kimg must be > 0; got ${kimg}`);
  return { D, alphas, steps, bits, samples, ranges, kimg, quick };
}

/** Every setting sampled for one model: the baseline once, then each sweep's other values. */
export function settingsOf(plan: Plan): Setting[] {
  const out: Setting[] = [BASELINE];
  const same = (a: Setting, b: Setting) =>
    a.alpha === b.alpha && a.steps === b.steps && a.bits === b.bits;
  const add = (s: Setting) => {
    if (!out.some((o) => same(o, s))) out.push(s);
  };
  for (const alpha of plan.alphas) add({ ...BASELINE, alpha });
  for (const steps of plan.steps) add({ ...BASELINE, steps });
  for (const bits of plan.bits) add({ ...BASELINE, bits });
  return out;
}

/** The file-name key of a setting, e.g. alpha0.1-steps18-fp32. */
export const settingKey = (s: Setting) =>
  `alpha${s.alpha}-steps${s.steps}-${s.bits === undefined ? 'fp32' : `bits${s.bits}`}`;

/** Seeds of range k: [k n, (k + 1) n). */
export const rangeSeeds = (k: number, n: number) => Array.from({ length: n }, (_, i) => k * n + i);
