/** Statistics helpers for the random-number tests. */
import { erf } from '@pfgmpp/tensor/reference';

export const normalCdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));

/** Two-sided Kolmogorov-Smirnov statistic of a sample against a CDF. */
export function ksStatistic(sample: ArrayLike<number>, cdf: (x: number) => number): number {
  const s = Float64Array.from(sample).sort();
  let d = 0;
  for (let i = 0; i < s.length; i++) {
    const f = cdf(s[i] as number);
    d = Math.max(d, f - i / s.length, (i + 1) / s.length - f);
  }
  return d;
}
