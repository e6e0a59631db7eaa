/**
 * The sampling settings and their parsing, kept free of DOM and GPU imports so the limits are the
 * same for the form, the `?...` URL parameters and the Node test.
 */

/** Shipped with the trainer; the build puts it next to index.html. */
export const DEFAULT_CHECKPOINT = 'mnist16-pfgmpp-d128.safetensors';
/** The measured robustness result (docs/results.md, `pfgmpp robustness`), shown by the Robustness panel. */
export const ROBUSTNESS_FIGURE = 'robustness-mnist16.png';

/**
 * Above these the page would hold its tab for minutes on a software adapter, for little gain.
 * S_churn past ~100 only saturates gamma at sqrt(2) - 1; alpha of the paper's sweep is 0..0.2;
 * fewer than 2 bits leave a weight tensor with two values, past 16 nothing changes in float32.
 */
export const LIMITS = {
  steps: [2, 256],
  count: [1, 64],
  churn: [0, 100],
  alpha: [0, 1],
  quant: [2, 16],
} as const;

/** The ablation sampler's choices (SPEC 6.5); all four at the first value is the EDM sampler. */
export const CHOICES = {
  solver: ['heun', 'euler'],
  disc: ['edm', 'vp', 've', 'iddpm'],
  schedule: ['linear', 'vp', 've'],
  scaling: ['none', 'vp'],
} as const;

export type Solver = (typeof CHOICES.solver)[number];
export type Discretization = (typeof CHOICES.disc)[number];
export type Schedule = (typeof CHOICES.schedule)[number];
export type Scaling = (typeof CHOICES.scaling)[number];

export interface Settings {
  /** Augmented dimension; Infinity is diffusion; undefined keeps the checkpoint's own. */
  D: number | undefined;
  steps: number;
  seed: number;
  count: number;
  /** Class of every image for conditional networks; undefined draws one per seed. */
  classIdx: number | undefined;
  solver: Solver;
  disc: Discretization;
  schedule: Schedule;
  scaling: Scaling;
  /** Stochasticity of the sampler (EDM's S_churn); 0 = deterministic ODE. */
  churn: number;
  /** Robustness: x += alpha t eps at every step (EDM sampler only); 0 = off. */
  alpha: number;
  /** Robustness: weights fake-quantized to this many bits; undefined = float32 weights. */
  quant: number | undefined;
}

export const DEFAULTS: Settings = {
  D: undefined,
  steps: 18,
  seed: 0,
  count: 8,
  classIdx: undefined,
  solver: 'heun',
  disc: 'edm',
  schedule: 'linear',
  scaling: 'none',
  churn: 0,
  alpha: 0,
  quant: undefined,
};

/** A message for the page: which field, what was given and what is accepted. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

function int(field: string, text: string, lo: number, hi: number): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isInteger(v) || v < lo || v > hi)
    throw new SettingsError(`${field} must be an integer in [${lo}, ${hi}]; got '${text}'`);
  return v;
}

function real(field: string, text: string, lo: number, hi: number): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < lo || v > hi)
    throw new SettingsError(`${field} must be a number in [${lo}, ${hi}]; got '${text}'`);
  return v;
}

function choice<T extends string>(field: string, text: string, options: readonly T[]): T {
  const t = text.trim().toLowerCase() as T;
  if (!options.includes(t))
    throw new SettingsError(`${field} must be one of ${options.join(', ')}; got '${text}'`);
  return t;
}

/** '' keeps the checkpoint's D; 'inf' is diffusion; otherwise an integer >= 2 (PFGM++'s bound). */
export function parseD(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (t === '') return undefined;
  if (t === 'inf' || t === 'infinity') return Number.POSITIVE_INFINITY;
  return int('D', t, 2, 2 ** 31);
}

export const formatD = (D: number): string => (Number.isFinite(D) ? String(D) : 'inf');

/** Settings from text fields (the form or URL parameters); absent fields take the defaults. */
export function parseSettings(get: (name: string) => string | null | undefined): Settings {
  const text = (name: string) => get(name) ?? '';
  const or = <T>(name: string, parse: (t: string) => T, fallback: T): T =>
    text(name).trim() === '' ? fallback : parse(text(name));
  const s: Settings = {
    D: parseD(text('D')),
    steps: or('steps', (t) => int('steps', t, ...LIMITS.steps), DEFAULTS.steps),
    // Seeds are uint32 in the prior and the samplers, as in generate.py.
    seed: or('seed', (t) => int('seed', t, 0, 2 ** 32 - 1), DEFAULTS.seed),
    count: or('count', (t) => int('count', t, ...LIMITS.count), DEFAULTS.count),
    classIdx: or('class', (t) => int('class', t, 0, 2 ** 31), DEFAULTS.classIdx),
    solver: or('solver', (t) => choice('solver', t, CHOICES.solver), DEFAULTS.solver),
    disc: or('disc', (t) => choice('disc', t, CHOICES.disc), DEFAULTS.disc),
    schedule: or('schedule', (t) => choice('schedule', t, CHOICES.schedule), DEFAULTS.schedule),
    scaling: or('scaling', (t) => choice('scaling', t, CHOICES.scaling), DEFAULTS.scaling),
    churn: or('churn', (t) => real('S_churn', t, ...LIMITS.churn), DEFAULTS.churn),
    alpha: or('alpha', (t) => real('alpha', t, ...LIMITS.alpha), DEFAULTS.alpha),
    quant: or('quant', (t) => int('quant bits', t, ...LIMITS.quant), DEFAULTS.quant),
  };
  // As generate.py: the alpha perturbation belongs to the EDM sampler (generate_alpha.py).
  if (s.alpha > 0 && usesAblation(s))
    throw new SettingsError(
      'alpha works with the EDM sampler only: set solver heun, disc edm, schedule linear, scaling none, or alpha 0',
    );
  return s;
}

/** True when any ablation choice differs from EDM's, which then needs the ablation sampler. */
export function usesAblation(s: Settings): boolean {
  return (
    s.solver !== DEFAULTS.solver ||
    s.disc !== DEFAULTS.disc ||
    s.schedule !== DEFAULTS.schedule ||
    s.scaling !== DEFAULTS.scaling
  );
}

/** Network evaluations of one run: Heun 2 steps - 1 (one call on the last step), Euler one per step. */
export const evaluations = (s: Settings): number =>
  s.solver === 'euler' ? s.steps : 2 * s.steps - 1;

/** Seeds seed, seed + 1, ..., as `--seeds a-b` of the command line. */
export function seedList(s: Settings): number[] {
  if (s.seed + s.count > 2 ** 32)
    throw new SettingsError(`seeds ${s.seed}..${s.seed + s.count - 1} pass 2^32 - 1`);
  return Array.from({ length: s.count }, (_, i) => s.seed + i);
}

/** The form fields that URL parameters can prefill, by name. */
export const FIELDS = [
  'D',
  'steps',
  'seed',
  'count',
  'class',
  'solver',
  'disc',
  'schedule',
  'scaling',
  'churn',
  'alpha',
  'quant',
] as const;
