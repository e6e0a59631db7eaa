/**
 * The quality floors of the shipped MNIST checkpoints: the least share of their samples the
 * digit classifier must score on the gate's budget (seeds 0-63, EDM Heun, 18 steps; image k of
 * the conditional model asks for digit k % 10, as in the demo). test/shipped-quality.test.ts
 * holds the checkpoints to them, and the demo prints its verdict with them.
 *
 * Measured on that budget (2026-12-06, lavapipe): conditional 85.9% confident, 89.1% as the
 * digit asked for; unconditional 73.4% confident. 64 samples give a standard error of about
 * 4 points, so the floors sit 2-3 samples below the conditional figures: room for another
 * adapter's rounding, none for a broken sampler or checkpoint (wrong labels, 2 steps, random
 * weights all fail).
 */

/** Samples of the gate: seeds 0..GATE_SAMPLES-1. */
export const GATE_SAMPLES = 64;
/** Sampler steps of the gate (the default of `generate`, `quality` and the demo). */
export const GATE_STEPS = 18;

export const QUALITY_FLOORS = {
  /** Class-conditional checkpoint: classified with confidence > 0.9, and as the digit asked for. */
  conditional: { confident: 0.8, asked: 0.85 },
  /** Unconditional checkpoint: classified with confidence > 0.9. */
  unconditional: { confident: 0.6 },
  /**
   * Distinct digits the samples must be classified as (both checkpoints; measured: each digit
   * 3 to 10 times). Confidence alone misses a collapse: 2 sampler steps give one blurred mean
   * image that is a confident "1" (98% confident, 62 of 64 samples a 1).
   */
  digitsSeen: 10,
} as const;

/** The figures of `confidence()` that the floors apply to. */
export interface DigitScore {
  confidentShare: number;
  /** Share classified as the digit asked for (conditional only; NaN otherwise). */
  accuracy: number;
  /** How many samples are classified as each digit 0-9. */
  histogram: number[];
}

/** The floors a score misses, as readable phrases; empty when it meets them all. */
export function missedFloors(score: DigitScore, conditional: boolean): string[] {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const missed: string[] = [];
  const f = conditional ? QUALITY_FLOORS.conditional : QUALITY_FLOORS.unconditional;
  if (!(score.confidentShare >= f.confident))
    missed.push(`confident ${pct(score.confidentShare)} < ${pct(f.confident)}`);
  if (conditional && !(score.accuracy >= QUALITY_FLOORS.conditional.asked))
    missed.push(`as asked ${pct(score.accuracy)} < ${pct(QUALITY_FLOORS.conditional.asked)}`);
  const seen = score.histogram.filter((k) => k > 0).length;
  if (seen < QUALITY_FLOORS.digitsSeen)
    missed.push(`${seen} of ${QUALITY_FLOORS.digitsSeen} digits seen`);
  return missed;
}

/** One line for a report: the floors and whether the score meets them. */
export function floorVerdict(score: DigitScore, conditional: boolean): string {
  const f = QUALITY_FLOORS;
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  const floors = conditional
    ? `>= ${pct(f.conditional.confident)} confident, >= ${pct(f.conditional.asked)} as asked`
    : `>= ${pct(f.unconditional.confident)} confident`;
  const all = `${floors}, all ${f.digitsSeen} digits`;
  const missed = missedFloors(score, conditional);
  return missed.length
    ? `quality floor (${all}): NOT met (${missed.join(', ')})`
    : `quality floor (${all}): met`;
}
