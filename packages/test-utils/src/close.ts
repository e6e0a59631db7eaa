/** Closeness checks that print the first mismatches and the largest error on failure. */
export interface Tol {
  atol: number;
  rtol: number;
}

function same(a: number, b: number, tol: Tol): boolean {
  if (Number.isNaN(b)) return Number.isNaN(a);
  if (!Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= tol.atol + tol.rtol * Math.abs(b);
}

/** Throws unless |actual - expected| <= atol + rtol*|expected| everywhere (NaN/Inf must match). */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol,
  label = '',
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  }
  const bad: string[] = [];
  let count = 0;
  let maxErr = 0;
  let maxAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (!same(a, e, tol)) {
      count++;
      if (bad.length < 5) bad.push(`  [${i}] got ${a}, expected ${e}`);
    }
    const err = Math.abs(a - e);
    if (Number.isFinite(err) && err > maxErr) {
      maxErr = err;
      maxAt = i;
    }
  }
  if (count > 0) {
    throw new Error(
      `${label}: ${count} of ${expected.length} values differ (atol ${tol.atol}, rtol ${tol.rtol}); ` +
        `max |error| ${maxErr.toExponential(3)} at [${maxAt}]\n${bad.join('\n')}`,
    );
  }
}

/**
 * Throws unless max|actual - expected| <= rtol * max|expected| (+ atol): the reference
 * fixtures' metric, which judges every element against the tensor's scale instead of its own
 * magnitude (near-zero elements of a float32 result carry absolute, not relative, error).
 */
export function expectCloseToScale(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  label = '',
  atol = 0,
): number {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  }
  let scale = 0;
  let maxErr = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    const a = actual[i] as number;
    scale = Math.max(scale, Math.abs(e));
    const err = Math.abs(a - e);
    if (!(err <= maxErr)) {
      maxErr = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err;
      at = i;
    }
  }
  const limit = atol + rtol * scale;
  if (!(maxErr <= limit)) {
    throw new Error(
      `${label}: max |error| ${maxErr.toExponential(3)} at [${at}] (got ${actual[at]}, expected ${expected[at]}) ` +
        `exceeds ${limit.toExponential(3)} = ${atol} + ${rtol} * max|expected| ${scale.toExponential(3)}`,
    );
  }
  return scale === 0 ? maxErr : maxErr / scale;
}
