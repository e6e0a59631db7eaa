/**
 * DIR/robustness.png: the paper's robustness figure at MNIST scale. Three columns (alpha
 * perturbation, NFE, weight bits), one line per D; the top row is the Frechet distance in the
 * digit classifier's features (log scale, lower is better), the second the share of samples
 * classified with confidence > 0.9, a third FID when it was measured. Each point is the mean over the seed ranges with a bar of
 * +- one standard deviation.
 */
import { Canvas, type Rgb, textWidth } from '../canvas.ts';
import type { Axis } from './plan.ts';
import { formatD } from './plan.ts';
import type { Curve, CurvePoint, Summary } from './results.ts';

const PALETTE: readonly Rgb[] = [
  [214, 39, 40],
  [255, 127, 14],
  [44, 160, 44],
  [31, 119, 180],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];

const PANEL = { w: 300, h: 200 };
const MARGIN = { left: 58, right: 16, top: 44, bottom: 40 };
const TITLES: Record<Axis, string> = {
  alpha: 'alpha perturbation',
  nfe: 'NFE (sampling steps)',
  bits: 'weight bits (32 = float)',
};

const fmt = (v: number) =>
  v === 0
    ? '0'
    : Math.abs(v) >= 1000 || Math.abs(v) < 0.01
      ? v.toExponential(0)
      : String(Number(v.toPrecision(2)));

interface Row {
  label: string;
  log: boolean;
  value: (s: CurvePoint) => Summary | undefined;
  scale: number;
}

const ROWS: readonly Row[] = [
  { label: 'Frechet distance (classifier features)', log: true, value: (p) => p.frechet, scale: 1 },
  { label: 'confident share (%)', log: false, value: (p) => p.confident, scale: 100 },
  { label: 'FID (Inception)', log: true, value: (p) => p.fid, scale: 1 },
];

/** The PNG bytes of the figure. */
export function robustnessFigure(curves: readonly Curve[], Ds: readonly number[]): Uint8Array {
  const axes: Axis[] = ['alpha', 'nfe', 'bits'];
  const cellW = MARGIN.left + PANEL.w + MARGIN.right;
  const cellH = MARGIN.top + PANEL.h + MARGIN.bottom;
  const legendH = 24;
  // The FID row only when every point has one.
  const rows = ROWS.filter((row) => curves.every((cv) => cv.points.every((p) => row.value(p))));
  const c = new Canvas(cellW * axes.length, cellH * rows.length + legendH);
  Ds.forEach((D, k) => {
    const x = 12 + k * 110;
    const color = PALETTE[k % PALETTE.length] as Rgb;
    c.thickLine(x, 12, x + 24, 12, color, 3);
    c.text(x + 30, 8, `D = ${formatD(D)}`, BLACK, 2);
  });
  rows.forEach((row, r) => {
    axes.forEach((axis, a) => {
      const ox = a * cellW + MARGIN.left;
      const oy = legendH + r * cellH + MARGIN.top;
      panel(
        c,
        ox,
        oy,
        axis,
        row,
        curves.filter((cv) => cv.axis === axis),
        Ds,
      );
    });
  });
  return c.png();
}

function panel(
  c: Canvas,
  ox: number,
  oy: number,
  axis: Axis,
  row: Row,
  curves: readonly Curve[],
  Ds: readonly number[],
): void {
  const { w, h } = PANEL;
  c.text(ox, oy - 30, TITLES[axis], BLACK, 2);
  c.text(ox, oy - 12, row.label, [90, 90, 90]);
  const xs = [...new Set(curves.flatMap((cv) => cv.points.map((p) => p.x)))].sort((a, b) => a - b);
  // Bits are categories (3, 4, 5, 6, 8, 16, 32): equally spaced; alpha and NFE are to scale.
  const categorical = axis === 'bits';
  const [x0, x1] = categorical
    ? [0, Math.max(xs.length - 1, 1)]
    : [xs[0] ?? 0, xs[xs.length - 1] ?? 1];
  const px = (x: number) => {
    const v = categorical ? xs.indexOf(x) : x;
    return ox + 8 + ((v - x0) / Math.max(x1 - x0, 1e-12)) * (w - 16);
  };
  const lows: number[] = [];
  const highs: number[] = [];
  for (const cv of curves) {
    for (const p of cv.points) {
      const s = row.value(p) as Summary;
      lows.push((s.mean - s.std) * row.scale);
      highs.push((s.mean + s.std) * row.scale);
    }
  }
  let lo = Math.min(...lows);
  let hi = Math.max(...highs);
  if (row.log) {
    lo = Math.log10(Math.max(Math.min(...lows.filter((v) => v > 0), hi), 1e-3));
    hi = Math.log10(Math.max(hi, 1e-3));
  } else {
    lo = Math.max(0, lo - 5);
    hi = Math.min(100, hi + 5);
  }
  if (!(hi > lo)) hi = lo + 1;
  const py = (v: number) => {
    const t = row.log ? Math.log10(Math.max(v, 1e-3)) : v;
    return oy + h - ((t - lo) / (hi - lo)) * h;
  };
  // Axes, a grid line per tick, tick labels.
  const ticks = row.log ? logTicks(lo, hi) : linearTicks(lo, hi);
  for (const t of ticks) {
    const y = py(t);
    c.line(ox, y, ox + w, y, GRID);
    c.text(ox - 6 - textWidth(fmt(t)), y - 2, fmt(t), BLACK);
  }
  for (const x of xs) {
    c.line(px(x), oy + h, px(x), oy + h + 3, BLACK);
    const label = String(x);
    c.text(px(x) - textWidth(label) / 2, oy + h + 7, label, BLACK);
  }
  c.line(ox, oy + h, ox + w, oy + h, BLACK);
  c.line(ox, oy, ox, oy + h, BLACK);
  // One line per D with +- std bars.
  Ds.forEach((D, k) => {
    const cv = curves.find((q) => q.D === D);
    if (!cv) return;
    const color = PALETTE[k % PALETTE.length] as Rgb;
    let prev: [number, number] | null = null;
    for (const p of cv.points) {
      const s = row.value(p) as Summary;
      const X = px(p.x);
      const Y = py(s.mean * row.scale);
      const top = py((s.mean + s.std) * row.scale);
      const bottom = py(Math.max((s.mean - s.std) * row.scale, row.log ? 1e-3 : 0));
      c.line(X, top, X, bottom, color);
      c.line(X - 3, top, X + 3, top, color);
      c.line(X - 3, bottom, X + 3, bottom, color);
      c.rect(X - 2, Y - 2, 5, 5, color);
      if (prev) c.thickLine(prev[0], prev[1], X, Y, color, 2);
      prev = [X, Y];
    }
  });
}

/** 1, 2, 5 x 10^k inside [10^lo, 10^hi] (log10 bounds); on a narrow range, every m x 10^k. */
function logTicks(lo: number, hi: number): number[] {
  const within = (mantissas: readonly number[]) => {
    const out: number[] = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
      for (const m of mantissas) {
        const l = Math.log10(m * 10 ** e);
        if (l >= lo - 1e-9 && l <= hi + 1e-9) out.push(m * 10 ** e);
      }
    }
    return out;
  };
  const coarse = within(hi - lo > 2.5 ? [1] : [1, 2, 5]);
  if (coarse.length >= 2) return coarse;
  const fine = within([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return fine.length >= 2 ? fine : [10 ** lo, 10 ** hi];
}

function linearTicks(lo: number, hi: number): number[] {
  const step = [1, 2, 5, 10, 20, 25, 50].find((s) => (hi - lo) / s <= 6) ?? 50;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
  return out;
}
