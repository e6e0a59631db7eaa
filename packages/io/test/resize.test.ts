/**
 * Pillow's Lanczos against Pillow itself: the official dataset_tool fixture (center-crop to 8x8)
 * and pil_resize.npz (made with Pillow 9.4.0, see test/fixtures/dataset_tool). Measured maximum
 * difference: 0 on every pixel of every case (the docs quote this).
 */
import { describe, expect, it } from 'vitest';
import { type Image, makeTransform, npzJson, resizeLanczos } from '../src/index.ts';
import { decodePng } from '../src/node.ts';
import { asImage, dtBytes, dtNpz } from './dataset-helpers.ts';

function maxDiff(a: Uint8Array, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe("Pillow's LANCZOS resize", () => {
  it('equals Pillow on 12 resizes, 2 scales and 7 center-crop-wide cases (max diff 0)', () => {
    const npz = dtNpz('pil_resize.npz');
    const index = npzJson(npz, 'index') as {
      name: string;
      op: string;
      width: number;
      height: number;
    }[];
    expect(index.length).toBe(21);
    let worst = 0;
    let dropped = 0;
    for (const c of index) {
      const src = asImage(npz.get(`${c.name}.src`) as never);
      const want = npz.get(`${c.name}.out`) as { shape: number[]; data: Uint8Array };
      let got: Image | null;
      if (c.op === 'resize') got = resizeLanczos(src, c.width, c.height);
      else
        got = makeTransform(c.op === 'scale' ? undefined : 'center-crop-wide', [c.width, c.height])(
          src,
        );
      if (want.shape[0] === 0) {
        expect(got, `${c.name} is dropped`).toBeNull();
        dropped++;
        continue;
      }
      expect(got, c.name).not.toBeNull();
      const g = got as Image;
      expect([g.height, g.width, g.channels], c.name).toEqual([
        want.shape[0],
        want.shape[1],
        want.shape[2] ?? 1,
      ]);
      worst = Math.max(worst, maxDiff(g.data, want.data));
    }
    expect(dropped).toBe(3);
    expect(worst).toBe(0);
  });

  it("reproduces the official tool's center-crop 8x8 pixels on imagefolder_src (max diff 0)", () => {
    const npz = dtNpz('imagefolder_pixels.npz');
    const expected = npz.get('expected_pixels_nhwc') as { data: Uint8Array };
    const files = [
      'cats/a_wide.png',
      'cats/b_gray.png',
      'dogs/c_exact.png',
      'dogs/d_tall_odd.png',
      'dogs/e_small.png',
    ];
    const crop = makeTransform('center-crop', [8, 8]);
    files.forEach((f, i) => {
      const img = decodePng(dtBytes(`imagefolder_src/${f}`));
      expect(img.data).toEqual(npz.get(`src.${f}`)?.data);
      const out = crop(img) as Image;
      expect(maxDiff(out.data, expected.data.subarray(i * 192, (i + 1) * 192)), f).toBe(0);
    });
  });

  it('returns a copy for an unchanged size and validates the target size', () => {
    const img: Image = { width: 3, height: 2, channels: 1, data: Uint8Array.of(1, 2, 3, 4, 5, 6) };
    const same = resizeLanczos(img, 3, 2);
    expect(same.data).toEqual(img.data);
    expect(same.data).not.toBe(img.data);
    expect(() => resizeLanczos(img, 0, 2)).toThrow(/bad target size/);
    expect(() => resizeLanczos(img, 2.5, 2)).toThrow(/bad target size/);
  });

  it('keeps a constant image constant at any scale (weights sum to one)', () => {
    const img: Image = { width: 7, height: 5, channels: 3, data: new Uint8Array(105).fill(200) };
    for (const [w, h] of [
      [1, 1],
      [3, 2],
      [16, 9],
      [64, 64],
    ] as const) {
      expect(new Set(resizeLanczos(img, w, h).data)).toEqual(new Set([200]));
    }
  });
});
