/**
 * A small RGB drawing surface for charts written as PNG (loss curves, the robustness figure):
 * dots, lines, rectangles and a 3x5 pixel font. No plotting dependency.
 */
import { encodePng } from '@pfgmpp/io';

export type Rgb = readonly [number, number, number];

// 3x5 glyphs, one 3-bit row each (4 = left column). Lower-case letters, the capitals the charts
// use, digits and the punctuation of numbers and labels; anything else is drawn as a space.
const GLYPHS: Record<string, readonly number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 1, 1],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2],
  ',': [0, 0, 0, 2, 4],
  ':': [0, 2, 0, 2, 0],
  '-': [0, 0, 7, 0, 0],
  '+': [0, 2, 7, 2, 0],
  '=': [0, 7, 0, 7, 0],
  '%': [4, 1, 2, 4, 1],
  '/': [1, 1, 2, 4, 4],
  '(': [2, 4, 4, 4, 2],
  ')': [2, 1, 1, 1, 2],
  a: [0, 6, 1, 7, 7],
  b: [4, 4, 7, 5, 7],
  c: [0, 7, 4, 4, 7],
  d: [1, 1, 7, 5, 7],
  e: [0, 7, 7, 4, 7],
  f: [3, 4, 6, 4, 4],
  g: [0, 7, 5, 7, 1],
  h: [4, 4, 7, 5, 5],
  i: [2, 0, 2, 2, 2],
  j: [1, 0, 1, 1, 6],
  k: [4, 5, 6, 5, 5],
  l: [6, 2, 2, 2, 7],
  m: [0, 7, 7, 5, 5],
  n: [0, 6, 5, 5, 5],
  o: [0, 7, 5, 5, 7],
  p: [0, 7, 5, 7, 4],
  q: [0, 7, 5, 7, 1],
  r: [0, 7, 4, 4, 4],
  s: [0, 3, 6, 1, 6],
  t: [4, 7, 4, 4, 3],
  u: [0, 5, 5, 5, 7],
  v: [0, 5, 5, 5, 2],
  w: [0, 5, 5, 7, 7],
  x: [0, 5, 2, 2, 5],
  y: [0, 5, 7, 1, 6],
  z: [0, 7, 1, 4, 7],
  A: [2, 5, 7, 5, 5],
  B: [6, 5, 6, 5, 6],
  C: [7, 4, 4, 4, 7],
  D: [6, 5, 5, 5, 6],
  E: [7, 4, 6, 4, 7],
  F: [7, 4, 6, 4, 4],
  I: [7, 2, 2, 2, 7],
  N: [5, 7, 7, 7, 5],
  S: [7, 4, 7, 1, 7],
  ' ': [0, 0, 0, 0, 0],
};

/** Width in pixels of `s` in the 3x5 font at scale 1 (4 per character with the gap). */
export const textWidth = (s: string, scale = 1) => s.length * 4 * scale;

export class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }
  dot(x: number, y: number, rgb: Rgb): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    this.data.set(rgb, (yi * this.width + xi) * 3);
  }
  line(x0: number, y0: number, x1: number, y1: number, rgb: Rgb): void {
    const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let i = 0; i <= n; i++) this.dot(x0 + ((x1 - x0) * i) / n, y0 + ((y1 - y0) * i) / n, rgb);
  }
  /** A line `width` pixels thick (offset perpendicular to its main direction). */
  thickLine(x0: number, y0: number, x1: number, y1: number, rgb: Rgb, width = 2): void {
    const steep = Math.abs(y1 - y0) > Math.abs(x1 - x0);
    for (let k = 0; k < width; k++) {
      const o = k - (width - 1) / 2;
      if (steep) this.line(x0 + o, y0, x1 + o, y1, rgb);
      else this.line(x0, y0 + o, x1, y1 + o, rgb);
    }
  }
  rect(x: number, y: number, w: number, h: number, rgb: Rgb): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.dot(x + i, y + j, rgb);
  }
  /** Text with its top-left corner at (x, y); `scale` enlarges every font pixel. */
  text(x: number, y: number, s: string, rgb: Rgb, scale = 1): void {
    [...s].forEach((ch, k) => {
      const g = GLYPHS[ch] ?? GLYPHS[ch.toLowerCase()] ?? GLYPHS[' '];
      g?.forEach((bits, row) => {
        for (let col = 0; col < 3; col++) {
          if (bits & (4 >> col))
            this.rect(x + (k * 4 + col) * scale, y + row * scale, scale, scale, rgb);
        }
      });
    });
  }
  png(): Uint8Array {
    return encodePng({ width: this.width, height: this.height, channels: 3, data: this.data }, 6);
  }
}
