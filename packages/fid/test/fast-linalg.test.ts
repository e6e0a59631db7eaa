/**
 * The blocked WebAssembly tr((S1 S2)^1/2) (fast-linalg.ts) against the textbook reference
 * (linalg.ts) on odd sizes, full-rank and singular covariances, with the tuned blocks and with
 * tiny ones that put every panel, strip and packing edge inside a small matrix; exact cases
 * (commuting diagonal matrices with zeros, S1 = S2, zero matrices, ranks at panel edges); the
 * stored singular pytorch-fid/EDM case in both orders; NaN in, NaN out.
 */
import { seeded } from '@pfgmpp/test-utils';
import { describe, expect, it } from 'vitest';
import {
  type Blocking,
  DEFAULT_BLOCKING,
  frechetDistance,
  traceSqrtProduct,
  traceSqrtProductReference,
  tridiagonalEigenvalues,
} from '../src/index.ts';
import { arrayOf, fixtureJson, fixtureNpz } from './fixtures.ts';

/** X^T X / m for m random rows of n correlated features: positive semi-definite, rank min(m, n). */
function gram(n: number, m: number, seed: number): Float64Array {
  const r = seeded(seed);
  const x = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const common = r() - 0.5;
    for (let j = 0; j < n; j++) x[i * n + j] = r() - 0.5 + common * ((j % 5) / 4) + 0.1 * (j % 3);
  }
  const s = new Float64Array(n * n);
  for (let i = 0; i < m; i++)
    for (let a = 0; a < n; a++) {
      const v = (x[i * n + a] as number) / m;
      for (let b = 0; b < n; b++)
        s[a * n + b] = (s[a * n + b] as number) + v * (x[i * n + b] as number);
    }
  return s;
}

function diag(values: readonly number[]): Float64Array {
  const n = values.length;
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) s[i * n + i] = values[i] as number;
  return s;
}

const rel = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

/** Panels of 3 columns, products packed in 8 x 5 and 5 x 8 blocks, strips of 7 rows. */
const TINY: Blocking = { nb: 3, mc: 8, kc: 5, nc: 8, rows: 7 };
/** Enough blocks along every dimension of a 257 x 257 problem without a million calls. */
const SMALL: Blocking = { nb: 10, mc: 12, kc: 37, nc: 40, rows: 33 };

describe('traceSqrtProduct (blocked, WebAssembly SIMD)', () => {
  it('equals the reference on odd sizes, full rank and singular, in both orders', () => {
    for (const n of [1, 2, 3, 17, 65, 257]) {
      const full = 2 * n + 3;
      const half = Math.ceil(n / 2);
      const third = Math.ceil(n / 3);
      for (const [m1, m2] of [
        [full, full + 2],
        [half, full],
        [full, third],
        [half, third],
      ] as const) {
        const s1 = gram(n, m1, n + m1);
        const s2 = gram(n, m2, 7 * n + m2);
        const want = traceSqrtProductReference(s1, s2, n);
        // Observed: at most 2e-13 (n = 257 with 517 samples, the worst conditioned), 7e-14
        // where singular (the round-off eigenvalues fall under the cut in both methods).
        for (const b of [DEFAULT_BLOCKING, n > 65 ? SMALL : TINY]) {
          const got = traceSqrtProduct(s1, s2, n, b);
          expect(rel(got, want), `n ${n}, samples ${m1}/${m2}, nb ${b.nb}`).toBeLessThan(1e-12);
        }
      }
    }
  });

  it('exact cases: commuting diagonals with zeros, S1 = S2, zeros, rank at panel edges', () => {
    // Diagonal: sum sqrt(a_i b_i); the zeros of S1 (every 7th, and the last 5) make it singular
    // with pivots out of order across panels; those of S2 zero further terms.
    const n = 75;
    const a = Array.from({ length: n }, (_, i) =>
      i % 7 === 3 || i >= n - 5 ? 0 : 1 + ((i * 37) % 11),
    );
    const b = Array.from({ length: n }, (_, i) => (i % 13 === 0 ? 0 : 0.5 + ((i * 17) % 5)));
    const want = a.reduce((p, ai, i) => p + Math.sqrt(ai * (b[i] as number)), 0);
    for (const blk of [DEFAULT_BLOCKING, TINY]) {
      expect(rel(traceSqrtProduct(diag(a), diag(b), n, blk), want)).toBeLessThan(1e-14);
      expect(rel(traceSqrtProduct(diag(b), diag(a), n, blk), want)).toBeLessThan(1e-14);
    }
    // S1 = S2 = S: tr((S S)^1/2) = tr S, full rank and singular.
    for (const m of [150, 40]) {
      const s = gram(70, m, m);
      let tr = 0;
      for (let i = 0; i < 70; i++) tr += s[i * 70 + i] as number;
      for (const blk of [DEFAULT_BLOCKING, TINY])
        expect(rel(traceSqrtProduct(s, s, 70, blk), tr)).toBeLessThan(1e-12);
    }
    // Zero matrices (either side) give 0; so does n = 0.
    const s = gram(40, 60, 1);
    const zero = new Float64Array(40 * 40);
    expect(traceSqrtProduct(zero, s, 40)).toBe(0);
    expect(traceSqrtProduct(s, zero, 40)).toBe(0);
    expect(traceSqrtProduct(zero, zero, 40)).toBe(0);
    expect(traceSqrtProduct(new Float64Array(0), new Float64Array(0), 0)).toBe(0);
    // A NaN or infinity anywhere gives NaN (not the 0 of a rank-0 factor).
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const t = Float64Array.from(s);
      t[5 * 40 + 3] = bad;
      expect(traceSqrtProduct(t, s, 40)).toBeNaN();
      expect(traceSqrtProduct(s, t, 40)).toBeNaN();
    }
    // The Cholesky stops exactly at the end of a panel (rank 32 and 64 with 32-column panels;
    // 6 and 9 with 3-column ones), or one column after.
    for (const rank of [32, 33, 64, 6, 9, 10]) {
      const s1 = gram(70, rank, rank);
      const s2 = gram(70, 100, 5);
      const want = traceSqrtProductReference(s1, s2, 70);
      for (const blk of [DEFAULT_BLOCKING, TINY])
        expect(rel(traceSqrtProduct(s1, s2, 70, blk), want), `rank ${rank}`).toBeLessThan(1e-12);
    }
  });

  it('tridiagonalEigenvalues: the 1-D Laplacian has eigenvalues 2 - 2 cos(k pi / (n + 1))', () => {
    for (const n of [1, 2, 3, 17, 65]) {
      const got = tridiagonalEigenvalues(new Float64Array(n).fill(2), new Float64Array(n).fill(-1));
      for (let k = 1; k <= n; k++)
        expect(
          Math.abs((got[k - 1] as number) - (2 - 2 * Math.cos((k * Math.PI) / (n + 1)))),
        ).toBeLessThan(1e-14);
    }
  });

  it('reproduces the stored singular pytorch-fid/EDM case (ranks 11 and 14 in 24-d) both ways', () => {
    const ref = (fixtureJson('fid_cases.json') as Record<string, { fid_edm: number }>).rankdef;
    const stats = (file: string) => {
      const npz = fixtureNpz(file);
      return { mu: arrayOf(npz, 'mu'), sigma: arrayOf(npz, 'sigma') };
    };
    const a = stats('ref_rankdef_A.npz');
    const b = stats('ref_rankdef_B.npz');
    const want = (ref as { fid_edm: number }).fid_edm;
    expect(rel(frechetDistance(a, b), want)).toBeLessThan(1e-6);
    expect(rel(frechetDistance(b, a), want)).toBeLessThan(1e-6);
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const reference = traceSqrtProductReference(x.sigma, y.sigma, 24);
      // The stored values differ at 1e-8 from every method (metrics.test.ts); the two paths
      // here agree to 1e-14.
      expect(rel(traceSqrtProduct(x.sigma, y.sigma, 24, TINY), reference)).toBeLessThan(1e-12);
    }
  });
});
