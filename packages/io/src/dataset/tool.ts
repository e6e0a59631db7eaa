/**
 * The dataset tool's conversion (dataset_tool.py `convert_dataset`), independent of files:
 * items come from a `ToolSource`, PNGs go to a `ToolOutput`. Rules, as in the official tool:
 * `maxImages` stops after that many input items (dropped ones count); the output name of input
 * item i is `{i[:5]}/img{i}.png` with i zero-padded to 8 digits, so dropped items leave gaps;
 * the first written image fixes width, height and channels, which must be square, a power of
 * two and 1 or 3 channels; PNGs are stored uncompressed; dataset.json lists every label, or is
 * `{"labels": null}` when any image has none.
 */
import { FormatError } from '../errors.ts';
import { channelName, crop, grayToRgb, type Image } from './image.ts';
import { formatDatasetJson, type RawLabel } from './labels.ts';
import { archiveName } from './mnist.ts';
import { encodePng } from './png.ts';
import { roundHalfEven } from './random.ts';
import { resizeLanczos } from './resize.ts';

export type Transform = 'center-crop' | 'center-crop-wide';
export const TRANSFORMS: readonly Transform[] = ['center-crop', 'center-crop-wide'];

export interface ToolItem {
  /** Source file or member, for messages. */
  name: string;
  load(): Image | Promise<Image>;
  label: RawLabel | null;
}

export interface ToolSource {
  /** What was opened, for messages. */
  description: string;
  count: number;
  item(i: number): ToolItem;
}

export interface ToolOutput {
  write(name: string, bytes: Uint8Array): void | Promise<void>;
}

export interface ToolOptions {
  /** Output [width, height]. */
  resolution?: readonly [number, number];
  transform?: Transform;
  maxImages?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ToolResult {
  /** Images written. */
  images: number;
  /** Items a transform dropped (center-crop-wide on too small images). */
  dropped: number;
  labeled: boolean;
  width: number;
  height: number;
  channels: number;
}

/** Parses `WxH` or `W,H` (positive integers). */
export function parseResolution(text: string): [number, number] {
  const m = /^\s*(\d+)\s*[x,]\s*(\d+)\s*$/.exec(text);
  const w = m ? Number(m[1]) : 0;
  const h = m ? Number(m[2]) : 0;
  if (!(w > 0 && h > 0)) {
    throw new FormatError(`bad resolution '${text}': expected WxH, e.g. 32x32`);
  }
  return [w, h];
}

/** The image transform: scale (no transform), center-crop or center-crop-wide. */
export function makeTransform(
  transform: Transform | undefined,
  resolution: readonly [number, number] | undefined,
): (img: Image) => Image | null {
  if (transform === undefined) {
    if (!resolution) return (img) => img;
    const [w, h] = resolution;
    return (img) => (img.width === w && img.height === h ? img : resizeLanczos(img, w, h));
  }
  if (!resolution) throw new FormatError(`--transform=${transform} needs --resolution=WxH`);
  const [w, h] = resolution;
  if (transform === 'center-crop') {
    return (img) => {
      const s = Math.min(img.width, img.height);
      const sq = crop(img, (img.width - s) >> 1, (img.height - s) >> 1, s, s);
      return resizeLanczos(grayToRgb(sq), w, h);
    };
  }
  if (transform === 'center-crop-wide') {
    return (img) => {
      const ch = roundHalfEven((w * img.height) / img.width);
      if (img.width < w || ch < h) return null;
      const rows = crop(img, 0, Math.floor((img.height - ch) / 2), img.width, ch);
      const small = resizeLanczos(grayToRgb(rows), w, h);
      // Pasted into a black w x w canvas at rows (w - h) // 2 ... (w + h) // 2.
      const canvas = new Uint8Array(w * w * 3);
      canvas.set(small.data, Math.floor((w - h) / 2) * w * 3);
      return { width: w, height: w, channels: 3, data: canvas };
    };
  }
  throw new FormatError(`unknown transform '${transform}' (use center-crop or center-crop-wide)`);
}

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** Converts `source` into PNGs + dataset.json written to `output`. */
export async function convertDataset(
  source: ToolSource,
  output: ToolOutput,
  options: ToolOptions = {},
): Promise<ToolResult> {
  const { maxImages } = options;
  if (maxImages !== undefined && !(Number.isInteger(maxImages) && maxImages >= 0)) {
    throw new FormatError(`--max-images must be a non-negative integer, got ${maxImages}`);
  }
  const transform = makeTransform(options.transform, options.resolution);
  const total = Math.min(source.count, maxImages ?? source.count);
  const labels: [string, RawLabel][] = [];
  let allLabeled = true;
  let attrs: { width: number; height: number; channels: number } | undefined;
  let dropped = 0;
  for (let i = 0; i < total; i++) {
    const item = source.item(i);
    const img = await item.load();
    if (img.channels === 2 || img.channels === 4) {
      throw new FormatError(
        `${item.name}: ${channelName(img.channels)} images are not supported; the dataset tool needs RGB or grayscale`,
      );
    }
    const out = transform(img);
    options.onProgress?.(i + 1, total);
    if (out === null) {
      dropped++;
      continue;
    }
    const name = archiveName(i);
    const cur = { width: out.width, height: out.height, channels: out.channels };
    if (!attrs) {
      attrs = cur;
      if (cur.width !== cur.height) {
        throw new FormatError(
          `${item.name}: image dimensions after scale and crop must be square, got ${cur.width}x${cur.height} (use --resolution or --transform)`,
        );
      }
      if (!isPowerOfTwo(cur.width)) {
        throw new FormatError(
          `${item.name}: image width/height after scale and crop must be a power of two, got ${cur.width}`,
        );
      }
    } else if (
      cur.width !== attrs.width ||
      cur.height !== attrs.height ||
      cur.channels !== attrs.channels
    ) {
      const d = (a: typeof cur) => `${a.width}x${a.height} ${channelName(a.channels)}`;
      throw new FormatError(
        `${item.name}: image ${name} is ${d(cur)} but earlier images are ${d(attrs)}; all images of a dataset must match`,
      );
    }
    await output.write(name, encodePng(out, 0));
    if (item.label === null) allLabeled = false;
    else labels.push([name, item.label]);
  }
  if (!attrs) {
    throw new FormatError(
      `${source.description}: no images to write (${total} items read, ${dropped} dropped by the transform)`,
    );
  }
  const json = formatDatasetJson(allLabeled ? labels : null);
  await output.write('dataset.json', new TextEncoder().encode(json));
  return { images: total - dropped, dropped, labeled: allLabeled, ...attrs };
}
