/**
 * `pfgmpp fid`: usage errors, the missing-weights message, which ckpt_* folders of an experiment
 * folder each flag combination scores (as PFGM++'s fid.py), and on the GPU the three subcommands
 * end to end with the synthetic weights (a safetensors file): features of the fixture images
 * against pytorch-fid's, a reference file, FID/KID of the same images against it, and one FID
 * per ckpt_* folder of a small experiment folder.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WEIGHTS_FILE, WEIGHTS_URL } from '@pfgmpp/fid';
import { writeStats } from '@pfgmpp/fid/node';
import { encodePng, readNpy, readNpz, writeNpy } from '@pfgmpp/io';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_SELECTION,
  formatG,
  globRegExp,
  type RunSelection,
  runGlob,
  selectRunFolders,
} from '../src/commands/fid-runs.ts';
import { writeSyntheticInception } from './inception-file.ts';
import { SHIPPED_UNCONDITIONAL } from '../src/commands/demo.ts';
import { cli } from './run-cli.ts';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/fid/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-fid-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The 4 fixture images (uint8 [4, 3, 32, 32]) and pytorch-fid's features of them. */
function fixtureImages() {
  const npz = readNpz(new Uint8Array(readFileSync(`${FIXTURES}inception_features.npz`)));
  const images = npz.get('images_u8_nchw');
  const features = npz.get('features');
  if (!images || !features) throw new Error('fixture arrays missing');
  return { images: images.data as Uint8Array, features: features.data as Float32Array };
}

/** Folders as PFGM++'s generate*.py name them, and some that only look alike. */
const RUN_FOLDERS = [
  'ckpt_000050',
  'ckpt_000100',
  'ckpt_000200',
  'ckpt_2_000100',
  'ckpt_3_000100',
  'ckpt_000100_steps_18',
  'ckpt_000100_steps_10000',
  'ckpt_000100_alpha_0',
  'ckpt_000100_alpha_0.1',
  'ckpt_000100_alpha_0.2',
  'ckpt_000100_quant_5',
  'ckpt_2_000100_quant_5',
  'ckpt_000100_prune_0.5',
  'ckpt_2_000100_prune_0.3',
  'ckpt_x',
  'samples',
];

describe('fid calc over an experiment folder: which folders (fid-runs.ts, no GPU)', () => {
  const pick = (s: Partial<RunSelection>) =>
    selectRunFolders([...RUN_FOLDERS].reverse(), { ...DEFAULT_SELECTION, ...s });

  it("globs as fid.py's fnmatch: * any run, [0-9] one digit, . literal", () => {
    const re = globRegExp('ckpt_[0-9]*_alpha_0.[0-9]*');
    expect(re.test('ckpt_000100_alpha_0.1')).toBe(true);
    expect(re.test('ckpt_000100_alpha_0')).toBe(false);
    expect(re.test('ckpt_000100_alpha_0x1')).toBe(false);
    expect(globRegExp('ckpt_2_*').test('ckpt_2_')).toBe(true);
    expect(globRegExp('ckpt_[0-9]*').test('ckpt_x')).toBe(false);
  });

  it('seed set 1: the kimg window over the last 6 characters, sorted', () => {
    const all = pick({});
    expect(all.glob).toBe('ckpt_[0-9]*');
    // ckpt_[0-9]* also matches the ckpt_2_/ckpt_3_ folders of the other seed ranges, which
    // fid.py scores too (SPEC 13.10); not here. _steps_10000 ends in "_10000": skipped by the
    // '_' rule, silently.
    expect(all.names).toEqual(['ckpt_000050', 'ckpt_000100', 'ckpt_000200']);
    // Where fid.py's int() would stop the run, the folder is skipped with a reason.
    expect(all.skipped.map((x) => x.name)).toEqual([
      'ckpt_000100_alpha_0',
      'ckpt_000100_alpha_0.1',
      'ckpt_000100_alpha_0.2',
      'ckpt_000100_prune_0.5',
      'ckpt_000100_quant_5',
      'ckpt_000100_steps_18',
    ]);
    expect(pick({ ckpt: 100, endCkpt: 150 }).names).toEqual(['ckpt_000100']);
    expect(pick({ ckpt: 60, endCkpt: 99 }).names).toEqual([]);
  });

  it('seed set 1 with a suffix flag: its glob, no kimg window, steps > alpha > prune > quant', () => {
    const steps = pick({ steps: true, ckpt: 500 });
    expect(steps.glob).toBe('ckpt_[0-9]*_steps_[0-9]*');
    expect(steps.names).toEqual(['ckpt_000100_steps_10000', 'ckpt_000100_steps_18']);
    // fid.py's _alpha_0.[0-9]* would leave out the alpha = 0 folder (SPEC 13.10).
    expect(pick({ alpha: true }).names).toEqual([
      'ckpt_000100_alpha_0',
      'ckpt_000100_alpha_0.1',
      'ckpt_000100_alpha_0.2',
    ]);
    expect(pick({ prune: true }).names).toEqual(['ckpt_000100_prune_0.5']);
    expect(pick({ quant: true }).names).toEqual(['ckpt_000100_quant_5']);
    expect(pick({ steps: true, alpha: true, quant: true }).glob).toBe('ckpt_[0-9]*_steps_[0-9]*');
    expect(pick({ alpha: true, prune: true }).glob).toBe('ckpt_[0-9]*_alpha_0*');
    expect(pick({ prune: true, quant: true }).glob).toBe('ckpt_[0-9]*_prune_0.[0-9]*');
  });

  it('seed sets 2 and 3', () => {
    expect(pick({ genSeed: 2 }).names).toEqual(['ckpt_2_000100']);
    expect(pick({ genSeed: 2, quant: true }).names).toEqual(['ckpt_2_000100_quant_5']);
    expect(pick({ genSeed: 2, prune: true }).names).toEqual(['ckpt_2_000100_prune_0.3']);
    // Set 2 knows no steps glob: ckpt_2_* as written, and (a flag is set) no kimg window.
    expect(pick({ genSeed: 2, steps: true }).names).toEqual([
      'ckpt_2_000100',
      'ckpt_2_000100_prune_0.3',
      'ckpt_2_000100_quant_5',
    ]);
    expect(pick({ genSeed: 3 }).glob).toBe('ckpt_3_*');
    expect(pick({ genSeed: 3, quant: true }).names).toEqual(['ckpt_3_000100']);
    expect(() => runGlob({ ...DEFAULT_SELECTION, genSeed: 4 })).toThrow(/1, 2 or 3; got 4/);
  });

  it("prints FIDs as Python's {:g}", () => {
    const cases: [number, string][] = [
      [2.4718312, '2.47183'],
      [12.3456789, '12.3457'],
      [100, '100'],
      [0.0001234, '0.0001234'],
      [0.00001234, '1.234e-05'],
      [1234567, '1.23457e+06'],
      [999999.7, '1e+06'],
      [-3.2e-7, '-3.2e-07'],
      [0, '0'],
      [Number.NaN, 'nan'],
    ];
    for (const [x, text] of cases) expect(formatG(x), String(x)).toBe(text);
  });
});

describe('pfgmpp fid: command line', () => {
  it('--help shows every subcommand; misuse exits 2 with one line', async () => {
    const help = await cli('fid', '--help');
    expect(help.code).toBe(0);
    for (const s of [
      'fid ref',
      'fid calc',
      'fid features',
      '--images',
      '--detector',
      WEIGHTS_FILE,
    ]) {
      expect(help.out).toContain(s);
    }
    expect((await cli('fid', 'calc', '--help')).out).toBe(help.out);
    const cases: [string[], RegExp][] = [
      [['fid'], /missing subcommand \(ref, calc, features, merge\)/],
      [['fid', 'score'], /unknown subcommand 'score'/],
      [
        ['fid', 'ref', '--data', 'd', '--dest', 'r.npz', '--images', 'x'],
        /option --images is not used by 'fid ref'/,
      ],
      [['fid', 'calc', '--ref', 'r.npz'], /'fid calc' needs --images/],
      [['fid', 'features', '--images', 'a', 'b', '--out', 'f.npy'], /unexpected argument 'b'/],
      [
        ['fid', 'calc', '--images', 'a', '--ref', 'r', '--num', '5', '--is'],
        /--is needs at least 10 images/,
      ],
      [
        ['fid', 'calc', '--images', 'a', '--ref', 'r', '--detector', 'tf'],
        /--detector must be one of edm, pytorch-fid/,
      ],
      [
        ['fid', 'calc', '--images', 'a', '--ref', 'r', '--gen_seed', '4'],
        /option --gen_seed must be 1, 2 or 3; got 4/,
      ],
      [
        ['fid', 'ref', '--data', 'd', '--dest', 'r.npz', '--steps'],
        /--steps is not used by 'fid ref'/,
      ],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  });

  it('an experiment folder where no ckpt_* folder matches: one line naming it and the glob', async () => {
    const exp = join(dir, 'exp-nomatch');
    for (const f of ['ckpt_000100', 'ckpt_000100_steps_18'])
      mkdirSync(join(exp, f), { recursive: true });
    const cases: [string[], string][] = [
      [['--gen_seed', '3'], `${exp}: no folder matches ckpt_3_*`],
      [['--ckpt', '500'], `${exp}: no folder matches ckpt_[0-9]* with kimg in [500, 1000000]`],
      [['--alpha'], `${exp}: no folder matches ckpt_[0-9]*_alpha_0*`],
      // Run options make a folder without ckpt_* entries an experiment folder too.
      [['--images', dir, '--steps'], `${dir}: no folder matches ckpt_[0-9]*_steps_[0-9]*`],
    ];
    for (const [extra, message] of cases) {
      const images = extra[0] === '--images' ? [] : ['--images', exp];
      const r = await cli('fid', 'calc', ...images, ...extra, '--ref', join(dir, 'none.npz'));
      expect(r.code, extra.join(' ')).toBe(1);
      expect(r.err).toBe(`pfgmpp fid: error: ${message}\n`);
    }
  });

  it("BOOL spellings of fid.py's flags: --prune=0 is off, --steps 1 is on", async () => {
    const exp = join(dir, 'exp-bool');
    mkdirSync(join(exp, 'ckpt_000100'), { recursive: true });
    const off = await cli(
      'fid',
      'calc',
      '--images',
      exp,
      '--prune=0',
      '--gen_seed',
      '3',
      '--ref',
      'r',
    );
    expect(off.err).toBe(`pfgmpp fid: error: ${exp}: no folder matches ckpt_3_*\n`);
    const on = await cli('fid', 'calc', '--images', exp, '--steps', '1', '--ref', 'r');
    expect(on.err).toBe(`pfgmpp fid: error: ${exp}: no folder matches ckpt_[0-9]*_steps_[0-9]*\n`);
  });

  it('a missing or wrong weight file names the file needed, where to get it and --weights', async () => {
    const missing = await cli(
      'fid',
      'ref',
      '--data',
      dir,
      '--dest',
      join(dir, 'r.npz'),
      '--weights',
      join(dir, 'nope.pth'),
    );
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('nope.pth: cannot read the Inception weights (no such file)');
    expect(missing.err).toContain(WEIGHTS_FILE);
    expect(missing.err).toContain(WEIGHTS_URL);
    expect(missing.err).toContain('--weights');
    const html = join(dir, 'page.pth');
    writeFileSync(html, '<html>Not Found</html>');
    const wrong = await cli(
      'fid',
      'features',
      '--images',
      dir,
      '--out',
      join(dir, 'f.npy'),
      '--weights',
      html,
    );
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/page\.pth: not a checkpoint.*pt_inception-2015-12-05-6726825d\.pth/);
    expect(wrong.err).not.toMatch(/\n\s+at /);
  });
});

describe.skipIf(GPU_SKIP_REASON)('pfgmpp fid on the GPU (synthetic weights)', () => {
  const weights = join(dir, 'synthetic.safetensors');
  const { images, features } = fixtureImages();
  const folder = join(dir, 'images');
  /** The first two fixture images as an .npy (two keep lavapipe's share short: seconds per 299x299 image). */
  const twoImages = (name: string) => {
    const npy = join(dir, name);
    const data = images.subarray(0, 2 * 3072);
    writeFileSync(npy, writeNpy({ dtype: 'uint8', shape: [2, 3, 32, 32], data }));
    return npy;
  };

  it('features: an .npy of uint8 images -> float32 [n, 2048], as pytorch-fid', async () => {
    writeSyntheticInception(weights, { fc: true });
    const npy = twoImages('images.npy');
    const out = join(dir, 'features.npy');
    const r = await cli(
      'fid',
      'features',
      '--images',
      npy,
      '--out',
      out,
      '--detector',
      'pytorch-fid',
      '--weights',
      weights,
      '--batch',
      '1',
    );
    expect(r.err).toContain('fid features: 2/2 images');
    expect(r.code).toBe(0);
    const f = readNpy(new Uint8Array(readFileSync(out)));
    expect(f.dtype).toBe('float32');
    expect(f.shape).toEqual([2, 2048]);
    let err = 0;
    let scale = 0;
    for (let i = 0; i < 2 * 2048; i++) {
      err = Math.max(err, Math.abs((f.data[i] as number) - (features[i] as number)));
      scale = Math.max(scale, Math.abs(features[i] as number));
    }
    expect(err / scale).toBeLessThan(1e-4);
  }, 600_000);

  it('calc --is with weights lacking the fc layer: one line naming the file, for --images and --network', async () => {
    const noFc = join(dir, 'no-fc.safetensors');
    writeSyntheticInception(noFc, { fc: false });
    const npy = twoImages('two.npy');
    const ref = join(dir, 'zero-ref.npz');
    await writeStats(ref, {
      count: 2,
      mu: new Float64Array(2048),
      sigma: new Float64Array(2048 * 2048),
    });
    for (const source of [
      ['--images', npy],
      ['--network', SHIPPED_UNCONDITIONAL, '--seeds', '0-9'],
    ]) {
      const r = await cli('fid', 'calc', ...source, '--ref', ref, '--is', '--weights', noFc);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain(`${noFc}: has no fc layer, which the Inception Score needs`);
      expect(r.err.trim().split('\n').at(-1)).toMatch(/has no fc layer/);
    }
  });

  it('ref then calc of the same images: FID ~0, one line per --images, JSON and KID', async () => {
    mkdirSync(join(folder, 'sub'), { recursive: true });
    for (let i = 0; i < 3; i++) {
      const chw = images.subarray(i * 3072, (i + 1) * 3072);
      const hwc = new Uint8Array(3072);
      for (let p = 0; p < 1024; p++)
        for (let c = 0; c < 3; c++) hwc[p * 3 + c] = chw[c * 1024 + p] as number;
      const png = encodePng({ width: 32, height: 32, channels: 3, data: hwc });
      writeFileSync(join(folder, i < 2 ? 'sub' : '', `img${i}.png`), png);
    }
    const ref = join(dir, 'ref.npz');
    const made = await cli(
      'fid',
      'ref',
      '--data',
      folder,
      '--dest',
      ref,
      '--kid',
      '--weights',
      weights,
    );
    expect(made.err).toContain('fid ref: 3/3 images');
    expect(made.code).toBe(0);
    const stats = readNpz(new Uint8Array(readFileSync(ref)));
    expect(stats.get('mu')?.dtype).toBe('float64');
    expect(stats.get('sigma')?.shape).toEqual([2048, 2048]);
    expect(stats.get('features')?.shape).toEqual([3, 2048]);
    const sigma = stats.get('sigma')?.data as Float64Array;
    let trace = 0;
    for (let i = 0; i < 2048; i++) trace += sigma[i * 2049] as number;
    const r = await cli(
      'fid',
      'calc',
      '--images',
      folder,
      folder,
      '--ref',
      ref,
      '--num',
      '3',
      '--kid',
      '--json',
      '--weights',
      weights,
    );
    expect(r.code).toBe(0);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { fid: number; count: number; kid: { mean: number } });
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(l.count).toBe(3);
      // Zero up to the float32 round-off of the GPU scatter matrices: 3 images span 2 of 2048
      // directions, and the noise (1e-7 relative) in the other 2046 adds 2 sum |lambda_neg|.
      expect(Math.abs(l.fid)).toBeLessThan(1e-6 * trace);
      expect(Number.isFinite(l.kid.mean)).toBe(true);
    }
    const text = await cli(
      'fid',
      'calc',
      '--images',
      folder,
      '--ref',
      ref,
      '--num',
      '4',
      '--weights',
      weights,
    );
    expect(text.code).toBe(1);
    expect(text.err).toMatch(/found 3 images, but expected at least 4 \(see --num\)/);
  }, 600_000);

  it('calc over an experiment folder: one "path:<folder>, <fid>" line per selected ckpt_ folder', async () => {
    const exp = join(dir, 'exp');
    const put = (folder: string, seed: number, image: number) => {
      // generate.py's layout: per-1000 subfolders of {seed:06d}.png.
      const sub = join(exp, folder, '000000');
      mkdirSync(sub, { recursive: true });
      const chw = images.subarray(image * 3072, (image + 1) * 3072);
      const hwc = new Uint8Array(3072);
      for (let p = 0; p < 1024; p++)
        for (let c = 0; c < 3; c++) hwc[p * 3 + c] = chw[c * 1024 + p] as number;
      const png = encodePng({ width: 32, height: 32, channels: 3, data: hwc });
      writeFileSync(join(sub, `${String(seed).padStart(6, '0')}.png`), png);
    };
    // ckpt_000100: the reference's own 3 images (FID ~0); ckpt_000200: two of them, one twice.
    for (const [seed, image] of [0, 1, 2].entries()) put('ckpt_000100', seed, image);
    for (const [seed, image] of [0, 0, 1].entries()) put('ckpt_000200', seed, image);
    // Left out without being read: past --end_ckpt, and no kimg at the end of the name.
    mkdirSync(join(exp, 'ckpt_000300'));
    mkdirSync(join(exp, 'ckpt_000100_steps_18'));
    const ref = join(dir, 'ref.npz');
    const r = await cli(
      'fid',
      'calc',
      '--images',
      exp,
      '--ref',
      ref,
      '--num',
      '3',
      '--end_ckpt',
      '200',
      '--weights',
      weights,
    );
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(2);
    const fids = lines.map((l, i) => {
      const m = /^path:(.*), (\S+)$/.exec(l);
      expect(m?.[1]).toBe(join(exp, i === 0 ? 'ckpt_000100' : 'ckpt_000200'));
      return Number(m?.[2]);
    });
    const stats = readNpz(new Uint8Array(readFileSync(ref)));
    const sigma = stats.get('sigma')?.data as Float64Array;
    let trace = 0;
    for (let i = 0; i < 2048; i++) trace += sigma[i * 2049] as number;
    expect(Math.abs(fids[0] as number)).toBeLessThan(1e-6 * trace);
    expect(fids[1]).toBeGreaterThan(1e-3 * trace);
    expect(r.err).toContain(`fid calc: ${exp}: 2 folders match ckpt_[0-9]*`);
    expect(r.err).toContain(`skipped ${join(exp, 'ckpt_000100_steps_18')} (no kimg`);
    expect(r.err).toContain(`fid calc ${join(exp, 'ckpt_000200')} (2/2): 3/3 images`);
  }, 600_000);
});
