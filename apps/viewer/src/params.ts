/**
 * The sampling settings and their parsing, kept free of DOM and GPU imports so the limits are the
 * same for the form, the `?...` URL parameters and the Node test.
 */

/** Shipped with the trainer; the build puts it next to index.html. */
export const DEFAULT_CHECKPOINT = 'mnist16-pfgmpp-d128.safetensors';

/** Above these the page would hold its tab for minutes on a software adapter, for little gain. */
export const LIMITS = { steps: [2, 256], count: [1, 64] } as const;

export interface Settings {
  /** Augmented dimension; Infinity is diffusion; undefined keeps the checkpoint's own. */
  D: number | undefined;
  steps: number;
  seed: number;
  count: number;
  /** Class of every image for conditional networks; undefined draws one per seed. */
  classIdx: number | undefined;
}

export const DEFAULTS: Settings = {
  D: undefined,
  steps: 18,
  seed: 0,
  count: 8,
  classIdx: undefined,
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
  return {
    D: parseD(text('D')),
    steps: or('steps', (t) => int('steps', t, ...LIMITS.steps), DEFAULTS.steps),
    // Seeds are uint32 in the prior and the samplers, as in generate.py.
    seed: or('seed', (t) => int('seed', t, 0, 2 ** 32 - 1), DEFAULTS.seed),
    count: or('count', (t) => int('count', t, ...LIMITS.count), DEFAULTS.count),
    classIdx: or('class', (t) => int('class', t, 0, 2 ** 31), DEFAULTS.classIdx),
  };
}

/** Seeds seed, seed + 1, ..., as `--seeds a-b` of the command line. */
export function seedList(s: Settings): number[] {
  if (s.seed + s.count > 2 ** 32)
    throw new SettingsError(`seeds ${s.seed}..${s.seed + s.count - 1} pass 2^32 - 1`);
  return Array.from({ length: s.count }, (_, i) => s.seed + i);
}
