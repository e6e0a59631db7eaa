import { describe, expect, it } from 'vitest';
import { crc32, encodePng, FormatError, type Image, readPngHeader } from '../src/index.ts';
import { decodePng } from '../src/node.ts';
import { asImage, dtNpz, noise, rawPng } from './dataset-helpers.ts';

const image = (width: number, height: number, channels: number, seed = 3): Image => ({
  width,
  height,
  channels,
  data: noise(width * height * channels, seed),
});

describe('PNG', () => {
  it('round-trips 8-bit gray, gray+alpha, RGB and RGBA through our encoder and pngjs', () => {
    for (const c of [1, 2, 3, 4]) {
      for (const level of [0, 6] as const) {
        const img = image(13, 7, c, c);
        const back = decodePng(encodePng(img, level));
        expect([back.width, back.height, back.channels]).toEqual([13, 7, c]);
        expect(back.data).toEqual(img.data);
      }
    }
  });

  it('decodes the PNG modes Pillow writes: 16-bit, palette, palette+tRNS, LA, RGBA, L+tRNS', () => {
    const npz = dtNpz('pil_png.npz');
    const names = [...npz.keys()].filter((k) => k.endsWith('.png'));
    expect(names.length).toBe(6);
    for (const key of names) {
      const bytes = npz.get(key)?.data as Uint8Array;
      const want = asImage(npz.get(key.replace('.png', '.expected')) as never);
      const got = decodePng(bytes);
      expect([key, got.width, got.height, got.channels]).toEqual([
        key,
        want.width,
        want.height,
        want.channels,
      ]);
      expect(Array.from(got.data), key).toEqual(Array.from(want.data));
    }
    expect(readPngHeader(npz.get('gray16.png')?.data as Uint8Array).bitDepth).toBe(16);
  });

  it('scales 16-bit RGB to 8 bits by round(v * 255 / 65535)', () => {
    const values = [0, 1, 128, 129, 257, 32767, 32896, 65535];
    const rows = new Uint8Array(1 + values.length * 3 * 2);
    values.forEach((v, i) => {
      for (let k = 0; k < 3; k++) {
        rows[1 + (i * 3 + k) * 2] = v >> 8;
        rows[2 + (i * 3 + k) * 2] = v & 0xff;
      }
    });
    const got = decodePng(rawPng(values.length, 1, 16, 2, rows));
    expect(got.channels).toBe(3);
    expect(Array.from(got.data.filter((_, i) => i % 3 === 0))).toEqual(
      values.map((v) => Math.round((v * 255) / 65535)),
    );
  });

  it('rejects bad signatures, truncation, corrupt chunks and oversized headers with FormatErrors', () => {
    const good = encodePng(image(8, 8, 3));
    const cases: [string, Uint8Array, RegExp][] = [
      ['empty', new Uint8Array(0), /not a PNG file/],
      ['text', new TextEncoder().encode('hello, not an image at all, really'), /not a PNG/],
      ['signature only', good.subarray(0, 8), /truncated PNG/],
      ['cut in IDAT', good.subarray(0, good.length - 40), /truncated PNG/],
      ['no IEND', good.subarray(0, good.length - 12), /no IEND/],
    ];
    const badIhdrCrc = good.slice();
    badIhdrCrc[30] = (badIhdrCrc[30] as number) ^ 0xff;
    cases.push(['IHDR CRC', badIhdrCrc, /IHDR checksum/]);
    const badIdat = good.slice();
    badIdat[50] = (badIdat[50] as number) ^ 0x55;
    cases.push(['IDAT CRC', badIdat, /IDAT chunk checksum mismatch/]);
    const huge = rawPng(60000, 60000, 8, 2, new Uint8Array(10));
    cases.push(['60000x60000', huge, /larger than the limit/]);
    cases.push(['depth 3', rawPng(2, 2, 3, 0, new Uint8Array(6)), /bit depth 3/]);
    cases.push(['short rows', rawPng(4, 4, 8, 2, new Uint8Array(13)), /13 bytes of scanlines/]);
    for (const [what, bytes, msg] of cases) {
      let err: unknown;
      try {
        decodePng(bytes);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(FormatError);
      expect((err as Error).message, what).toMatch(msg);
    }
  });

  it('writes stored (level 0) zlib data like the official tool, valid for any reader', () => {
    const img = image(32, 32, 3);
    const png = encodePng(img, 0);
    // 32 rows of 1 + 96 bytes fit one stored block: IDAT = 2 + 5 + 3104 + 4 bytes.
    expect(png.length).toBe(8 + 25 + 12 + 3115 + 12);
    expect(readPngHeader(png)).toEqual({
      width: 32,
      height: 32,
      bitDepth: 8,
      colorType: 2,
      interlaced: false,
    });
  });

  it('decodes interlaced (Adam7) images', () => {
    const img = image(11, 6, 3, 9);
    const passes = [
      [0, 0, 8, 8],
      [4, 0, 8, 8],
      [0, 4, 4, 8],
      [2, 0, 4, 4],
      [0, 2, 2, 4],
      [1, 0, 2, 2],
      [0, 1, 1, 2],
    ];
    const rows: number[] = [];
    for (const [x0, y0, dx, dy] of passes as [number, number, number, number][]) {
      for (let y = y0; y < img.height; y += dy) {
        if (x0 >= img.width) break;
        rows.push(0);
        for (let x = x0; x < img.width; x += dx) {
          for (let k = 0; k < 3; k++) rows.push(img.data[(y * img.width + x) * 3 + k] as number);
        }
      }
    }
    const png = rawPng(11, 6, 8, 2, Uint8Array.from(rows));
    png[28] = 1; // interlace method in IHDR; fix its CRC
    const crc = new DataView(png.buffer).setUint32.bind(new DataView(png.buffer));
    crc(29, crc32(png.subarray(12, 29)));
    const got = decodePng(png);
    expect(got.data).toEqual(img.data);
  });
});
