import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import {
  encodePng,
  FormatError,
  parseResolution,
  readZipEntries,
  readZipEntry,
} from '../src/index.ts';
import { decodePng, runDatasetTool } from '../src/node.ts';
import { DT, dtJson, dtNpz, noise, tempDir } from './dataset-helpers.ts';

interface Expected {
  zip_file_list: string[];
  dataset_json: unknown;
  pngs: { name: string; shape: number[]; sha256_pixels: string }[];
}

function readZip(path: string): Map<string, Uint8Array> {
  const bytes = new Uint8Array(readFileSync(path));
  return new Map(readZipEntries(bytes).map((e) => [e.name, readZipEntry(bytes, e)]));
}

function readFolder(root: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(dir, e.name), name);
      else out.set(name, new Uint8Array(readFileSync(join(dir, e.name))));
    }
  };
  walk(root, '');
  return out;
}

/** Compares our output with the official tool's: names, dataset.json bytes, decoded pixels. */
function expectOfficial(files: Map<string, Uint8Array>, fixture: string, pixels: Uint8Array) {
  const want = dtJson(`${fixture}.json`) as Expected;
  expect([...files.keys()].sort()).toEqual(want.zip_file_list);
  const official = readZip(`${DT}${fixture}.zip`);
  expect(new TextDecoder().decode(files.get('dataset.json'))).toBe(
    new TextDecoder().decode(official.get('dataset.json')),
  );
  expect(JSON.parse(new TextDecoder().decode(files.get('dataset.json')))).toEqual(
    want.dataset_json,
  );
  want.pngs.forEach((p, i) => {
    const img = decodePng(files.get(p.name) as Uint8Array);
    expect([img.height, img.width, img.channels]).toEqual(p.shape);
    const n = img.data.length;
    expect(img.data, p.name).toEqual(pixels.subarray(i * n, (i + 1) * n));
    expect(createHash('sha256').update(img.data).digest('hex')).toBe(p.sha256_pixels);
  });
}

function writePng(path: string, w: number, h: number, c: number, seed = 1) {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(
    path,
    encodePng({ width: w, height: h, channels: c, data: noise(w * h * c, seed) }),
  );
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

describe('dataset tool', () => {
  it('CIFAR-10 tarball -> zip equals the official output (names, dataset.json, pixels)', async () => {
    const dir = tempDir();
    // The official tool only recognises this exact file name; ours reads any tarball.
    copyFileSync(`${DT}cifar-mini.tar.gz`, join(dir, 'cifar-10-python.tar.gz'));
    const progress: number[] = [];
    const result = await runDatasetTool({
      source: join(dir, 'cifar-10-python.tar.gz'),
      dest: join(dir, 'out', 'cifar.zip'),
      maxImages: 35,
      onProgress: (done, total) => progress.push(done * 1000 + total),
    });
    expect(result).toEqual({
      images: 35,
      dropped: 0,
      labeled: true,
      width: 32,
      height: 32,
      channels: 3,
    });
    expect(progress.at(-1)).toBe(35035);
    const pixels = dtNpz('cifar-mini_pixels.npz').get('expected_pixels_nhwc')?.data as Uint8Array;
    const files = readZip(join(dir, 'out', 'cifar.zip'));
    expectOfficial(files, 'cifar-mini', pixels);
    // Stored members, like the official ZIP.
    const entries = readZipEntries(new Uint8Array(readFileSync(join(dir, 'out', 'cifar.zip'))));
    expect(new Set(entries.map((e) => e.method))).toEqual(new Set([0]));
    expect(readdirSync(join(dir, 'out'))).toEqual(['cifar.zip']);
  });

  it('image folder -> center-crop 8x8 equals the official output, into a zip and a folder', async () => {
    const pixels = dtNpz('imagefolder_pixels.npz').get('expected_pixels_nhwc')?.data as Uint8Array;
    const dir = tempDir();
    const opts = {
      source: `${DT}imagefolder_src`,
      transform: 'center-crop' as const,
      resolution: '8x8',
    };
    await runDatasetTool({ ...opts, dest: join(dir, 'a.zip') });
    expectOfficial(readZip(join(dir, 'a.zip')), 'imagefolder', pixels);
    mkdirSync(join(dir, 'empty'));
    await runDatasetTool({ ...opts, dest: join(dir, 'empty') });
    expectOfficial(readFolder(join(dir, 'empty')), 'imagefolder', pixels);
    expect(readdirSync(dir).sort()).toEqual(['a.zip', 'empty']);
  });

  it('center-crop-wide drops small images, leaving gaps in the names; --max-images counts them', async () => {
    const src = join(tempDir(), 'wide');
    writePng(join(src, 'a.png'), 32, 20, 3); // ch = 16 -> kept
    writePng(join(src, 'b.png'), 8, 8, 3); // narrower than 16 -> dropped
    writePng(join(src, 'c.png'), 40, 16, 1); // ch = round(6.4) = 6 < 8 -> dropped
    writePng(join(src, 'd.png'), 16, 9, 1); // ch = 9 -> kept, gray -> RGB
    writePng(join(src, 'e.png'), 64, 64, 3); // beyond --max-images
    const dest = join(tempDir(), 'w.zip');
    const r = await runDatasetTool({
      source: src,
      dest,
      transform: 'center-crop-wide',
      resolution: [16, 8],
      maxImages: 4,
    });
    expect([r.images, r.dropped]).toEqual([2, 2]);
    const files = readZip(dest);
    expect([...files.keys()]).toEqual([
      '00000/img00000000.png',
      '00000/img00000003.png',
      'dataset.json',
    ]);
    const img = decodePng(files.get('00000/img00000003.png') as Uint8Array);
    expect([img.width, img.height, img.channels]).toEqual([16, 16, 3]);
    // Rows 0-3 and 12-15 of the canvas are black.
    expect(img.data.subarray(0, 4 * 48).every((v) => v === 0)).toBe(true);
    expect(img.data.subarray(12 * 48).every((v) => v === 0)).toBe(true);
    expect(new TextDecoder().decode(files.get('dataset.json'))).toBe('{"labels": null}');
  });

  it('labels: dataset.json of the folder, else top-level folder names (root files get "")', async () => {
    const src = join(tempDir(), 'src');
    writePng(join(src, 'root.png'), 4, 4, 1);
    writePng(join(src, 'b', 'x.png'), 4, 4, 1);
    writePng(join(src, 'a', 'deep', 'y.png'), 4, 4, 1);
    writePng(join(src, 'a-c.png'), 4, 4, 1); // pathlib order: a/deep/y.png, a-c.png, b/x.png, root.png
    const dest = join(tempDir(), 'l.zip');
    await runDatasetTool({ source: src, dest });
    expect(new TextDecoder().decode(readZip(dest).get('dataset.json'))).toBe(
      '{"labels": [["00000/img00000000.png", 1], ["00000/img00000001.png", 0], ["00000/img00000002.png", 2], ["00000/img00000003.png", 0]]}',
    );
    writeFileSync(
      join(src, 'dataset.json'),
      JSON.stringify({
        labels: [
          ['b/x.png', 7],
          ['root.png', 3],
        ],
      }),
    );
    const dest2 = join(tempDir(), 'folder-out');
    await runDatasetTool({ source: src, dest: dest2 });
    // Two of four images have labels in dataset.json -> no labels at all.
    expect(readFileSync(join(dest2, 'dataset.json'), 'utf8')).toBe('{"labels": null}');
  });

  it('mnist and train-images-idx3-ubyte.gz sources: 32x32 gray with labels', async () => {
    const dest = join(tempDir(), 'm.zip');
    const r = await runDatasetTool({ source: 'mnist', dest, maxImages: 12 });
    expect(r).toEqual({
      images: 12,
      dropped: 0,
      labeled: true,
      width: 32,
      height: 32,
      channels: 1,
    });
    const files = readZip(dest);
    expect(files.size).toBe(13);
    expect(decodePng(files.get('00000/img00000011.png') as Uint8Array).channels).toBe(1);
    expect(new TextDecoder().decode(files.get('dataset.json'))).toMatch(
      /^\{"labels": \[\["00000\/img00000000.png", 0\]/,
    );

    const dir = tempDir();
    const pixels = noise(3 * 784, 5);
    const header = new Uint8Array(16);
    writeFileSync(
      join(dir, 'train-images-idx3-ubyte.gz'),
      gzipSync(Uint8Array.from([...header, ...pixels])),
    );
    writeFileSync(
      join(dir, 'train-labels-idx1-ubyte.gz'),
      gzipSync(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 9)),
    );
    const dest2 = join(dir, 'idx');
    await runDatasetTool({ source: join(dir, 'train-images-idx3-ubyte.gz'), dest: dest2 });
    const img = decodePng(new Uint8Array(readFileSync(join(dest2, '00000', 'img00000002.png'))));
    expect([img.width, img.channels, img.data[2 * 32 + 2], img.data[0]]).toEqual([
      32,
      1,
      pixels[2 * 784],
      0,
    ]);
    expect(readFileSync(join(dest2, 'dataset.json'), 'utf8')).toMatch(
      /"00000\/img00000002.png", 9\]\]\}$/,
    );
  });

  it('fails cleanly and leaves nothing behind: mismatched images, bad PNG, bad options', async () => {
    const src = join(tempDir(), 'mixed');
    writePng(join(src, 'a.png'), 8, 8, 3);
    writePng(join(src, 'b.png'), 8, 8, 1);
    const out = tempDir();
    const check = async (opts: Parameters<typeof runDatasetTool>[0], msg: RegExp) => {
      const e = await failure(runDatasetTool(opts));
      expect(e.message).toMatch(msg);
      expect(readdirSync(out), String(msg)).toEqual([]);
    };
    await check(
      { source: src, dest: join(out, 'x.zip') },
      /mixed\/b\.png: image 00000\/img00000001\.png is 8x8 gray but earlier images are 8x8 RGB/,
    );
    await check({ source: src, dest: join(out, 'x') }, /all images of a dataset must match/);
    writeFileSync(join(src, 'c.png'), 'garbage');
    await check(
      { source: src, dest: join(out, 'y'), transform: 'center-crop', resolution: '8x8' },
      /mixed\/c\.png: not a PNG file/,
    );
    const rect = join(tempDir(), 'rect');
    writePng(join(rect, 'a.png'), 8, 4, 3);
    await check({ source: rect, dest: join(out, 'r.zip') }, /must be square, got 8x4/);
    await check(
      { source: rect, dest: join(out, 'r.zip'), resolution: '6x6' },
      /power of two, got 6/,
    );
    await check(
      { source: rect, dest: join(out, 'r.zip'), transform: 'center-crop' },
      /needs --resolution/,
    );
    const rgba = join(tempDir(), 'rgba');
    writePng(join(rgba, 'a.png'), 4, 4, 4);
    await check(
      { source: rgba, dest: join(out, 'q.zip') },
      /a\.png: RGBA images are not supported/,
    );
    await check(
      { source: join(out, 'missing'), dest: join(out, 'q.zip') },
      /missing: cannot open \(no such file or folder\)/,
    );
    writeFileSync(join(rect, 'notes.txt'), 'x');
    await check(
      { source: join(rect, 'notes.txt'), dest: join(out, 'q.zip') },
      /unknown source type/,
    );
    await check({ source: rect, dest: join(out, 'q.zip'), maxImages: 0 }, /no images to write/);
    mkdirSync(join(out, 'full'));
    writeFileSync(join(out, 'full', 'keep.txt'), 'x');
    const e = await failure(
      runDatasetTool({ source: rect, dest: join(out, 'full'), resolution: '4x4' }),
    );
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(/full: destination folder must be empty/);
    expect(readdirSync(join(out, 'full'))).toEqual(['keep.txt']);
    expect(existsSync(join(out, 'q.zip'))).toBe(false);
  });

  it('parses resolutions as WxH or W,H', () => {
    expect(parseResolution('32x32')).toEqual([32, 32]);
    expect(parseResolution('64,48')).toEqual([64, 48]);
    for (const bad of ['32', '0x32', '32x', 'axb', '-1x4', '3.5x2']) {
      expect(() => parseResolution(bad)).toThrow(/bad resolution/);
    }
  });
});
