import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng, readZipEntries } from '@pfgmpp/io';
import { afterEach, describe, expect, it } from 'vitest';
import { formatOptions, parseOptions, UsageError } from '../src/cli.ts';
import { COMMANDS } from '../src/main.ts';
import {
  OFFICIAL_INDEX,
  OFFICIAL_NAMES,
  type OfficialEntry,
  officialFile,
  reference,
} from './official.ts';
import { cli } from './run-cli.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const temps: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'pfgmpp-cli-'));
  temps.push(d);
  return d;
};
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs main() in-process, capturing its output. */

/** A folder of tiny PNGs in two classes. */
function tinySource(): string {
  const dir = join(temp(), 'src');
  for (const [i, cls] of ['cat', 'cat', 'dog'].entries()) {
    mkdirSync(join(dir, cls), { recursive: true });
    const data = Uint8Array.from({ length: 6 * 6 * 3 }, (_, k) => (k * 7 + i * 40) % 256);
    writeFileSync(
      join(dir, cls, `${i}.png`),
      encodePng({ width: 6, height: 6, channels: 3, data }),
    );
  }
  return dir;
}

describe('option parser', () => {
  const specs = COMMANDS.find((c) => c.name === 'dataset')?.options ?? [];

  it('reads --name value, --name=value, integers and choices', () => {
    expect(
      parseOptions(
        ['--source', 'a', '--dest=b', '--max-images', '7', '--transform=center-crop'],
        specs,
      ),
    ).toEqual({
      help: false,
      values: { source: 'a', dest: 'b', 'max-images': 7, transform: 'center-crop' },
      positional: [],
    });
    expect(parseOptions(['--bogus', '-h'], specs).help).toBe(true);
    // Arguments that are not options only where the command takes them.
    expect(() => parseOptions(['file.pt'], specs)).toThrow(/unexpected argument 'file.pt'/);
    expect(
      parseOptions(['file.pt', '--source', 'a', '--dest', 'b'], specs, true).positional,
    ).toEqual(['file.pt']);
  });

  it('raises one-line UsageErrors', () => {
    const cases: [string[], string][] = [
      [['--source', 'a', '--dset', 'b'], "unknown option '--dset' (did you mean --dest?)"],
      [['--source'], 'option --source needs a value (PATH|mnist)'],
      [['--source', '--dest', 'b'], 'option --source needs a value (PATH|mnist)'],
      [
        ['--source', 'a', '--dest', 'b', '--max-images', 'ten'],
        "option --max-images must be a non-negative integer; got 'ten'",
      ],
      [
        ['--source', 'a', '--dest', 'b', '--transform', 'crop'],
        "option --transform must be one of center-crop, center-crop-wide; got 'crop'",
      ],
      [['--dest', 'b'], 'missing required option --source'],
      [['stray'], "unexpected argument 'stray'"],
      [['-x'], "unknown option '-x'"],
      [['--source='], 'option --source needs a non-empty value'],
    ];
    for (const [args, msg] of cases) {
      let err: unknown;
      try {
        parseOptions(args, specs);
      } catch (e) {
        err = e;
      }
      expect(err, args.join(' ')).toBeInstanceOf(UsageError);
      expect((err as Error).message).toBe(msg);
    }
    expect(formatOptions(specs)).toMatch(/--max-images N\s+stop after/);
  });
});

describe('pfgmpp CLI', () => {
  it('--help lists the commands; dataset --help lists its options', async () => {
    const top = await cli('--help');
    expect(top.code).toBe(0);
    expect(top.out).toMatch(/^Usage: pfgmpp COMMAND \[options\]/);
    expect(top.out).toMatch(/\n {2}dataset\s+convert images into a training dataset/);
    const ds = await cli('dataset', '--help');
    expect(ds.code).toBe(0);
    for (const opt of [
      '--source PATH|mnist',
      '--dest PATH',
      '--resolution WxH',
      '--transform NAME',
      '--max-images N',
    ]) {
      expect(ds.out).toContain(opt);
    }
    expect(ds.err).toBe('');
  });

  it('usage errors: exit code 2 and one line on stderr', async () => {
    const cases: [string[], string][] = [
      [[], "pfgmpp: missing command (try 'pfgmpp --help')"],
      [
        ['trian'],
        "pfgmpp: unknown command 'trian' (commands: demo, train, generate, generate_alpha, generate_steps, generate_quant, denoise, quality, robustness, dataset, inspect, fid; try 'pfgmpp --help')",
      ],
      [
        ['dataset', '--source', 'x', '--dest', 'y', '--colour'],
        "pfgmpp dataset: unknown option '--colour' (try 'pfgmpp dataset --help')",
      ],
      [
        ['dataset', '--source', 'x', '--dest'],
        'pfgmpp dataset: option --dest needs a value (PATH)',
      ],
      [
        ['dataset', '--source', 'x', '--dest', 'y', '--resolution', '32'],
        "pfgmpp dataset: option --resolution must be WxH with positive integers, e.g. 32x32; got '32'",
      ],
      [['dataset', '--source', 'x', '--dest', 'y', '--resolution', '0x32'], "got '0x32'"],
      [
        ['dataset', '--source', 'x', '--dest', 'y', '--transform', 'center-crop'],
        'pfgmpp dataset: option --transform=center-crop needs --resolution=WxH',
      ],
    ];
    for (const [argv, msg] of cases) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.endsWith('\n') && r.err.split('\n').length).toBe(2);
      expect(r.err).toContain(msg);
      expect(r.out).toBe('');
    }
  });

  it('failures: exit code 1, one line naming the file, no stack trace, nothing written', async () => {
    const dir = temp();
    const missing = await cli(
      'dataset',
      '--source',
      join(dir, 'nope'),
      '--dest',
      join(dir, 'o.zip'),
    );
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(
      `pfgmpp dataset: error: ${join(dir, 'nope')}: cannot open (no such file or folder)\n`,
    );
    writeFileSync(join(dir, 'bad.zip'), 'PK\x03\x04 truncated');
    const bad = await cli(
      'dataset',
      '--source',
      join(dir, 'bad.zip'),
      '--dest',
      join(dir, 'o.zip'),
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^pfgmpp dataset: error: .*bad\.zip: not a ZIP archive/);
    expect(bad.err.split('\n').length).toBe(2);
    expect(bad.err).not.toMatch(/\bat .*\.ts:\d+/);
    expect(readdirSync(dir)).toEqual(['bad.zip']);
  });

  it('converts a tiny folder into a zip with labels and a progress line', async () => {
    const src = tinySource();
    const dest = join(temp(), 'out', 'tiny.zip');
    const r = await cli('dataset', '--source', src, '--dest', dest, '--resolution=8x8');
    expect(r.err).toBe('dataset: 1/3 images\ndataset: 2/3 images\ndataset: 3/3 images\n');
    expect(r.out).toBe(`wrote 3 images (8x8 RGB, with labels) to ${dest}\n`);
    expect(r.code).toBe(0);
    const zip = new Uint8Array(readFileSync(dest));
    expect(readZipEntries(zip).map((e) => e.name)).toEqual([
      '00000/img00000000.png',
      '00000/img00000001.png',
      '00000/img00000002.png',
      'dataset.json',
    ]);
  });

  it('runs as a real process with tsx: help, a usage error and a conversion', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) => {
        execFile(
          join(ROOT, 'node_modules/.bin/tsx'),
          ['--conditions=pfgmpp-source', join(ROOT, 'apps/trainer/src/main.ts'), ...args],
          { cwd: ROOT },
          (e, out, err) =>
            resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
        );
      });
    const help = await run(['dataset', '--help']);
    expect([help.code, help.out.split('\n')[0]]).toEqual([
      0,
      expect.stringMatching(/^Usage: pfgmpp dataset/),
    ]);
    const usage = await run(['dataset', '--max-images', 'x']);
    expect(usage.code).toBe(2);
    expect(usage.err.trim().split('\n')).toHaveLength(1);
    const dest = join(temp(), 'mnist');
    const ok = await run(['dataset', '--source', 'mnist', '--dest', dest, '--max-images', '5']);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('wrote 5 images (32x32 gray, with labels)');
    expect(readdirSync(dest).sort()).toEqual(['00000', 'dataset.json']);
    expect(readdirSync(join(dest, '00000'))).toHaveLength(5);
  });
});

describe('pfgmpp inspect', () => {
  const fixture = (name: string) => join(ROOT, 'test/fixtures/io', name);

  it('summarises the official PFGM++ training states: network, D, architecture, counts, step', async () => {
    for (const name of OFFICIAL_NAMES) {
      const entry = OFFICIAL_INDEX[name] as OfficialEntry;
      const { config, weights } = reference(name);
      const kw = config.constructor_kwargs;
      const j = await cli('inspect', officialFile(name), '--json');
      expect(j.code, name).toBe(0);
      const s = JSON.parse(j.out);
      expect(s.initKwargs, name).toEqual(kw);
      expect(s, name).toMatchObject({
        file: officialFile(name),
        format: 'training-state',
        container: 'torch-zip',
        className: entry.precond,
        resolution: kw.img_resolution,
        channels: kw.img_channels,
        labelDim: kw.label_dim,
        // EDMPrecond stores D; VEPrecond ignores the pfgmpp/D keywords PFGM++'s training loop
        // passes every network, so the file's D is its keywords' (the index gives attributes).
        D: entry.D ?? (kw.pfgmpp === true ? kw.D : null),
        // The EMA network's tensors: every parameter and buffer of the official state dict.
        tensors: weights.size,
        values: entry.param_count + config.buffer_count,
        hasEma: true,
        hasOptimizer: true,
        step: 123456,
        kimg: 123,
      });
    }
    const text = await cli('inspect', officialFile('edm_adm_rand'));
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/format\s+training-state \(torch-zip\)\n/);
    expect(text.out).toMatch(/network\s+EDMPrecond\n/);
    expect(text.out).toMatch(/labels\s+10\n/);
    expect(text.out).toMatch(/D\s+128\n/);
    expect(text.out).toMatch(/EMA, Adam state\n/);
    expect(text.out).toMatch(/step\s+123456 images \(123 kimg\)\n/);
    expect(text.out).toMatch(/"model_type":"DhariwalUNet"/);
    const vp = await cli('inspect', officialFile('vp_ddpmpp_uncond'));
    expect(vp.out).toMatch(/network\s+VPPrecond\n/);
    expect(vp.out).toMatch(/D\s+- \(diffusion, or not recorded\)\n/);
  });

  it('reads a plain torch.save(state_dict) file and counts its values', async () => {
    const j = await cli('inspect', fixture('edm_adm_uncond.pt'), '--json');
    expect(j.code).toBe(0);
    // The reference network's 48,795 parameters plus its buffers (16 resample-filter values).
    expect(JSON.parse(j.out)).toMatchObject({ format: 'state-dict', tensors: 124, values: 48811 });
  });

  it('usage errors exit 2, unreadable files exit 1 with one line naming the file', async () => {
    const none = await cli('inspect');
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/needs a CHECKPOINT/);
    const missing = await cli('inspect', join(temp(), 'absent.pt'));
    expect(missing.code).toBe(1);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
    expect(missing.err).toMatch(/absent\.pt/);
    const junk = join(temp(), 'junk.pt');
    writeFileSync(junk, 'not a checkpoint');
    const bad = await cli('inspect', junk);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/junk\.pt/);
  });
});
