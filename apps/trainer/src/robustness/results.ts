/**
 * Stage 3 of `pfgmpp robustness`: the scores gathered into curves (one per D and sweep, each
 * point a mean over the seed ranges with its spread), written as DIR/results.json, and the
 * plain-language summary of DIR/report.md: how much each D degrades from its own baseline at the
 * harshest setting of each sweep, and whether smaller D degrades less beyond the noise.
 */
import type { PointScore } from './measure.ts';
import { type Axis, BASELINE, formatD, nfe, type Plan, type Setting } from './plan.ts';

export interface Summary {
  mean: number;
  /** Sample standard deviation over the seed ranges. */
  std: number;
  values: number[];
}

export interface CurvePoint {
  /** alpha, NFE, or bits (32 for float weights). */
  x: number;
  setting: Setting;
  frechet: Summary;
  confident: Summary;
  /** When the Inception weights were present. */
  fid?: Summary;
}

export interface Curve {
  D: number;
  axis: Axis;
  points: CurvePoint[];
}

export function summarize(values: number[]): Summary {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, values };
}

const FLOAT_BITS = 32;

const isBaseline = (s: Setting) =>
  s.alpha === BASELINE.alpha && s.steps === BASELINE.steps && s.bits === undefined;

/** Where a setting sits on a sweep's axis, or null; the baseline is on every axis. */
const onAxis = (axis: Axis, s: Setting, plan: Plan): number | null => {
  if (axis === 'alpha')
    return isBaseline(s) ||
      (s.steps === BASELINE.steps && s.bits === undefined && plan.alphas.includes(s.alpha))
      ? s.alpha
      : null;
  if (axis === 'nfe')
    return isBaseline(s) || (s.alpha === 0 && s.bits === undefined && plan.steps.includes(s.steps))
      ? nfe(s.steps)
      : null;
  if (isBaseline(s)) return FLOAT_BITS;
  return s.alpha === 0 &&
    s.steps === BASELINE.steps &&
    s.bits !== undefined &&
    plan.bits.includes(s.bits)
    ? s.bits
    : null;
};

/** The baseline point of a D (alpha 0, 18 steps, float32 weights). */
export function baselineOf(curves: readonly Curve[], D: number): CurvePoint | undefined {
  return curves
    .find((c) => c.D === D && c.axis === 'alpha')
    ?.points.find((p) => isBaseline(p.setting));
}

/** One curve per D and axis, points sorted by x; the bits curve ends at float32 (x = 32). */
export function curvesOf(scores: readonly PointScore[], plan: Plan): Curve[] {
  const curves: Curve[] = [];
  for (const D of plan.D) {
    for (const axis of ['alpha', 'nfe', 'bits'] as const) {
      const points: CurvePoint[] = [];
      for (const p of scores) {
        if ((p.D === 'inf' ? Number.POSITIVE_INFINITY : p.D) !== D) continue;
        const x = onAxis(axis, p.setting, plan);
        if (x === null) continue;
        points.push({
          x,
          setting: p.setting,
          frechet: summarize(p.ranges.map((r) => r.frechet)),
          confident: summarize(p.ranges.map((r) => r.confident)),
          ...(p.ranges.every((r) => r.fid !== undefined) && {
            fid: summarize(p.ranges.map((r) => r.fid as number)),
          }),
        });
      }
      points.sort((a, b) => a.x - b.x);
      curves.push({ D, axis, points });
    }
  }
  return curves;
}

export interface Degradation {
  D: number;
  axis: Axis;
  x: number;
  /** Frechet distance at the setting minus at the baseline, averaged over the seed ranges. */
  increase: number;
  /**
   * Standard error of that mean. Both points sample the same seeds, so the difference is taken
   * range by range (paired) and its spread over the ranges gives the error.
   */
  se: number;
}

/** The degradation of every non-baseline point of every curve. */
export function degradations(curves: readonly Curve[]): Degradation[] {
  const out: Degradation[] = [];
  for (const c of curves) {
    const base = baselineOf(curves, c.D);
    if (!base) continue;
    for (const p of c.points) {
      if (isBaseline(p.setting)) continue;
      const diffs = p.frechet.values.map((v, k) => v - (base.frechet.values[k] as number));
      const d = summarize(diffs);
      out.push({
        D: c.D,
        axis: c.axis,
        x: p.x,
        increase: d.mean,
        se: d.std / Math.sqrt(diffs.length),
      });
    }
  }
  return out;
}

/** Smaller D degrades less, more, or the two are within 2 standard errors. */
function compare(a: Degradation, b: Degradation): 'less' | 'MORE' | 'noise' {
  const diff = b.increase - a.increase;
  if (Math.abs(diff) <= 2 * Math.hypot(a.se, b.se)) return 'noise';
  return diff > 0 ? 'less' : 'MORE';
}
const SAYS = {
  less: 'smaller D degrades less',
  MORE: 'smaller D degrades MORE',
  noise: 'within noise',
};

const AXIS_NAME: Record<Axis, string> = {
  alpha: 'alpha perturbation',
  nfe: 'fewer sampling steps',
  bits: 'weight quantization',
};
const X_NAME: Record<Axis, (x: number) => string> = {
  alpha: (x) => `alpha = ${x}`,
  nfe: (x) => `NFE = ${x}`,
  bits: (x) => (x === FLOAT_BITS ? 'float32' : `${x} bits`),
};

/**
 * Per sweep, at its harshest setting: is the degradation ordered by D (smaller D, smaller
 * increase)? Each pair of neighbouring D values is ordered, reversed or within noise; the sweep
 * "holds" when every pair is ordered, is "contradicted" when one is reversed, and otherwise is
 * "not resolved" (saying whether the means at least fall in order). A last clause compares the
 * smallest and the largest D at every setting of the sweep.
 */
export function trendLines(degs: readonly Degradation[], plan: Plan): string[] {
  const lines: string[] = [];
  for (const axis of ['alpha', 'nfe', 'bits'] as const) {
    const mine = degs.filter((d) => d.axis === axis);
    const xs = [...new Set(mine.map((d) => d.x))].sort((a, b) => a - b);
    const worstX = axis === 'alpha' ? xs[xs.length - 1] : xs[0];
    const at = (x: number | undefined) =>
      plan.D.map((D) => mine.find((d) => d.D === D && d.x === x)).filter(
        (d): d is Degradation => d !== undefined,
      );
    const row = at(worstX);
    if (row.length < 2) continue;
    const pairs = row
      .slice(1)
      .map((b, i) => ({ a: row[i] as Degradation, b, c: compare(row[i] as Degradation, b) }));
    const meansInOrder = row
      .slice(1)
      .every((b, i) => b.increase > (row[i] as Degradation).increase);
    const verdict = pairs.every((p) => p.c === 'less')
      ? "the paper's trend holds"
      : pairs.some((p) => p.c === 'MORE')
        ? "the paper's trend is contradicted"
        : `the paper's trend is not resolved (${meansInOrder ? 'the means fall in its order, but' : 'the means are not in its order, and'} neighbouring D values are within noise)`;
    const fmtInc = (d: Degradation) =>
      `D = ${formatD(d.D)} ${d.increase >= 0 ? '+' : ''}${d.increase.toFixed(2)} ± ${d.se.toFixed(2)}`;
    const ends = xs
      .map((x) => {
        const r = at(x);
        return r.length >= 2
          ? `${X_NAME[axis](x)}: ${SAYS[compare(r[0] as Degradation, r[r.length - 1] as Degradation)]}`
          : null;
      })
      .filter((t) => t !== null);
    const [lo, hi] = [row[0] as Degradation, row[row.length - 1] as Degradation];
    lines.push(
      `- ${AXIS_NAME[axis]} (${X_NAME[axis](worstX as number)}): ${verdict}. ` +
        `Frechet increase over each model's baseline: ${row.map(fmtInc).join(', ')}; ` +
        `${pairs.map((p) => `D = ${formatD(p.a.D)} vs ${formatD(p.b.D)}: ${SAYS[p.c]}`).join('; ')}. ` +
        `D = ${formatD(lo.D)} vs ${formatD(hi.D)} at every setting: ${ends.join('; ')}.`,
    );
  }
  return lines;
}

/** The report's tables: one per sweep, a row per setting, a column per D ("mean ± std"). */
export function tables(curves: readonly Curve[], plan: Plan): string[] {
  const out: string[] = [];
  for (const axis of ['alpha', 'nfe', 'bits'] as const) {
    const xs = [
      ...new Set(curves.filter((c) => c.axis === axis).flatMap((c) => c.points.map((p) => p.x))),
    ].sort((a, b) => a - b);
    out.push(`### ${AXIS_NAME[axis]}`, '');
    out.push(
      `| ${axis === 'alpha' ? 'alpha' : axis === 'nfe' ? 'NFE (steps)' : 'weights'} | ${plan.D.map((D) => `D = ${formatD(D)}`).join(' | ')} |`,
    );
    out.push(`| --- | ${plan.D.map(() => '---').join(' | ')} |`);
    for (const x of xs) {
      const label = axis === 'nfe' ? `${x} (${(x + 1) / 2})` : X_NAME[axis](x);
      const cells = plan.D.map((D) => {
        const p = curves.find((c) => c.D === D && c.axis === axis)?.points.find((q) => q.x === x);
        if (!p) return '-';
        const fid = p.fid ? `; FID ${p.fid.mean.toFixed(1)} ± ${p.fid.std.toFixed(1)}` : '';
        return `${p.frechet.mean.toFixed(2)} ± ${p.frechet.std.toFixed(2)} (${(100 * p.confident.mean).toFixed(0)}%${fid})`;
      });
      out.push(`| ${label} | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  return out;
}
