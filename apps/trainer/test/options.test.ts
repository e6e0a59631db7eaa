/**
 * Option syntax as the original click programs accept it: every BOOL spelling, `--opt=value` and
 * `--opt value`, `-n`, the official script names, and the options we accept without effect or
 * refuse (no GPU needed: dry runs and parsing only).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OptionSpec, parseBool, parseOptions, UsageError } from '../src/cli.ts';
import { COMMANDS } from '../src/main.ts';
import { cli } from './run-cli.ts';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/dataset_tool/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-options-'));
const data = join(dir, 'datasets', 'cifar10-32x32.zip');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const specs: OptionSpec[] = [
  { name: 'cond', kind: 'flag', help: '' },
  { name: 'dry-run', short: 'n', kind: 'flag', help: '' },
  { name: 'batch', kind: 'int', value: 'N', help: '' },
  { name: 'lr', kind: 'float', value: 'LR', help: '' },
];

/** The last JSON block of a dry run: the options it resolved. */
const summaryOf = (out: string) =>
  JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as Record<string, unknown>;

describe('click option syntax', () => {
  it('every BOOL spelling, with = and as the next argument, in any case', () => {
    const words: [string, boolean][] = [
      ['1', true],
      ['true', true],
      ['t', true],
      ['yes', true],
      ['y', true],
      ['on', true],
      ['0', false],
      ['false', false],
      ['f', false],
      ['no', false],
      ['n', false],
      ['off', false],
    ];
    for (const [word, value] of words) {
      for (const spelled of [word, word.toUpperCase()]) {
        expect(parseBool(spelled), spelled).toBe(value);
        expect(parseOptions([`--cond=${spelled}`], specs).values.cond, `=${spelled}`).toBe(value);
        expect(parseOptions(['--cond', spelled], specs).values.cond, ` ${spelled}`).toBe(value);
      }
    }
    expect(parseBool('maybe')).toBeUndefined();
  });

  it('a BOOL alone is true and leaves the next option alone; -n is --dry-run', () => {
    expect(parseOptions(['--cond', '--batch', '8'], specs).values).toEqual({
      cond: true,
      batch: 8,
    });
    expect(parseOptions(['--batch=8', '--cond'], specs).values).toEqual({ cond: true, batch: 8 });
    expect(parseOptions(['-n', '--lr', '10e-4'], specs).values).toEqual({
      'dry-run': true,
      lr: 0.001,
    });
    expect(parseOptions(['--lr=10e-4', '-n', '0'], specs).values).toEqual({
      'dry-run': false,
      lr: 0.001,
    });
  });

  it('a repeated option: the last value wins, as in click', () => {
    expect(
      parseOptions(['--batch', '512', '--cond=1', '--batch=8', '--cond', '0'], specs).values,
    ).toEqual({ batch: 8, cond: false });
  });

  it('a bad BOOL value, an unknown short option: one-line UsageErrors', () => {
    const cases: [string[], string][] = [
      [['--cond=maybe'], "option --cond is a BOOL (1/0, true/false, yes/no, on/off); got 'maybe'"],
      [['-q'], "unknown option '-q'"],
    ];
    for (const [args, message] of cases) {
      expect(() => parseOptions(args, specs), args.join(' ')).toThrow(UsageError);
      expect(() => parseOptions(args, specs)).toThrow(message);
    }
  });

  it('help shows BOOL options as [=BOOL] and the short name', async () => {
    const r = await cli('train', '--help');
    expect(r.out).toMatch(/--cond\[=BOOL\]\s+class-conditional/);
    expect(r.out).toMatch(/-n, --dry-run\[=BOOL\]\s+print the options/);
  });
});

describe('official command lines (dry runs)', () => {
  beforeAll(() => {
    // The CIFAR-10 tarball fixture under the name dataset_tool.py recognises.
    mkdirSync(join(dir, 'downloads', 'cifar10'), { recursive: true });
    copyFileSync(
      join(FIXTURES, 'cifar-mini.tar.gz'),
      join(dir, 'downloads', 'cifar10', 'cifar-10-python.tar.gz'),
    );
  });

  it('dataset_tool.py as written in the EDM README, under its own name', async () => {
    const r = await cli(
      'dataset_tool',
      `--source=${join(dir, 'downloads', 'cifar10', 'cifar-10-python.tar.gz')}`,
      `--dest=${data}`,
    );
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(existsSync(data)).toBe(true);
    expect(COMMANDS.find((c) => c.name === 'dataset')?.aliases).toContain('dataset_tool');
  });

  it("the PFGM++ README's train line, unchanged, with -n", async () => {
    const args = [
      `--outdir=${join(dir, 'training-runs')}`,
      '--name',
      'exp_name',
      `--data=${data}`,
      '--cond=0',
      '--arch=ncsnpp',
      '--pfgmpp=1',
      '--batch',
      '512',
      '--aug_dim',
      '128',
    ];
    const r = await cli('train', ...args, '-n');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const s = summaryOf(r.out);
    expect(s.batch_size).toBe(512);
    const net = s.network_kwargs as Record<string, unknown>;
    expect(net.model_type).toBe('SongUNet');
    expect(net.embedding_type).toBe('fourier');
    expect(net.pfgmpp).toBe(true);
    expect(net.D).toBe(128);
    expect((s.dataset_kwargs as Record<string, unknown>).use_labels).toBe(false);
    expect(existsSync(join(dir, 'training-runs'))).toBe(false);
  });

  it('EDM-only options: --bench and --workers accepted without effect, --fp16=1 refused', async () => {
    const base = ['train', `--outdir=${join(dir, 'edm-runs')}`, `--data=${data}`, '--cond=1'];
    const ok = await cli(...base, '--arch=ddpmpp', '--bench=1', '--workers', '4', '--fp16=0', '-n');
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    const bad = await cli(...base, '--fp16=1', '-n');
    expect(bad.code).toBe(2);
    expect(bad.err).toBe(
      "pfgmpp train: --fp16=1: mixed precision is not available yet; train in float32 (--fp16=0) (try 'pfgmpp train --help')\n",
    );
    const cache = await cli(...base, '--cache=false', '-n');
    expect(summaryOf(cache.out).dataset_kwargs).toMatchObject({ cache: false });
    expect(existsSync(join(dir, 'edm-runs'))).toBe(false);
  });

  it('a diffusion line with --pfgmpp=0 keeps --aug_dim and trains with D = infinity', async () => {
    const r = await cli(
      'train',
      `--outdir=${join(dir, 'runs')}`,
      `--data=${data}`,
      '--pfgmpp=0',
      '--aug_dim=128',
      '-n',
    );
    expect(r.code).toBe(0);
    const net = summaryOf(r.out).network_kwargs as Record<string, unknown>;
    expect(net.pfgmpp).not.toBe(true);
  });
});
