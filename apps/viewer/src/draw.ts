/**
 * Images onto canvases: rows of tiles, nearest-neighbour zoomed by whole factors so single pixels
 * of a 16x16 digit stay sharp squares (canvas scaling would blur them), with the geometry
 * exported so a test can find any source pixel on the canvas.
 */
import { toUint8 } from '@pfgmpp/pfgmpp';

export const GAP = 2;
// Light grey: the gaps stay visible between dark digits.
const BACKGROUND = '#aaa';

/** Whole zoom giving tiles of about `target` pixels (never below 1). */
export const zoomFor = (resolution: number, target: number): number =>
  Math.max(1, Math.floor(target / resolution));

export interface TileGeometry {
  resolution: number;
  channels: number;
  zoom: number;
  cols: number;
  rows: number;
}

/** Top-left canvas pixel of tile (row, col). */
export function tileOrigin(g: TileGeometry, row: number, col: number): [number, number] {
  const size = g.resolution * g.zoom + GAP;
  return [GAP + col * size, GAP + row * size];
}

/** Sizes the canvas for the geometry and fills it with the gap colour. */
export function prepareCanvas(canvas: HTMLCanvasElement, g: TileGeometry): void {
  const size = g.resolution * g.zoom + GAP;
  canvas.width = GAP + g.cols * size;
  canvas.height = GAP + g.rows * size;
  const ctx = context(canvas);
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
}

/**
 * One image (float [C, R, R] in [-1, 1]) as a tile: clipped and truncated to uint8 exactly as
 * generate.py writes PNGs, grey images repeated over R, G and B.
 */
export function drawTile(
  canvas: HTMLCanvasElement,
  g: TileGeometry,
  image: Float64Array,
  row: number,
  col: number,
): void {
  const { resolution: R, channels: C, zoom } = g;
  const px = toUint8(image);
  const side = R * zoom;
  const rgba = new Uint8ClampedArray(side * side * 4);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const src = Math.floor(y / zoom) * R + Math.floor(x / zoom);
      const dst = (y * side + x) * 4;
      for (let c = 0; c < 3; c++) rgba[dst + c] = px[(C === 1 ? 0 : c) * R * R + src] as number;
      rgba[dst + 3] = 255;
    }
  }
  const [ox, oy] = tileOrigin(g, row, col);
  context(canvas).putImageData(new ImageData(rgba, side, side), ox, oy);
}

function context(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  // willReadFrequently: the tests (and nothing else) read pixels back; it also keeps the canvas
  // on the CPU, where putImageData is cheapest.
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser gives no 2D canvas context');
  return ctx;
}
