/**
 * `fid calc` over a PFGM++ experiment folder, as PFGM++'s fid.py: the `ckpt_*` folders that
 * generate.py (and generate_steps/alpha/quant.py) write are globbed by `--gen_seed` and the
 * suffix flags, and each matching folder gets one FID. The selection is pure (names in, names
 * out) so it is tested without a GPU or a file system.
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';

export interface RunSelection {
  /** 1: seeds 0-49999 (`ckpt_*`), 2: 50000-99999 (`ckpt_2_*`), 3: 100000-149999 (`ckpt_3_*`). */
  genSeed: number;
  steps: boolean;
  alpha: boolean;
  prune: boolean;
  quant: boolean;
  /** The kimg window (inclusive), applied only when no suffix flag is set. */
  ckpt: number;
  endCkpt: number;
}

export const DEFAULT_SELECTION: RunSelection = {
  genSeed: 1,
  steps: false,
  alpha: false,
  prune: false,
  quant: false,
  ckpt: 0,
  endCkpt: 1000000,
};

/**
 * fid.py's glob for these flags. Its if/elif order is kept: with seed set 1 the first set flag
 * of steps, alpha, prune, quant wins; set 2 only knows prune and quant; set 3 none. Two of its
 * defects are not copied (SPEC 13.10): its alpha glob `_alpha_0.[0-9]*` misses generate_alpha's
 * `_alpha_0` folder (here `_alpha_0*`), and seed set 1's `ckpt_[0-9]*` also takes the
 * `ckpt_2_`/`ckpt_3_` folders of the other seed ranges (left out in selectRunFolders).
 */
export function runGlob(s: RunSelection): string {
  if (s.genSeed === 1) {
    if (s.steps) return 'ckpt_[0-9]*_steps_[0-9]*';
    if (s.alpha) return 'ckpt_[0-9]*_alpha_0*';
    if (s.prune) return 'ckpt_[0-9]*_prune_0.[0-9]*';
    if (s.quant) return 'ckpt_[0-9]*_quant_[0-9]*';
    return 'ckpt_[0-9]*';
  }
  if (s.genSeed === 2) {
    if (s.prune) return 'ckpt_2_[0-9]*_prune_0.[0-9]*';
    if (s.quant) return 'ckpt_2_[0-9]*_quant_[0-9]*';
    return 'ckpt_2_*';
  }
  if (s.genSeed === 3) return 'ckpt_3_*';
  throw new RangeError(`gen_seed must be 1, 2 or 3; got ${s.genSeed}`);
}

/** Python's fnmatch for the globs above: `*` any run, `[0-9]` one digit, the rest literal. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

export interface Selected {
  glob: string;
  /** Folder names to score, sorted by code unit (the original takes the file system's order). */
  names: string[];
  /** Names the glob matched that are not scored, with the reason (for one stderr line). */
  skipped: { name: string; reason: string }[];
}

/**
 * The folders fid.py scores among `names` (entries of the experiment folder). Without a suffix
 * flag the kimg is the name's last 6 characters: a name whose 6th-from-last character is `_` is
 * skipped (fid.py's rule), and one whose last 6 characters are no integer is skipped too, where
 * fid.py would stop with a ValueError (e.g. `ckpt_000100_steps_18` under the default glob).
 */
export function selectRunFolders(names: readonly string[], s: RunSelection): Selected {
  const glob = runGlob(s);
  const re = globRegExp(glob);
  const window = !s.steps && !s.alpha && !s.prune && !s.quant;
  const out: Selected = { glob, names: [], skipped: [] };
  for (const name of [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (name.startsWith('.') || !re.test(name)) continue;
    // Seed set 1 never includes the other seed ranges' folders (fid.py's glob does).
    if (s.genSeed === 1 && /^ckpt_[23]_/.test(name)) continue;
    if (window) {
      const last = name.slice(-6);
      if (last[0] === '_') continue;
      if (!/^\d+$/.test(last)) {
        out.skipped.push({ name, reason: 'no kimg in its last 6 characters' });
        continue;
      }
      const kimg = Number(last);
      if (kimg < s.ckpt || kimg > s.endCkpt) continue;
    }
    out.names.push(name);
  }
  return out;
}

/** Whether `dir` is an experiment folder: it holds `ckpt_*` entries (folders or zips). */
export async function runEntries(dir: string): Promise<string[] | null> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return null;
  }
  // glob.glob lists files as well; of those only a zip holds images.
  const names = entries
    .filter((e) => e.isDirectory() || (e.isFile() && e.name.toLowerCase().endsWith('.zip')))
    .map((e) => e.name)
    .filter((n) => n.startsWith('ckpt_'));
  return names.length > 0 ? names : null;
}

/** Python's `f'{x:g}'`: 6 significant digits, trailing zeros dropped, exponent outside 1e-4..1e6. */
export function formatG(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mantissa, exp] = x.toExponential(5).split('e') as [string, string];
  const e = Number(exp);
  const trim = (t: string) => (t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t);
  if (e < -4 || e >= 6) {
    return `${trim(mantissa)}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return trim(x.toFixed(Math.max(0, 5 - e)));
}
