import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  encodePng,
  FormatError,
  type Image,
  ImageDataset,
  memorySource,
  parseDatasetJson,
  readZipEntries,
  readZipEntry,
  writeZip,
  zipSource,
} from '../src/index.ts';
import { decodeImage, openDataset } from '../src/node.ts';
import { DT, dtBytes, dtJson, dtNpz, noise, tempDir } from './dataset-helpers.ts';

const enc = new TextEncoder();
const png = (w: number, h: number, c: number, seed = 1) =>
  encodePng({ width: w, height: h, channels: c, data: noise(w * h * c, seed) });
const labelsJson = (entries: [string, unknown][] | null) =>
  enc.encode(JSON.stringify({ labels: entries }));

function zipOf(files: Record<string, Uint8Array>): Uint8Array {
  return writeZip(Object.entries(files).map(([name, data]) => ({ name, data })));
}

async function openZip(files: Record<string, Uint8Array>, options = {}) {
  return ImageDataset.open(zipSource(zipOf(files), 'test.zip', decodeImage), options);
}

async function failure(p: Promise<unknown> | (() => unknown)): Promise<Error> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

describe('datasets in the official format', () => {
  it("reads the official tool's CIFAR zip: names, shape, pixels and one-hot labels", async () => {
    const ds = await openDataset(`${DT}cifar-mini.zip`);
    const pixels = dtNpz('cifar-mini_pixels.npz');
    const want = pixels.get('train_images_nchw')?.data as Uint8Array;
    const labels = pixels.get('train_labels')?.data as BigInt64Array;
    expect([ds.name, ds.length, ds.shape, ds.labelDim]).toEqual([
      'cifar-mini',
      35,
      [3, 32, 32],
      10,
    ]);
    for (let i = 0; i < 35; i++) {
      expect(await ds.image(i)).toEqual(want.subarray(i * 3072, (i + 1) * 3072));
      const onehot = ds.label(i);
      expect(onehot.indexOf(1)).toBe(Number(labels[i]));
      expect(onehot.reduce((a, b) => a + b, 0)).toBe(1);
    }
    expect(ds.nameOf(34)).toBe('00000/img00000034.png');
  });

  it('reads a folder dataset the same as its zip', async () => {
    const dir = tempDir();
    const zip = dtBytes('imagefolder.zip');
    for (const e of readZipEntries(zip)) {
      mkdirSync(join(dir, e.name, '..'), { recursive: true });
      writeFileSync(join(dir, e.name), readZipEntry(zip, e));
    }
    const a = await openDataset(`${DT}imagefolder.zip`);
    const b = await openDataset(dir);
    expect([b.length, b.shape, b.labelDim]).toEqual([5, [3, 8, 8], 2]);
    for (let i = 0; i < 5; i++) {
      expect(await b.image(i)).toEqual(await a.image(i));
      expect(b.label(i)).toEqual(a.label(i));
    }
  });

  it('maxSize picks the subset NumPy RandomState picks, sorted', async () => {
    const { subset } = dtJson('numpy_random.json') as {
      subset: { n: number; max_size: number; seed: number; value: number[] }[];
    };
    for (const c of subset) {
      const names = Array.from({ length: c.n }, (_, i) => `img${String(i).padStart(4, '0')}.png`);
      const img: Image = { width: 2, height: 2, channels: 1, data: new Uint8Array(4) };
      const ds = await ImageDataset.open(
        memorySource('m', names, () => img),
        {
          maxSize: c.max_size,
          randomSeed: c.seed,
        },
      );
      expect(Array.from(ds.rawIndex)).toEqual(c.value);
      expect(ds.length).toBe(c.max_size);
    }
  });

  it('x-flip doubles the dataset with mirrored copies that share labels', async () => {
    const data = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i);
    const img: Image = { width: 3, height: 3, channels: 2, data };
    const ds = await ImageDataset.open(
      memorySource('m', ['a.png'], () => img, new Map([['a.png', 2]])),
      { xflip: true },
    );
    expect(ds.length).toBe(2);
    const plain = await ds.image(0);
    const flipped = await ds.image(1);
    // CHW: channel 0 holds the even bytes; row 0 is 0, 2, 4 -> mirrored 4, 2, 0.
    expect(Array.from(plain.subarray(0, 3))).toEqual([0, 2, 4]);
    expect(Array.from(flipped.subarray(0, 3))).toEqual([4, 2, 0]);
    expect(Array.from(flipped.subarray(9, 12))).toEqual([5, 3, 1]);
    expect(ds.label(1)).toEqual(Float32Array.of(0, 0, 1));
    await expect(ds.image(2)).rejects.toThrow(RangeError);
  });

  it('decodes each image once and serves it from the cache', async () => {
    let loads = 0;
    const img: Image = { width: 4, height: 4, channels: 1, data: noise(16) };
    const src = memorySource('m', ['a.png', 'b.png'], () => (loads++, img));
    const ds = await ImageDataset.open(src);
    await Promise.all([ds.image(1), ds.image(1), ds.image(0)]);
    await ds.preload();
    expect(loads).toBe(2); // open() decoded image 0, image 1 once despite concurrent reads
    const noCache = await ImageDataset.open(src, { cache: false });
    await noCache.image(1);
    await noCache.image(1);
    expect(loads).toBe(2 + 1 + 2);
  });

  it('labels: count, range, kinds and vectors', async () => {
    const files = { 'a.png': png(4, 4, 3), 'b.png': png(4, 4, 3, 2) };
    const vec = await openZip({
      ...files,
      'dataset.json': labelsJson([
        ['a.png', [0.5, -1]],
        ['b.png', [2, 3]],
      ]),
    });
    expect([vec.labelDim, Array.from(vec.label(0)), Array.from(vec.label(1))]).toEqual([
      2,
      [0.5, -1],
      [2, 3],
    ]);
    const none = await openZip({ ...files, 'dataset.json': labelsJson(null) });
    expect([none.labelDim, none.label(0).length]).toEqual([0, 0]);
    const ignored = await openZip(
      { ...files, 'dataset.json': labelsJson([['a.png', 1]]) },
      { useLabels: false },
    );
    expect(ignored.labelDim).toBe(0);
    const wide = await openZip(
      {
        ...files,
        'dataset.json': labelsJson([
          ['a.png', 1],
          ['b.png', 0],
        ]),
      },
      { numClasses: 10 },
    );
    expect(wide.label(0)).toEqual(Float32Array.from({ length: 10 }, (_, i) => (i === 1 ? 1 : 0)));

    const bad: [unknown, RegExp][] = [
      [[['a.png', 1]], /no label for 'b.png' \(1 labels for 2 images\)/],
      [
        [
          ['a.png', -1],
          ['b.png', 0],
        ],
        /'a.png' is -1; class labels must be non-negative integers/,
      ],
      [
        [
          ['a.png', 1.5],
          ['b.png', 0],
        ],
        /'a.png' is 1.5/,
      ],
      [
        [
          ['a.png', 1],
          ['b.png', [1, 2]],
        ],
        /'b.png' is \[1,2\]; class labels/,
      ],
      [
        [
          ['a.png', [1]],
          ['b.png', [1, 2]],
        ],
        /expected a list of 1 numbers/,
      ],
      [
        [
          ['a.png', 'cat'],
          ['b.png', 0],
        ],
        /must be a number or a list of numbers/,
      ],
      [[['a.png']], /labels\[0\] is not a \[file name, label\] pair/],
      [{ 'a.png': 1 }, /"labels" must be a list or null/],
    ];
    for (const [labels, msg] of bad) {
      const json = enc.encode(JSON.stringify({ labels }));
      const e = await failure(openZip({ ...files, 'dataset.json': json }));
      expect(e).toBeInstanceOf(FormatError);
      expect(e.message).toMatch(/^test\.zip: dataset\.json: /);
      expect(e.message).toMatch(msg);
    }
    const range = await failure(
      openZip(
        {
          ...files,
          'dataset.json': labelsJson([
            ['a.png', 3],
            ['b.png', 0],
          ]),
        },
        { numClasses: 3 },
      ),
    );
    expect(range.message).toMatch(/'a.png' is 3, outside the 3 classes/);
    const notJson = await failure(
      openZip({ ...files, 'dataset.json': enc.encode('{"labels": [') }),
    );
    expect(notJson.message).toMatch(/test\.zip: dataset\.json: dataset\.json is not valid JSON/);
    expect(parseDatasetJson(enc.encode('{}'))).toBeNull();
  });

  it('rejects images of another shape or channel count, naming the file', async () => {
    const ds = await openZip({
      'a.png': png(4, 4, 3),
      'b.png': png(8, 8, 3),
      'c.png': png(4, 4, 1),
    });
    const e1 = await failure(ds.image(1));
    expect(e1).toBeInstanceOf(FormatError);
    expect(e1.message).toBe(
      "test.zip: b.png: image is 8x8 RGB, but the dataset's images are 4x4 RGB (from a.png)",
    );
    expect((await failure(ds.image(2))).message).toMatch(/^test\.zip: c\.png: image is 4x4 gray/);
    expect((await failure(ds.preload())).message).toMatch(/b\.png/);
    const e2 = await failure(openZip({ 'a.png': png(4, 6, 3) }));
    expect(e2.message).toMatch(/images must be square; a\.png is 4x6/);
    const e3 = await failure(openZip({ 'a.png': png(4, 4, 3) }, { resolution: 32 }));
    expect(e3.message).toMatch(/images are 4x4, expected 32x32/);
  });

  it('names the member for bad PNGs and non-PNG images', async () => {
    const ds = await openZip({
      'a.png': png(4, 4, 3),
      'b.png': enc.encode('not a png'),
      'c.jpg': png(4, 4, 3),
    });
    expect((await failure(ds.image(1))).message).toBe(
      'test.zip: b.png: not a PNG file (bad signature)',
    );
    expect((await failure(ds.image(2))).message).toBe(
      'test.zip: c.jpg: cannot decode .jpg images: only PNG is supported',
    );
    const truncated = png(4, 4, 3).subarray(0, 60);
    const e = await failure(openZip({ 'a.png': truncated }));
    expect(e.message).toMatch(/^test\.zip: a\.png: truncated PNG/);
  });

  it('refuses hostile zips: traversal names, truncation, corruption, no images', async () => {
    for (const name of ['../x.png', 'a/../../x.png', '/etc/x.png', '..\\x.png', 'C:/x.png']) {
      const e = await failure(openZip({ 'a.png': png(4, 4, 3), [name]: png(4, 4, 3) }));
      expect(e).toBeInstanceOf(FormatError);
      expect(e.message).toContain(`unsafe member name '${name}'`);
    }
    const zip = zipOf({ 'a.png': png(4, 4, 3), 'b.png': png(4, 4, 3) });
    for (const cut of [10, zip.length / 2, zip.length - 5]) {
      const e = await failure(() => zipSource(zip.subarray(0, cut), 'cut.zip', decodeImage));
      expect(e.message).toMatch(/^cut\.zip: .*(not a ZIP|truncated|corrupt)/);
    }
    const flipped = zip.slice();
    flipped[100] = (flipped[100] as number) ^ 0xff; // inside a.png's stored bytes
    const e = await failure(ImageDataset.open(zipSource(flipped, 'crc.zip', decodeImage)));
    expect(e.message).toMatch(/^crc\.zip: a\.png: corrupt ZIP: CRC-32 mismatch/);
    const empty = await failure(openZip({ 'readme.txt': enc.encode('hi') }));
    expect(empty.message).toBe('test.zip: no image files found');
    const missing = await failure(openDataset(join(tempDir(), 'nope.zip')));
    expect(missing.message).toMatch(/nope\.zip: cannot open \(no such file or folder\)/);
  });
});
