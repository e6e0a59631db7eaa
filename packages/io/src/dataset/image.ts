/**
 * Decoded images: uint8, height x width x channels interleaved (HWC), as PNG rows and PIL's
 * `np.array(img)` lay them out. Datasets keep images as CHW (the official `Dataset` transposes
 * after decoding); the helpers here convert and do the crops, pads and flips the dataset tool
 * and the MNIST source need.
 */
import { FormatError } from '../errors.ts';

export interface Image {
  width: number;
  height: number;
  /** 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA). */
  channels: number;
  /** `height * width * channels` bytes, row-major, channels interleaved. */
  data: Uint8Array;
}

/** Decodes one encoded image; `name` is the file or archive member, for error messages. */
export type ImageDecoder = (bytes: Uint8Array, name: string) => Image | Promise<Image>;

export function checkImage(img: Image, what = 'image'): Image {
  const { width, height, channels, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new FormatError(`${what}: bad size ${width}x${height}`);
  }
  if (!(channels >= 1 && channels <= 4 && Number.isInteger(channels))) {
    throw new FormatError(`${what}: ${channels} channels; 1 to 4 are supported`);
  }
  if (data.length !== width * height * channels) {
    throw new FormatError(
      `${what}: ${data.length} bytes of pixels for ${width}x${height}x${channels}`,
    );
  }
  return img;
}

/** HWC -> CHW (a new array). */
export function toChw(img: Image): Uint8Array {
  const { width: w, height: h, channels: c, data } = img;
  if (c === 1) return data.slice();
  const out = new Uint8Array(data.length);
  const plane = w * h;
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < c; k++) out[k * plane + p] = data[p * c + k] as number;
  }
  return out;
}

/** CHW -> HWC image. */
export function fromChw(chw: Uint8Array, channels: number, height: number, width: number): Image {
  const plane = width * height;
  const data = new Uint8Array(plane * channels);
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < channels; k++) data[p * channels + k] = chw[k * plane + p] as number;
  }
  return { width, height, channels, data };
}

/** Mirrors a CHW image left-right (the dataset's x-flip augmentation), into a new array. */
export function flipChw(chw: Uint8Array, channels: number, height: number, width: number) {
  const out = new Uint8Array(chw.length);
  for (let row = 0; row < channels * height; row++) {
    const at = row * width;
    for (let x = 0; x < width; x++) out[at + x] = chw[at + width - 1 - x] as number;
  }
  return out;
}

/** Rows [y0, y0+h) and columns [x0, x0+w) of an image (in bounds). */
export function crop(img: Image, x0: number, y0: number, w: number, h: number): Image {
  const c = img.channels;
  const data = new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++) {
    const from = ((y0 + y) * img.width + x0) * c;
    data.set(img.data.subarray(from, from + w * c), y * w * c);
  }
  return { width: w, height: h, channels: c, data };
}

/** Zero padding of `p` pixels on every side (MNIST 28x28 -> 32x32 with p = 2). */
export function pad(img: Image, p: number): Image {
  const w = img.width + 2 * p;
  const h = img.height + 2 * p;
  const c = img.channels;
  const data = new Uint8Array(w * h * c);
  for (let y = 0; y < img.height; y++) {
    const from = y * img.width * c;
    data.set(img.data.subarray(from, from + img.width * c), ((y + p) * w + p) * c);
  }
  return { width: w, height: h, channels: c, data };
}

/** Grayscale -> RGB by replication (what `img[:, :, None].repeat(3, axis=2)` does). */
export function grayToRgb(img: Image): Image {
  if (img.channels !== 1) return img;
  const n = img.width * img.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = img.data[i] as number;
    data[3 * i] = v;
    data[3 * i + 1] = v;
    data[3 * i + 2] = v;
  }
  return { width: img.width, height: img.height, channels: 3, data };
}

export function channelName(c: number): string {
  return ['gray', 'gray+alpha', 'RGB', 'RGBA'][c - 1] ?? `${c}-channel`;
}
