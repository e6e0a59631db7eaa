/**
 * Float64 dense linear algebra for the Frechet distance (WGSL has no f64), the plain textbook
 * versions: Cholesky (plain and pivoted), the symmetric eigenproblem (Householder
 * tridiagonalisation + implicit QL), and tr((S1 S2)^1/2) through the symmetric matrix L^T S2 L
 * (S1 = L L^T), whose nonzero eigenvalues are those of S1 S2. Matrices are row-major
 * Float64Array n x n. `traceSqrtProductReference` here is the readable reference (and the
 * fallback without WebAssembly); fast-linalg.ts computes the same thing blocked, in WebAssembly
 * SIMD, 10-20x faster at n = 2048.
 */

/** Lower Cholesky factor of a symmetric matrix, or null when it is not positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j] as number;
      for (let k = 0; k < j; k++) s -= (l[ri + k] as number) * (l[rj + k] as number);
      if (i === j) {
        if (!(s > 0)) return null;
        l[ri + i] = Math.sqrt(s);
      } else l[ri + j] = s / (l[rj + j] as number);
    }
  }
  return l;
}

export interface SymmetricEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Row j is the unit eigenvector of values[j] (present when asked for). */
  vectors?: Float64Array;
}

/**
 * Eigenvalues (and optionally eigenvectors) of a symmetric matrix: Householder reduction to
 * tridiagonal form, then the implicit QL method with Wilkinson-type shifts (the classic
 * tred2/tql2 pair). `z` holds the transform transposed (z[j*n + k] = V[k][j]) so that every
 * O(n^3) loop walks memory contiguously. `a` is not modified.
 */
export function symmetricEigen(a: Float64Array, n: number, wantVectors = false): SymmetricEigen {
  const z = Float64Array.from(a); // symmetric, so the transpose of V = A is A
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, ...(wantVectors && { vectors: z }) };
  tridiagonalize(z, d, e, n, wantVectors);
  ql(z, d, e, n, wantVectors);
  const order = Array.from(d.keys()).sort((p, q) => (d[p] as number) - (d[q] as number));
  const values = Float64Array.from(order, (i) => d[i] as number);
  if (!wantVectors) return { values };
  const vectors = new Float64Array(n * n);
  for (const [j, i] of order.entries()) vectors.set(z.subarray(i * n, (i + 1) * n), j * n);
  return { values, vectors };
}

function tridiagonalize(
  z: Float64Array,
  d: Float64Array,
  e: Float64Array,
  n: number,
  vec: boolean,
) {
  for (let j = 0; j < n; j++) d[j] = z[j * n + n - 1] as number;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k] as number);
    if (scale === 0) {
      e[i] = d[i - 1] as number;
      for (let j = 0; j < i; j++) {
        d[j] = z[j * n + i - 1] as number;
        z[j * n + i] = 0;
        z[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        const v = (d[k] as number) / scale;
        d[k] = v;
        h += v * v;
      }
      let f = d[i - 1] as number;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        const rj = j * n;
        f = d[j] as number;
        z[i * n + j] = f;
        g = (e[j] as number) + (z[rj + j] as number) * f;
        for (let k = j + 1; k < i; k++) {
          const v = z[rj + k] as number;
          g += v * (d[k] as number);
          e[k] = (e[k] as number) + v * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        const v = (e[j] as number) / h;
        e[j] = v;
        f += v * (d[j] as number);
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = (e[j] as number) - hh * (d[j] as number);
      for (let j = 0; j < i; j++) {
        const rj = j * n;
        f = d[j] as number;
        g = e[j] as number;
        for (let k = j; k < i; k++)
          z[rj + k] = (z[rj + k] as number) - (f * (e[k] as number) + g * (d[k] as number));
        d[j] = z[rj + i - 1] as number;
        z[rj + i] = 0;
      }
    }
    d[i] = h;
  }
  if (vec) {
    // Accumulate the Householder transforms into V (rows of z are V's columns).
    for (let i = 0; i < n - 1; i++) {
      z[i * n + n - 1] = z[i * n + i] as number;
      z[i * n + i] = 1;
      const h = d[i + 1] as number;
      const r1 = (i + 1) * n;
      if (h !== 0) {
        for (let k = 0; k <= i; k++) d[k] = (z[r1 + k] as number) / h;
        for (let j = 0; j <= i; j++) {
          const rj = j * n;
          let g = 0;
          for (let k = 0; k <= i; k++) g += (z[r1 + k] as number) * (z[rj + k] as number);
          for (let k = 0; k <= i; k++) z[rj + k] = (z[rj + k] as number) - g * (d[k] as number);
        }
      }
      for (let k = 0; k <= i; k++) z[r1 + k] = 0;
    }
    for (let j = 0; j < n; j++) {
      d[j] = z[j * n + n - 1] as number;
      z[j * n + n - 1] = 0;
    }
    z[n * n - 1] = 1;
  } else {
    for (let j = 0; j < n; j++) d[j] = z[j * n + j] as number;
  }
  e[0] = 0;
}

/**
 * Eigenvalues of the symmetric tridiagonal matrix with diagonal d and off-diagonal e (e[i]
 * couples i and i + 1), ascending; d and e are overwritten.
 */
export function tridiagonalEigenvalues(d: Float64Array, e: Float64Array): Float64Array {
  const n = d.length;
  if (n === 0) return d;
  // ql() takes the coupling of i - 1 and i at e[i] (tred2's layout).
  e.copyWithin(1, 0, n - 1);
  ql(new Float64Array(0), d, e, n, false);
  return d.sort();
}

/** sqrt(a^2 + b^2); Math.hypot (6-8x slower in V8) only where the squares leave the safe range. */
function hypot(a: number, b: number): number {
  const s = a * a + b * b;
  return s > 1e-290 && s < 1e290 ? Math.sqrt(s) : Math.hypot(a, b);
}

/** Implicit QL with shifts on (d, e), rotating the rows of z too when `vec` (tql2). */
function ql(z: Float64Array, d: Float64Array, e: Float64Array, n: number, vec: boolean) {
  for (let i = 1; i < n; i++) e[i - 1] = e[i] as number;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l] as number) + Math.abs(e[l] as number));
    let m = l;
    while (m < n && Math.abs(e[m] as number) > eps * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error('symmetricEigen: QL iteration did not converge');
        let g = d[l] as number;
        let p = ((d[l + 1] as number) - g) / (2 * (e[l] as number));
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = (e[l] as number) / (p + r);
        d[l + 1] = (e[l] as number) * (p + r);
        const dl1 = d[l + 1] as number;
        let h = g - (d[l] as number);
        for (let i = l + 2; i < n; i++) d[i] = (d[i] as number) - h;
        f += h;
        p = d[m] as number;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1] as number;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * (e[i] as number);
          h = c * p;
          r = hypot(p, e[i] as number);
          e[i + 1] = s * r;
          s = (e[i] as number) / r;
          c = p / r;
          p = c * (d[i] as number) - s * g;
          d[i + 1] = h + s * (c * g + s * (d[i] as number));
          if (vec) {
            const ri = i * n;
            const ri1 = ri + n;
            for (let k = 0; k < n; k++) {
              const t = z[ri1 + k] as number;
              const u = z[ri + k] as number;
              z[ri1 + k] = s * u + c * t;
              z[ri + k] = c * u - s * t;
            }
          }
        }
        p = (-s * s2 * c3 * el1 * (e[l] as number)) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l] as number) > eps * tst1);
    }
    d[l] = (d[l] as number) + f;
    e[l] = 0;
  }
}

/**
 * Cholesky with diagonal pivoting of a symmetric positive semi-definite matrix, stopped at its
 * numerical rank r (the largest remaining pivot below n ulps of the largest diagonal): A = L L^T
 * with L [n, r] stored in rows of length n, rows in A's own order, and `pos[i]` the step at which
 * row i was the pivot (row i is zero past column pos[i]; rows never pivoted are full).
 */
export function pivotedCholesky(
  a: Float64Array,
  n: number,
): { l: Float64Array; rank: number; pos: Int32Array } {
  const l = new Float64Array(n * n);
  const d = new Float64Array(n);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const pos = new Int32Array(n).fill(n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) {
    d[i] = a[i * n + i] as number;
    maxDiag = Math.max(maxDiag, d[i] as number);
  }
  const tol = n * 2 ** -52 * maxDiag;
  let rank = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++)
      if ((d[perm[i] as number] as number) > (d[perm[p] as number] as number)) p = i;
    const j = perm[p] as number;
    if (!((d[j] as number) > tol)) break;
    perm[p] = perm[k] as number;
    perm[k] = j;
    pos[j] = k;
    const pivot = Math.sqrt(d[j] as number);
    const rj = j * n;
    l[rj + k] = pivot;
    for (let i = k + 1; i < n; i++) {
      const r = perm[i] as number;
      const rr = r * n;
      let s = a[rr + j] as number;
      for (let q = 0; q < k; q++) s -= (l[rr + q] as number) * (l[rj + q] as number);
      const v = s / pivot;
      l[rr + k] = v;
      d[r] = (d[r] as number) - v * v;
    }
    rank = k + 1;
  }
  return { l, rank, pos };
}

/**
 * L^T S L ([r, r]) for the pivoted factor L of pivotedCholesky and symmetric S [n, n]. Both
 * products go four rows at a time, so each row of L (first product) and of the result (second)
 * is streamed from memory once per four rows instead of once per row: at n = 2048 the matrices
 * are 32 MB and memory, not arithmetic, sets the pace.
 */
export function congruence(
  f: { l: Float64Array; rank: number; pos: Int32Array },
  s: Float64Array,
  n: number,
): Float64Array {
  const { l, rank: r, pos } = f;
  const rows = Math.ceil(n / 4) * 4;
  // Weight of row i (0 past the end) at column c of a row-major [n, stride] matrix.
  const at = (a: Float64Array, stride: number, i: number, c: number) =>
    i < n ? (a[i * stride + c] as number) : 0;
  // T = S L ([rows, r], rows past n stay 0): rows j of L are zero past column pos[j].
  const t = new Float64Array(rows * r);
  for (let i = 0; i < n; i += 4) {
    const [t0, t1, t2, t3] = [i * r, (i + 1) * r, (i + 2) * r, (i + 3) * r];
    for (let j = 0; j < n; j++) {
      const v0 = at(s, n, i, j);
      const v1 = at(s, n, i + 1, j);
      const v2 = at(s, n, i + 2, j);
      const v3 = at(s, n, i + 3, j);
      const lj = j * n;
      const end = Math.min(pos[j] as number, r - 1);
      for (let k = 0; k <= end; k++) {
        const x = l[lj + k] as number;
        t[t0 + k] = (t[t0 + k] as number) + v0 * x;
        t[t1 + k] = (t[t1 + k] as number) + v1 * x;
        t[t2 + k] = (t[t2 + k] as number) + v2 * x;
        t[t3 + k] = (t[t3 + k] as number) + v3 * x;
      }
    }
  }
  // M = L^T T (symmetric): row a of M sums rows i of T weighted by L[i][a]; the upper
  // triangle is computed, then mirrored.
  const m = new Float64Array(r * r);
  for (let i = 0; i < n; i += 4) {
    const [t0, t1, t2, t3] = [i * r, (i + 1) * r, (i + 2) * r, (i + 3) * r];
    let end = 0;
    for (let q = i; q < Math.min(i + 4, n); q++)
      end = Math.max(end, Math.min(pos[q] as number, r - 1));
    for (let a = 0; a <= end; a++) {
      const w0 = at(l, n, i, a);
      const w1 = at(l, n, i + 1, a);
      const w2 = at(l, n, i + 2, a);
      const w3 = at(l, n, i + 3, a);
      const ma = a * r;
      for (let b = a; b < r; b++) {
        m[ma + b] =
          (m[ma + b] as number) +
          w0 * (t[t0 + b] as number) +
          w1 * (t[t1 + b] as number) +
          w2 * (t[t2 + b] as number) +
          w3 * (t[t3 + b] as number);
      }
    }
  }
  for (let a = 0; a < r; a++) for (let b = 0; b < a; b++) m[a * r + b] = m[b * r + a] as number;
  return m;
}

/**
 * The sum of the square roots of the eigenvalues of a positive semi-definite matrix of order n.
 * Eigenvalues at most n ulps of the largest magnitude are round-off of zeros: their square roots
 * (1e-8 for 1e-16) would otherwise add noise to the trace of a singular product.
 */
export function sumSqrtEigenvalues(values: Float64Array, n: number): number {
  let max = 0;
  for (const v of values) max = Math.max(max, Math.abs(v));
  const tiny = n * 2 ** -52 * max;
  let sum = 0;
  for (const v of values) if (v > tiny) sum += Math.sqrt(v);
  return sum;
}

/**
 * tr((S1 S2)^1/2) for symmetric positive semi-definite S1, S2: with S1 = L L^T (pivoted
 * Cholesky, L [n, r] at S1's numerical rank r), S1 S2 has the nonzero eigenvalues of the
 * symmetric r x r matrix L^T S2 L, so the trace is the sum of their square roots. Singular S1
 * (fewer samples than features) just gives a smaller problem. Eigenvalues within round-off of
 * zero count as 0 (negative ones would make SciPy's sqrtm complex; FID keeps its real part).
 */
export function traceSqrtProductReference(s1: Float64Array, s2: Float64Array, n: number): number {
  const f = pivotedCholesky(s1, n);
  const r = f.rank;
  return sumSqrtEigenvalues(symmetricEigen(congruence(f, s2, n), r).values, r);
}
