/** Distribution helpers for the kernel tests: quantiles, KS statistics, the Beta CDF. */

export function quantile(sorted: Float64Array, level: number): number {
  // numpy's default (linear interpolation between order statistics).
  const pos = level * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return (sorted[lo] as number) + (pos - lo) * ((sorted[hi] as number) - (sorted[lo] as number));
}

export function ksStatistic(sample: ArrayLike<number>, cdf: (x: number) => number): number {
  const s = Float64Array.from(sample).sort();
  let d = 0;
  for (let i = 0; i < s.length; i++) {
    const f = cdf(s[i] as number);
    d = Math.max(d, f - i / s.length, (i + 1) / s.length - f);
  }
  return d;
}

export function ks2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i] as number, y[j] as number);
    while (i < x.length && (x[i] as number) <= v) i++;
    while (j < y.length && (y[j] as number) <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** ln Gamma(x), x > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative). */
export function lgamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betacf(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let h = d;
  for (let m = 1; m <= 100_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) return h;
  }
  throw new Error(`betacf did not converge for a=${a}, b=${b}, x=${x}`);
}

/** Regularised incomplete beta I_x(a, b): the CDF of Beta(a, b). */
export function betaCdf(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(
    lgamma(a + b) - lgamma(a) - lgamma(b) + a * Math.log(x) + b * Math.log1p(-x),
  );
  return x < (a + 1) / (a + b + 2)
    ? (front * betacf(a, b, x)) / a
    : 1 - (front * betacf(b, a, 1 - x)) / b;
}

/**
 * Law of v = |n|^2 / (sigma^2 N) for the unclipped kernel: v = (D / N) rho, rho ~ BetaPrime(N/2,
 * D/2) (raw moments E rho^k = prod_{i=1..k} (a + i - 1) / (b - i), b > k); D = Infinity is
 * chi^2_N / N. Returns the mean, the variance (D > 4) and the standard error of a sample
 * variance of `count` draws, sqrt((mu4 - var^2) / count) (NaN for D <= 8: no fourth moment).
 */
export function radiusSqLaw(
  N: number,
  D: number,
  count: number,
): { mean: number; variance: number; varianceSe: number } {
  let mean: number;
  let variance: number;
  let mu4: number;
  if (!Number.isFinite(D)) {
    mean = 1;
    variance = 2 / N;
    mu4 = (12 * N * N + 48 * N) / N ** 4;
  } else {
    const a = N / 2;
    const b = D / 2;
    if (!(b > 2)) throw new RangeError(`radiusSqLaw: the variance needs D > 4, got ${D}`);
    const c = D / N;
    const raw = [1, 2, 3, 4].map((k) => {
      if (b <= k) return Number.NaN;
      let m = 1;
      for (let i = 1; i <= k; i++) m *= (a + i - 1) / (b - i);
      return m * c ** k;
    });
    const [m1, m2, m3, m4] = raw as [number, number, number, number];
    mean = m1;
    variance = m2 - m1 * m1;
    mu4 = m4 - 4 * m3 * m1 + 6 * m2 * m1 * m1 - 3 * m1 ** 4;
  }
  return { mean, variance, varianceSe: Math.sqrt((mu4 - variance * variance) / count) };
}
