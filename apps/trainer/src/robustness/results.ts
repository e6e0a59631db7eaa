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

/** The harshest setting of a sweep: largest alpha, fewest NFE, fewest bits. */
export function harshest(axis: Axis, points: readonly CurvePoint[]): CurvePoint | undefined {
  return axis === 'alpha' ? points[points.length - 1] : points[0];
}

export interface Degradation {
  D: number;
  axis: Axis;
  x: number;
  /** Frechet distance at the harshest setting minus at the baseline. */
  increase: number;
  /** Standard error of that difference from the spread of both points over the seed ranges. */
  se: number;
}

export function degradations(curves: readonly Curve[]): Degradation[] {
  const out: Degradation[] = [];
  for (const c of curves) {
    const worst = harshest(c.axis, c.points);
    const base = baselineOf(curves, c.D);
    if (!worst || !base) continue;
    const k = worst.frechet.values.length;
    const se = Math.sqrt((worst.frechet.std ** 2 + base.frechet.std ** 2) / k);
    out.push({
      D: c.D,
      axis: c.axis,
      x: worst.x,
      increase: worst.frechet.mean - base.frechet.mean,
      se,
    });
  }
  return out;
}

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
 * Per sweep: is the degradation ordered by D (smaller D, smaller increase)? A pair of
 * neighbouring D values counts as ordered, reversed, or within noise (difference < 2 se).
 */
export function trendLines(degs: readonly Degradation[], plan: Plan): string[] {
  const lines: string[] = [];
  for (const axis of ['alpha', 'nfe', 'bits'] as const) {
    const row = plan.D.map((D) => degs.find((d) => d.D === D && d.axis === axis)).filter(
      (d): d is Degradation => d !== undefined,
    );
    if (row.length < 2) continue;
    const verdicts = row.slice(1).map((b, i) => {
      const a = row[i] as Degradation;
      const diff = b.increase - a.increase;
      const se = Math.hypot(a.se, b.se);
      const tag =
        Math.abs(diff) < 2 * se
          ? 'within noise'
          : diff > 0
            ? 'smaller D degrades less'
            : 'smaller D degrades MORE';
      return `D = ${formatD(a.D)} vs ${formatD(b.D)}: ${tag}`;
    });
    const ordered = verdicts.every((v) => v.endsWith('smaller D degrades less'));
    const reversed = verdicts.some((v) => v.endsWith('MORE'));
    const x = X_NAME[axis]((row[0] as Degradation).x);
    lines.push(
      `- ${AXIS_NAME[axis]} (${x}): ${ordered ? "the paper's trend holds" : reversed ? "the paper's trend is contradicted" : "the paper's trend is not resolved"} ` +
        `(Frechet increase over each model's baseline: ${row
          .map(
            (d) =>
              `D = ${formatD(d.D)} ${d.increase >= 0 ? '+' : ''}${d.increase.toFixed(2)} ± ${d.se.toFixed(2)}`,
          )
          .join(', ')}; ${verdicts.join('; ')})`,
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
