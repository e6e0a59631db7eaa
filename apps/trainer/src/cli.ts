/**
 * A small command-line option parser (no dependency) that accepts what the original click
 * programs accept: `--name value` and `--name=value`, BOOL options as click spells them (1/0,
 * true/false, t/f, yes/no, y/n, on/off; a BOOL alone means true), short names (`-n`),
 * integers, choices, required options and `--help`. Mistakes raise a UsageError with a one-line
 * message, which the CLI prints and exits with status 2.
 */

/** A mistake in the command line (exit status 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptionSpec {
  /** Long name without dashes: 'max-images' is `--max-images`. */
  name: string;
  /** 'flag' is click's BOOL: `--x`, `--x=1`, `--x 0`, `--x=yes`, ... (a boolean in the values). */
  kind: 'string' | 'int' | 'float' | 'flag';
  /** One-letter alias: 'n' is `-n`. */
  short?: string;
  /** Placeholder shown in help, e.g. PATH. */
  value?: string;
  help: string;
  required?: boolean;
  choices?: readonly string[];
}

export type OptionValues = Record<string, string | number | boolean | undefined>;

export interface Parsed {
  help: boolean;
  values: OptionValues;
  /** Arguments that are not options (only where the command takes them). */
  positional: string[];
}

/** Edit distance, to suggest the option a typo meant. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] as number) + 1, (cur[j - 1] as number) + 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

function suggest(name: string, specs: readonly OptionSpec[]): string {
  const best = specs.map((s) => ({ s, d: distance(name, s.name) })).sort((x, y) => x.d - y.d)[0];
  return best && (best.d <= 2 || best.s.name.startsWith(name))
    ? ` (did you mean --${best.s.name}?)`
    : '';
}

/** click's BOOL spellings (case-insensitive). */
const TRUE_WORDS = ['1', 'true', 't', 'yes', 'y', 'on'];
const FALSE_WORDS = ['0', 'false', 'f', 'no', 'n', 'off'];

/** true/false for a click BOOL spelling, undefined for anything else. */
export function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (TRUE_WORDS.includes(t)) return true;
  if (FALSE_WORDS.includes(t)) return false;
  return undefined;
}

export function parseOptions(
  args: readonly string[],
  specs: readonly OptionSpec[],
  allowPositional = false,
): Parsed {
  if (args.some((a) => a === '--help' || a === '-h'))
    return { help: true, values: {}, positional: [] };
  const values: OptionValues = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('-') || arg === '-') {
      if (!allowPositional) throw new UsageError(`unexpected argument '${arg}'`);
      positional.push(arg);
      continue;
    }
    const long = arg.startsWith('--');
    const eq = arg.indexOf('=');
    const name = arg.slice(long ? 2 : 1, eq < 0 ? undefined : eq);
    const spec = long ? specs.find((s) => s.name === name) : specs.find((s) => s.short === name);
    if (!spec) throw new UsageError(`unknown option '${arg.split('=')[0]}'${suggest(name, specs)}`);
    // Given twice, the last value wins, as in click.
    if (spec.kind === 'flag') {
      // A BOOL takes a value only when one is spelled out: `--x=V`, or `--x V` with V a BOOL word.
      const text = eq >= 0 ? arg.slice(eq + 1) : args[i + 1];
      const value = text === undefined ? undefined : parseBool(text);
      if (eq >= 0 && value === undefined) {
        throw new UsageError(
          `option --${spec.name} is a BOOL (1/0, true/false, yes/no, on/off); got '${text}'`,
        );
      }
      if (eq < 0 && value !== undefined) i++;
      values[spec.name] = value ?? true;
      continue;
    }
    let text: string | undefined;
    if (eq >= 0) text = arg.slice(eq + 1);
    else {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) {
        throw new UsageError(
          `option --${spec.name} needs a value${spec.value ? ` (${spec.value})` : ''}`,
        );
      }
      text = next;
      i++;
    }
    if (text === '') throw new UsageError(`option --${spec.name} needs a non-empty value`);
    if (spec.choices && !spec.choices.includes(text)) {
      throw new UsageError(
        `option --${spec.name} must be one of ${spec.choices.join(', ')}; got '${text}'`,
      );
    }
    if (spec.kind === 'int') {
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
        throw new UsageError(`option --${spec.name} must be a non-negative integer; got '${text}'`);
      }
      values[spec.name] = Number(text);
    } else if (spec.kind === 'float') {
      const v = Number(text);
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) || !Number.isFinite(v)) {
        throw new UsageError(`option --${spec.name} must be a number; got '${text}'`);
      }
      values[spec.name] = v;
    } else values[spec.name] = text;
  }
  for (const s of specs) {
    if (s.required && values[s.name] === undefined) {
      throw new UsageError(`missing required option --${s.name}`);
    }
  }
  return { help: false, values, positional };
}

/** The options block of a help text, names and descriptions in two columns. */
export function formatOptions(specs: readonly OptionSpec[]): string {
  const left = specs.map(
    (s) =>
      `  ${s.short ? `-${s.short}, ` : ''}--${s.name}${s.kind === 'flag' ? '[=BOOL]' : s.value ? ` ${s.value}` : ''}`,
  );
  const width = Math.max(...left.map((l) => l.length), 12) + 2;
  return specs
    .map((s, i) => {
      const req = s.required ? ' (required)' : '';
      return `${(left[i] as string).padEnd(width)}${s.help}${req}`;
    })
    .concat(`${'  --help'.padEnd(width)}show this help`)
    .join('\n');
}
