/**
 * tr((S1 S2)^1/2) for 2048-d covariances in a few seconds: the algorithm of
 * `traceSqrtProductReference` (linalg.ts), blocked as LAPACK does it so that nearly all of the
 * ~8/3 n^3 flops are matrix products, which run in the WebAssembly SIMD kernel of
 * wasm-kernels.ts. Float64 throughout; all matrices row-major in the kernels' memory.
 *
 *   1. P S1 P^T = L L^T, pivoted Cholesky stopped at S1's numerical rank r (LAPACK's dpstrf:
 *      panels of NB columns, the trailing update a product). L is n x r, lower trapezoidal.
 *   2. M = L^T (P S2 P^T) L, r x r (two products, skipping L's zero triangle).
 *   3. M to tridiagonal by Householder reflections (dsytrd/dlatrd: each panel's reflectors are
 *      built with one symmetric matrix-vector product per column, then applied to the rest of
 *      the matrix at once as a rank-2NB product), eigenvalues by implicit QL, and the sum of
 *      their square roots (linalg.ts: eigenvalues within round-off of zero count as 0).
 */
import { sumSqrtEigenvalues, traceSqrtProductReference, tridiagonalEigenvalues } from './linalg.ts';
import { type Kernels, loadKernels } from './wasm-kernels.ts';

/** Block sizes. The matrix product packs A in MC x KC and B in KC x NC blocks (MC, NC: x4). */
export interface Blocking {
  /** Panel width of the Cholesky and the tridiagonalisation. */
  nb: number;
  mc: number;
  kc: number;
  nc: number;
  /** Rows per product call of the triangular updates. */
  rows: number;
}

/** Tuned on the 2-vCPU VM at n = 2048 (the packed B block, 1 MB, stays in L2). */
export const DEFAULT_BLOCKING: Blocking = { nb: 32, mc: 64, kc: 256, nc: 512, rows: 256 };

/** A matrix operand: element (i, q) at heap[off + i * rs + q * cs]. */
interface Operand {
  off: number;
  rs: number;
  cs: number;
}

/** The kernels, their memory as float64, the blocking and the packing buffers (offsets). */
interface Work {
  k: Kernels;
  h: Float64Array;
  b: Blocking;
  ap: number;
  bp: number;
}

/**
 * C[m, n] += sign * A[m, kk] B[kk, n] with C at heap[c + i * ldc + j]. Blocks as GotoBLAS:
 * B is packed KC x NC, A MC x KC (four rows or columns interleaved, zero-padded to multiples
 * of 4), and gemm4 runs each 4-row strip of A against the whole B block. Past the edges the
 * kernel adds exact zeros (the padding), so up to 3 rows/columns after C are written unchanged:
 * every matrix has that much slack after it.
 */
function gemm(
  w: Work,
  m: number,
  n: number,
  kk: number,
  a: Operand,
  b: Operand,
  c: number,
  ldc: number,
  sign: 1 | -1,
) {
  const { h, k } = w;
  const { mc: MC, kc: KC, nc: NC } = w.b;
  if (m <= 0 || n <= 0 || kk <= 0) return;
  for (let j0 = 0; j0 < n; j0 += NC) {
    const nc = Math.min(NC, n - j0);
    const blocks = (nc + 3) >> 2;
    for (let p0 = 0; p0 < kk; p0 += KC) {
      const kc = Math.min(KC, kk - p0);
      // Bp[jb][q][t] = B(p0 + q, j0 + 4 jb + t)
      for (let jb = 0; jb < blocks; jb++) {
        const dst = w.bp + jb * kc * 4;
        for (let t = 0; t < 4; t++) {
          const j = j0 + 4 * jb + t;
          if (j >= n) {
            for (let q = 0; q < kc; q++) h[dst + q * 4 + t] = 0;
            continue;
          }
          const src = b.off + p0 * b.rs + j * b.cs;
          for (let q = 0; q < kc; q++) h[dst + q * 4 + t] = h[src + q * b.rs] as number;
        }
      }
      for (let i0 = 0; i0 < m; i0 += MC) {
        const strips = (Math.min(MC, m - i0) + 3) >> 2;
        // Ap[ib][q][t] = sign * A(i0 + 4 ib + t, p0 + q)
        for (let ib = 0; ib < strips; ib++) {
          const dst = w.ap + ib * kc * 4;
          for (let t = 0; t < 4; t++) {
            const i = i0 + 4 * ib + t;
            if (i >= m) {
              for (let q = 0; q < kc; q++) h[dst + q * 4 + t] = 0;
              continue;
            }
            const src = a.off + i * a.rs + p0 * a.cs;
            for (let q = 0; q < kc; q++) h[dst + q * 4 + t] = sign * (h[src + q * a.cs] as number);
          }
        }
        for (let ib = 0; ib < strips; ib++) {
          const row = c + (i0 + 4 * ib) * ldc + j0;
          k.gemm4(8 * (w.ap + ib * kc * 4), 8 * w.bp, 8 * row, 8 * ldc, kc, blocks);
        }
      }
    }
  }
}

/**
 * Swaps index k < p of the symmetric matrix whose lower triangle is at heap[s], order n, during
 * the pivoted Cholesky: the finished columns 0..k-1 of rows k and p, then the trailing lower
 * triangle (LAPACK's dsyswapr).
 */
function swapLower(h: Float64Array, s: number, n: number, k: number, p: number) {
  const swap = (x: number, y: number) => {
    const t = h[x] as number;
    h[x] = h[y] as number;
    h[y] = t;
  };
  for (let q = 0; q < k; q++) swap(s + k * n + q, s + p * n + q);
  swap(s + k * n + k, s + p * n + p);
  for (let j = k + 1; j < p; j++) swap(s + j * n + k, s + p * n + j);
  for (let i = p + 1; i < n; i++) swap(s + i * n + k, s + i * n + p);
}

/**
 * Pivoted Cholesky in place on the lower triangle at heap[s] (order n), stopped when the
 * largest remaining pivot is at most n ulps of S1's largest diagonal (as pivotedCholesky).
 * Returns the rank r; perm[i] is the row of S1 that became row i. Afterwards heap[s] holds
 * L [n, r] (row stride n) with zeros above the diagonal and right of column r.
 */
function choleskyBlocked(w: Work, s: number, n: number, perm: Int32Array): number {
  const { h } = w;
  const NB = w.b.nb;
  const dd = new Float64Array(n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, h[s + i * n + i] as number);
  const tol = n * 2 ** -52 * maxDiag;
  let rank = n;
  outer: for (let j0 = 0; j0 < n; j0 += NB) {
    const j1 = Math.min(n, j0 + NB);
    // Diagonal of the Schur complement, less this panel's columns as they are made.
    for (let i = j0; i < n; i++) dd[i] = h[s + i * n + i] as number;
    for (let k = j0; k < j1; k++) {
      let p = k;
      for (let i = k + 1; i < n; i++) if ((dd[i] as number) > (dd[p] as number)) p = i;
      if (!((dd[p] as number) > tol)) {
        rank = k;
        break outer;
      }
      if (p !== k) {
        swapLower(h, s, n, k, p);
        [dd[k], dd[p]] = [dd[p] as number, dd[k] as number];
        [perm[k], perm[p]] = [perm[p] as number, perm[k] as number];
      }
      const piv = Math.sqrt(dd[k] as number);
      const rk = s + k * n;
      h[rk + k] = piv;
      // Column k below the pivot, less the panel's earlier columns (the trailing update
      // brought in all panels before).
      for (let i = k + 1; i < n; i++) {
        const ri = s + i * n;
        let x = h[ri + k] as number;
        for (let q = j0; q < k; q++) x -= (h[ri + q] as number) * (h[rk + q] as number);
        x /= piv;
        h[ri + k] = x;
        dd[i] = (dd[i] as number) - x * x;
      }
    }
    // Trailing lower triangle -= L[j1:, j0:j1] L[j1:, j0:j1]^T, in strips of rows.
    for (let i0 = j1; i0 < n; i0 += w.b.rows) {
      const i1 = Math.min(n, i0 + w.b.rows);
      const a = { off: s + i0 * n + j0, rs: n, cs: 1 };
      const b = { off: s + j1 * n + j0, rs: 1, cs: n };
      gemm(w, i1 - i0, i1 - j1, j1 - j0, a, b, s + i0 * n + j1, n, -1);
    }
  }
  for (let i = 0; i < n; i++) h.fill(0, s + i * n + Math.min(i + 1, rank), s + (i + 1) * n);
  return rank;
}

/**
 * M = L^T S L into heap[m] (lower triangle, row stride n) for L [n, r] at heap[l] and
 * symmetric S at heap[s] (both row stride n), through T = S L at heap[t] (zero on entry: fresh
 * memory). M[a][b] (b <= a) = sum over k >= a of L[k][a] T[k][b] reads T only where k >= b, so
 * only T's lower trapezoid is made: column block [b0, b1) from rows b0.. of S and L (2/3 n^3
 * flops instead of n^3); then row block [a0, a1) of M, the same blocks, from rows a0.. of L
 * and T (n^3 / 3).
 */
function congruenceBlocked(
  w: Work,
  l: number,
  s: number,
  t: number,
  m: number,
  n: number,
  r: number,
) {
  const B = w.b.rows;
  for (let b0 = 0; b0 < r; b0 += B) {
    const b1 = Math.min(r, b0 + B);
    const a = { off: s + b0 * n + b0, rs: n, cs: 1 };
    const b = { off: l + b0 * n + b0, rs: n, cs: 1 };
    gemm(w, n - b0, b1 - b0, n - b0, a, b, t + b0 * n + b0, n, 1);
  }
  w.h.fill(0, m, m + n * n);
  for (let a0 = 0; a0 < r; a0 += B) {
    const a1 = Math.min(r, a0 + B);
    const a = { off: l + a0 * n + a0, rs: 1, cs: n };
    const b = { off: t + a0 * n, rs: n, cs: 1 };
    gemm(w, a1 - a0, a1, n - a0, a, b, m + a0 * n, n, 1);
  }
}

/**
 * y = A x for the lower triangle of A at heap[a] (order m, row stride ld): the kernel takes an
 * even number of rows; an odd last row is done here.
 */
function symv(k: Kernels, h: Float64Array, a: number, ld: number, x: number, y: number, m: number) {
  const even = m & ~1;
  k.symvLower(8 * a, 8 * ld, 8 * x, 8 * y, even);
  if (even === m) return;
  const row = a + even * ld;
  const xl = h[x + even] as number;
  let s = 0;
  for (let j = 0; j < even; j++) {
    const aj = h[row + j] as number;
    s += aj * (h[x + j] as number);
    h[y + j] = (h[y + j] as number) + aj * xl;
  }
  h[y + even] = s + (h[row + even] as number) * xl;
}

/**
 * Householder reduction of the symmetric r x r matrix whose lower triangle is at heap[a] (row
 * stride ld; overwritten) to tridiagonal form: returns its diagonal d and off-diagonal e. Per
 * panel of NB columns (dlatrd, lower): column c is brought up to date with the panel's earlier
 * reflectors (V and W), its reflector v, tau made (dlarfg), and w = tau (A v - V W^T v - W V^T v)
 * - (tau^2 / 2)(w^T v) v; after the panel, A -= V W^T + W V^T on the rest (one product with
 * K = 2 NB: X = [V W], Y = [W V], both [rows, 2 NB]).
 */
function tridiagonalizeBlocked(
  w: Work,
  a: number,
  ld: number,
  r: number,
  vecs: number,
  xy: number,
): { d: Float64Array; e: Float64Array } {
  const { h, k } = w;
  const NB = w.b.nb;
  const W2 = 2 * NB;
  const d = new Float64Array(r);
  const e = new Float64Array(r); // e[r - 1] stays 0
  // Vectors of length r at heap[vecs]: col (column c), v (reflector), p (A v).
  const [col, v, p] = [vecs, vecs + r + 2, vecs + 2 * r + 4];
  const u = new Float64Array(2 * NB); // W^T v, V^T v
  for (let i0 = 0; i0 < r - 1; i0 += NB) {
    const i1 = Math.min(r - 1, i0 + NB);
    const x = xy; // X row t (t >= i0) at x + (t - i0) * W2: V in [0, NB), W in [NB, 2 NB)
    h.fill(0, x, x + (r - i0) * W2);
    for (let c = i0; c < i1; c++) {
      const j = c - i0;
      const xc = x + j * W2;
      for (let t = c; t < r; t++) {
        const xt = x + (t - i0) * W2;
        let z = h[a + t * ld + c] as number;
        for (let q = 0; q < j; q++)
          z -=
            (h[xt + q] as number) * (h[xc + NB + q] as number) +
            (h[xt + NB + q] as number) * (h[xc + q] as number);
        h[col + t] = z;
      }
      d[c] = h[col + c] as number;
      // The reflector H = I - tau v v^T with H col[c+1:] = (beta, 0, ...), v[c+1] = 1.
      const alpha = h[col + c + 1] as number;
      let norm2 = 0;
      for (let t = c + 2; t < r; t++) norm2 += (h[col + t] as number) ** 2;
      if (norm2 === 0) {
        e[c] = alpha;
        continue; // tau = 0: H = I, and v, w stay 0 (no correction from this column)
      }
      const beta = -Math.sign(alpha || 1) * Math.sqrt(alpha * alpha + norm2);
      const tau = (beta - alpha) / beta;
      const scale = 1 / (alpha - beta);
      e[c] = beta;
      h[v + c + 1] = 1;
      for (let t = c + 2; t < r; t++) h[v + t] = (h[col + t] as number) * scale;
      for (let t = c + 1; t < r; t++) h[x + (t - i0) * W2 + j] = h[v + t] as number;
      // p = A[c+1:, c+1:] v (A as of the panel's start), then the panel's corrections.
      const m = r - c - 1;
      const a1 = a + (c + 1) * ld + c + 1;
      symv(k, h, a1, ld, v + c + 1, p + c + 1, m);
      u.fill(0);
      for (let t = c + 1; t < r; t++) {
        const xt = x + (t - i0) * W2;
        const vt = h[v + t] as number;
        for (let q = 0; q < j; q++) {
          u[q] = (u[q] as number) + (h[xt + NB + q] as number) * vt;
          u[NB + q] = (u[NB + q] as number) + (h[xt + q] as number) * vt;
        }
      }
      let wv = 0;
      for (let t = c + 1; t < r; t++) {
        const xt = x + (t - i0) * W2;
        let z = h[p + t] as number;
        for (let q = 0; q < j; q++)
          z -=
            (h[xt + q] as number) * (u[q] as number) +
            (h[xt + NB + q] as number) * (u[NB + q] as number);
        z *= tau;
        h[p + t] = z;
        wv += z * (h[v + t] as number);
      }
      const shift = -0.5 * tau * wv;
      for (let t = c + 1; t < r; t++)
        h[x + (t - i0) * W2 + NB + j] = (h[p + t] as number) + shift * (h[v + t] as number);
    }
    // Y = [W V] for rows i1.., then A[i1:, i1:] -= X Y^T, in strips of rows (the last panel
    // ends at i1 = r - 1 and updates A[r-1][r-1] alone: d[r - 1]).
    const y = x + (r - i0 + 4) * W2;
    for (let t = i1; t < r; t++) {
      const xt = x + (t - i0) * W2;
      const yt = y + (t - i1) * W2;
      h.copyWithin(yt, xt + NB, xt + W2);
      h.copyWithin(yt + NB, xt, xt + NB);
    }
    for (let r0 = i1; r0 < r; r0 += w.b.rows) {
      const r1 = Math.min(r, r0 + w.b.rows);
      const xa = { off: x + (r0 - i0) * W2, rs: W2, cs: 1 };
      const yb = { off: y, rs: 1, cs: W2 };
      gemm(w, r1 - r0, r1 - i1, W2, xa, yb, a + r0 * ld + i1, ld, -1);
    }
  }
  if (r > 0) d[r - 1] = h[a + (r - 1) * ld + r - 1] as number;
  return { d, e };
}

/**
 * tr((S1 S2)^1/2) for symmetric positive semi-definite S1, S2 (row-major n x n): the value of
 * traceSqrtProductReference, computed blocked in WebAssembly (that function where the engine
 * has no WebAssembly SIMD), or NaN where an entry is not finite. `blocking` is for tests (small
 * blocks reach every edge case).
 */
export function traceSqrtProduct(
  s1: Float64Array,
  s2: Float64Array,
  n: number,
  blocking: Blocking = DEFAULT_BLOCKING,
): number {
  if (n === 0) return 0;
  // A NaN would stop the pivoted Cholesky at rank 0 and read as a trace of 0.
  for (const m of [s1, s2])
    for (let i = 0; i < n * n; i++) if (!Number.isFinite(m[i])) return Number.NaN;
  const b = blocking;
  if (b.mc % 4 || b.nc % 4) throw new Error(`blocking: mc and nc must be multiples of 4`);
  // Layout (float64 elements): three n x n matrices with 4 rows of slack each, the panel
  // arrays X and Y, three vectors, the packing buffers.
  const mat = n * n + 4 * n + 8;
  const panel = (n + 8) * 2 * b.nb;
  const [l, s, t] = [0, mat, 2 * mat];
  const xy = 3 * mat;
  const vecs = xy + 2 * panel;
  const ap = vecs + 3 * n + 8;
  const bp = ap + b.mc * b.kc + 16;
  const k = loadKernels(bp + b.kc * b.nc + 16);
  if (!k) return traceSqrtProductReference(s1, s2, n);
  const h = k.heap;
  const w: Work = { k, h, b, ap, bp };
  h.set(s1.subarray(0, n * n), l);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const r = choleskyBlocked(w, l, n, perm);
  if (r === 0) return 0;
  // P S2 P^T, a row at a time (gathering from a copy in cache is 5x faster than from S2).
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const src = (perm[i] as number) * n;
    row.set(s2.subarray(src, src + n));
    const dst = s + i * n;
    for (let j = 0; j < n; j++) h[dst + j] = row[perm[j] as number] as number;
  }
  // M = L^T (P S2 P^T) L overwrites P S2 P^T, which T = S2 L is made from first.
  congruenceBlocked(w, l, s, t, s, n, r);
  const { d, e } = tridiagonalizeBlocked(w, s, n, r, vecs, xy);
  return sumSqrtEigenvalues(tridiagonalEigenvalues(d, e), r);
}
