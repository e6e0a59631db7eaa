/**
 * The sampler trajectory as an animated GIF (PFGM++ generate.py --save_images: `vis/movie.gif`):
 * one frame per sampler step, the batch tiled ceil(sqrt(B)) images per row without padding,
 * pixels as generate.py rounds them. Encoding is gifenc's (LZW and palette quantization are not
 * worth keeping here).
 */
import { createRequire } from 'node:module';
import type * as Gifenc from 'gifenc';
import { toUint8 } from '@pfgmpp/pfgmpp';

// require(): Node's ESM import of this CommonJS package sees only a default export, Vite's
// interop another one; require gives the same exports object everywhere.
const gifenc = createRequire(import.meta.url)('gifenc') as typeof Gifenc;

/** Frame delay: 18 steps play in under 2 seconds. */
const DELAY_MS = 100;

/** Grayscale frames index a fixed palette of the 256 gray levels, so they stay exact. */
const GRAYS = Array.from({ length: 256 }, (_, v) => [v, v, v]);

/**
 * One uint8 frame [rows*H, cols*W, C] from float images [B, C, H, W] in [-1, 1]; cells past
 * the last image stay black.
 */
export function tileFrame(
  x: ArrayLike<number>,
  shape: readonly [number, number, number, number],
): { data: Uint8Array; width: number; height: number } {
  const [B, C, H, W] = shape;
  const cols = Math.ceil(Math.sqrt(B));
  const rows = Math.ceil(B / cols);
  const width = cols * W;
  const height = rows * H;
  const pixels = toUint8(x);
  const data = new Uint8Array(width * height * C);
  for (let n = 0; n < B; n++) {
    const ox = (n % cols) * W;
    const oy = Math.floor(n / cols) * H;
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let xx = 0; xx < W; xx++)
          data[((oy + y) * width + ox + xx) * C + c] = pixels[
            ((n * C + c) * H + y) * W + xx
          ] as number;
  }
  return { data, width, height };
}

/** An animated GIF (looping) of `frames`, each float [B, C, H, W] with C = 1 or 3. */
export function trajectoryGif(
  frames: readonly ArrayLike<number>[],
  shape: readonly [number, number, number, number],
): Uint8Array {
  const C = shape[1];
  if (C !== 1 && C !== 3) throw new Error(`a GIF needs 1 or 3 channels, the images have ${C}`);
  const gif = gifenc.GIFEncoder();
  frames.forEach((x, i) => {
    const { data, width, height } = tileFrame(x, shape);
    if (C === 1) {
      // The first frame's palette is the global one; later frames use it.
      gif.writeFrame(data, width, height, {
        ...(i === 0 && { palette: GRAYS }),
        delay: DELAY_MS,
        repeat: 0,
      });
      return;
    }
    const rgba = new Uint8Array(width * height * 4);
    for (let p = 0; p < width * height; p++) {
      rgba.set(data.subarray(p * 3, p * 3 + 3), p * 4);
      rgba[p * 4 + 3] = 255;
    }
    // A palette per frame: the first frames are noise, the last ones images.
    const palette = gifenc.quantize(rgba, 256);
    const index = gifenc.applyPalette(rgba, palette);
    gif.writeFrame(index, width, height, { palette, delay: DELAY_MS, repeat: 0 });
  });
  gif.finish();
  return gif.bytes();
}
