/**
 * `pfgmpp fid`: usage errors, the missing-weights message, and on the GPU the three subcommands
 * end to end with the synthetic weights (a safetensors file): features of the fixture images
 * against pytorch-fid's, a reference file, and FID/KID of the same images against it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalName, syntheticWeights, WEIGHTS_FILE, WEIGHTS_URL } from '@pfgmpp/fid';
import { encodePng, readNpy, readNpz, writeNpy, writeSafetensors } from '@pfgmpp/io';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
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
      [['fid'], /missing subcommand \(ref, calc, features\)/],
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
    ];
    for (const [argv, message] of cases) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
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

  it('features: an .npy of uint8 images -> float32 [n, 2048], as pytorch-fid', async () => {
    const tensors = new Map(
      [...syntheticWeights({ fc: true })].map(([k, t]) => [
        canonicalName(k),
        { dtype: 'float32' as const, shape: [...t.shape], data: t.data },
      ]),
    );
    writeFileSync(weights, writeSafetensors(tensors));
    const npy = join(dir, 'images.npy');
    // Two of the images keep lavapipe's share of the test short (seconds per 299x299 image).
    writeFileSync(
      npy,
      writeNpy({ dtype: 'uint8', shape: [2, 3, 32, 32], data: images.subarray(0, 2 * 3072) }),
    );
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
});
