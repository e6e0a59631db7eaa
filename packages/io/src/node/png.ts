/**
 * PNG decoding with pngjs (Node only: pngjs uses Node's zlib and Buffer). Gray, gray + alpha,
 * RGB, RGBA and palette images at any bit depth and interlacing come out as 8-bit HWC with the
 * file's own channel count (palette -> RGB, or RGBA when it has transparency), as pyspng
 * returns them. 16-bit samples are scaled to 8 bits by round(v * 255 / 65535), pngjs's own
 * rescaling. Errors are FormatErrors without the file name; callers add it.
 */
import { PNG } from 'pngjs';
import { FormatError } from '../errors.ts';
import type { Image } from '../dataset/image.ts';
import {
  checkPngData,
  MAX_PNG_PIXELS,
  readPngHeader,
  withoutTransparency,
} from '../dataset/png.ts';

export function decodePng(bytes: Uint8Array, maxPixels = MAX_PNG_PIXELS): Image {
  const header = readPngHeader(bytes, maxPixels);
  checkPngData(bytes, header);
  const { colorType } = header;
  const input = colorType === 0 || colorType === 2 ? withoutTransparency(bytes) : bytes;
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    png = PNG.sync.read(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
  } catch (e) {
    throw new FormatError(`invalid PNG (${(e as Error).message})`, { cause: e });
  }
  const { width, height } = png;
  const rgba = png.data as Uint8Array;
  if (rgba.length !== width * height * 4) {
    throw new FormatError(`invalid PNG: decoder returned ${rgba.length} bytes`);
  }
  // pngjs always returns RGBA; keep the channels the file has.
  const pick =
    colorType === 0
      ? [0]
      : colorType === 4
        ? [0, 3]
        : colorType === 2 || (colorType === 3 && !png.alpha)
          ? [0, 1, 2]
          : [0, 1, 2, 3];
  const c = pick.length;
  const n = width * height;
  const data = new Uint8Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) data[i * c + k] = rgba[i * 4 + (pick[k] as number)] as number;
  }
  return { width, height, channels: c, data };
}
