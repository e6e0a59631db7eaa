/**
 * The statistics and scores in float64: mu/sigma as np.mean/np.cov (batched, merged), the stored
 * Frechet cases of pytorch-fid and EDM to 1e-6 relative (the trace square root to ~1e-10),
 * analytic oracles (identical statistics -> 0; equal covariances -> |mu1 - mu2|^2; commuting
 * covariances in closed form), the symmetric eigensolver on known spectra, KID and IS.
 */
import { GPU_SKIP_REASON, seeded, testGpu } from '@pfgmpp/test-utils';
import { describe, expect, it } from 'vitest';
import {
  cholesky,
  FeatureStats,
  frechetDistance,
  gpuGram,
  inceptionScore,
  kernelInceptionDistance,
  pivotedCholesky,
  statsOf,
  symmetricEigen,
  traceSqrtProduct,
  traceSqrtProductReference,
} from '../src/index.ts';
import { arrayOf, fixtureJson, fixtureNpz, relErr } from './fixtures.ts';

/** A random orthogonal n x n matrix (product of Householder reflections), row-major. */
function orthogonal(n: number, seed: number): Float64Array {
  const r = seeded(seed);
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let h = 0; h < n; h++) {
    const v = Float64Array.from({ length: n }, () => r() - 0.5);
    const norm = Math.hypot(...v);
    for (let i = 0; i < n; i++) v[i] = (v[i] as number) / norm;
    // q = q (I - 2 v v^T)
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (q[i * n + k] as number) * (v[k] as number);
      for (let k = 0; k < n; k++)
        q[i * n + k] = (q[i * n + k] as number) - 2 * s * (v[k] as number);
    }
  }
  return q;
}

/** Q diag(lambda) Q^T. */
function withSpectrum(q: Float64Array, lambda: readonly number[]): Float64Array {
  const n = lambda.length;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++)
        s += (q[i * n + k] as number) * (lambda[k] as number) * (q[j * n + k] as number);
      a[i * n + j] = s;
    }
  }
  return a;
}

describe('linear algebra in float64', () => {
  it('symmetricEigen finds known spectra (distinct, repeated, zero, negative) and vectors', () => {
    const spectra = [
      [3],
      [1, 2],
      [-2, 0, 0, 1e-9, 5, 5, 7.25],
      Array.from({ length: 40 }, (_, i) => (i % 7) * 1.5 - 3 + i * 1e-3),
    ];
    for (const [s, lambda] of spectra.entries()) {
      const n = lambda.length;
      const a = withSpectrum(orthogonal(n, 10 + s), lambda);
      const { values, vectors } = symmetricEigen(a, n, true);
      const sorted = [...lambda].sort((x, y) => x - y);
      for (let i = 0; i < n; i++)
        expect(Math.abs((values[i] as number) - (sorted[i] as number))).toBeLessThan(1e-12 * 10);
      // A v = lambda v for every pair.
      const v = vectors as Float64Array;
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < n; i++) {
          let av = 0;
          for (let k = 0; k < n; k++) av += (a[i * n + k] as number) * (v[j * n + k] as number);
          expect(Math.abs(av - (values[j] as number) * (v[j * n + i] as number))).toBeLessThan(
            1e-12 * 50,
          );
        }
      }
      expect(symmetricEigen(a, n).values).toEqual(values);
    }
  });

  it('cholesky factors positive definite matrices and refuses singular ones', () => {
    const n = 9;
    const a = withSpectrum(orthogonal(n, 3), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const l = cholesky(a, n) as Float64Array;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += (l[i * n + k] as number) * (l[j * n + k] as number);
        expect(Math.abs(s - (a[i * n + j] as number))).toBeLessThan(1e-13 * 10);
      }
    }
    expect(cholesky(withSpectrum(orthogonal(n, 3), [0, 1, 2, 3, 4, 5, 6, 7, 8]), n)).toBeNull();
  });

  it('tr((S1 S2)^1/2) of commuting matrices is sum sqrt(a_i b_i), singular S1 included', () => {
    const n = 12;
    const q = orthogonal(n, 5);
    const a = Array.from({ length: n }, (_, i) => (i < 3 ? 0 : 0.5 + i));
    const b = Array.from({ length: n }, (_, i) => 2 + Math.sin(i));
    const want = a.reduce((p, ai, i) => p + Math.sqrt(ai * (b[i] as number)), 0);
    const s1 = withSpectrum(q, a);
    const s2 = withSpectrum(q, b);
    expect(pivotedCholesky(s1, n).rank).toBe(n - 3);
    for (const trace of [traceSqrtProduct, traceSqrtProductReference]) {
      expect(Math.abs(trace(s1, s2, n) - want) / want).toBeLessThan(1e-12);
      expect(Math.abs(trace(s2, s1, n) - want) / want).toBeLessThan(1e-12);
    }
  });
});

describe('statistics and FID', () => {
  const cases = fixtureNpz('fid_cases.npz');
  const json = fixtureJson('fid_cases.json') as Record<
    string,
    { fid_edm: number; fid_pytorch_fid: number; n_A: number; n_B: number; dim: number }
  >;

  it('mu and sigma equal np.mean / np.cov, whole or batch by batch', async () => {
    for (const c of ['wellcond', 'rankdef']) {
      for (const side of ['A', 'B']) {
        const f = arrayOf(cases, `${c}.${side}.features`);
        const d = (json[c] as { dim: number }).dim;
        const n = f.length / d;
        const whole = statsOf(f, n, d);
        expect(relErr(whole.mu, arrayOf(cases, `${c}.${side}.mu`))).toBeLessThan(1e-13);
        expect(relErr(whole.sigma, arrayOf(cases, `${c}.${side}.sigma`))).toBeLessThan(1e-13);
        // Batches of 7 in float32 through the merge (as the CLI streams features).
        const acc = new FeatureStats(d);
        for (let s = 0; s < n; s += 7) {
          const m = Math.min(7, n - s);
          await acc.add(Float32Array.from(f.subarray(s * d, (s + m) * d)), m);
        }
        const batched = acc.result();
        expect(batched.count).toBe(n);
        expect(relErr(batched.sigma, whole.sigma)).toBeLessThan(1e-6);
      }
    }
  });

  it.skipIf(GPU_SKIP_REASON)(
    'batches with GPU scatter matrices give the same statistics',
    async () => {
      const gpu = await testGpu();
      const f = arrayOf(cases, 'wellcond.A.features');
      const d = 16;
      const n = f.length / d;
      const acc = new FeatureStats(d);
      for (let s = 0; s < n; s += 32) {
        const m = Math.min(32, n - s);
        await acc.add(Float32Array.from(f.subarray(s * d, (s + m) * d)), m, gpu);
      }
      const got = acc.result();
      expect(relErr(got.mu, arrayOf(cases, 'wellcond.A.mu'))).toBeLessThan(1e-7);
      expect(relErr(got.sigma, arrayOf(cases, 'wellcond.A.sigma'))).toBeLessThan(1e-6);
    },
  );

  it('reproduces the stored pytorch-fid and EDM distances (1e-10 relative; 1e-6 when singular)', () => {
    for (const c of ['wellcond', 'rankdef']) {
      const stats = (s: string) => ({
        mu: arrayOf(cases, `${c}.${s}.mu`),
        sigma: arrayOf(cases, `${c}.${s}.sigma`),
      });
      const fid = frechetDistance(stats('A'), stats('B'));
      const ref = json[c] as { fid_edm: number; fid_pytorch_fid: number };
      console.log(`${c}: ${fid} vs pytorch-fid ${ref.fid_pytorch_fid}, EDM ${ref.fid_edm}`);
      // Singular covariances (rankdef: 12 and 15 samples in 24-d) have 13 zero eigenvalues in
      // S1 S2 that every method sees as +-1e-15 round-off, and their square roots (3e-8 each)
      // make SciPy, numpy's eigvals and a 50-digit solve disagree at 1e-8 relative.
      const tol = c === 'wellcond' ? 1e-10 : 1e-6;
      expect(Math.abs(fid - ref.fid_pytorch_fid) / ref.fid_pytorch_fid).toBeLessThan(tol);
      expect(Math.abs(fid - ref.fid_edm) / ref.fid_edm).toBeLessThan(tol);
    }
    const a = fixtureNpz('ref_wellcond_A.npz');
    const b = fixtureNpz('ref_wellcond_B.npz');
    const fid = frechetDistance(
      { mu: arrayOf(a, 'mu'), sigma: arrayOf(a, 'sigma') },
      { mu: arrayOf(b, 'mu'), sigma: arrayOf(b, 'sigma') },
    );
    expect(Math.abs(fid - 22.313123040733416) / 22.3).toBeLessThan(1e-6);
  });

  it('oracles: identical statistics give 0; equal covariances give |mu1 - mu2|^2', () => {
    const d = 16;
    const s = { mu: arrayOf(cases, 'wellcond.A.mu'), sigma: arrayOf(cases, 'wellcond.A.sigma') };
    expect(Math.abs(frechetDistance(s, s))).toBeLessThan(1e-10);
    const mu2 = Float64Array.from(s.mu, (v, i) => v + 0.1 * i - 0.3);
    const want = mu2.reduce((p, v, i) => p + (v - (s.mu[i] as number)) ** 2, 0);
    expect(Math.abs(frechetDistance(s, { mu: mu2, sigma: s.sigma }) - want) / want).toBeLessThan(
      1e-9,
    );
    expect(() => frechetDistance(s, { mu: new Float64Array(d - 1), sigma: s.sigma })).toThrow(
      /do not match/,
    );
  });
});

describe('KID and Inception Score', () => {
  const r = seeded(7);
  const d = 16;
  const sample = (n: number, shift: number) =>
    Float32Array.from({ length: n * d }, () => r() + shift);

  it('KID of a set with itself is ~0, grows with a shift, and has the closed form for m = 2', async () => {
    const x = sample(300, 0);
    const self = await kernelInceptionDistance(x, 300, x, 300, d, { subsets: 5, subsetSize: 100 });
    expect(Math.abs(self.mean)).toBeLessThan(2e-3);
    const y = sample(300, 0.5);
    const far = await kernelInceptionDistance(x, 300, y, 300, d, { subsets: 5, subsetSize: 100 });
    expect(far.mean).toBeGreaterThan(10 * Math.abs(self.mean) + 0.01);
    // m = 2 with one subset: every row is used, so the value is the MMD formula by hand.
    const a = Float32Array.of(1, 0, 0, 1);
    const b = Float32Array.of(1, 1, 0, 0);
    const k = (u: number[], v: number[]) =>
      (((u[0] as number) * (v[0] as number)) / 2 + ((u[1] as number) * (v[1] as number)) / 2 + 1) **
      3;
    const [a0, a1, b0, b1] = [
      [1, 0],
      [0, 1],
      [1, 1],
      [0, 0],
    ] as number[][] as [number[], number[], number[], number[]];
    const want =
      (2 * k(a0, a1) + 2 * k(b0, b1)) / 2 -
      (2 * (k(a0, b0) + k(a0, b1) + k(a1, b0) + k(a1, b1))) / 4;
    const got = await kernelInceptionDistance(a, 2, b, 2, 2, { subsets: 1 });
    expect(got.mean).toBeCloseTo(want, 12);
    await expect(kernelInceptionDistance(a, 1, b, 2, 2)).rejects.toThrow(/at least 2 samples/);
  });

  it.skipIf(GPU_SKIP_REASON)('KID with GPU Gram matrices matches the CPU', async () => {
    const gpu = await testGpu();
    const x = sample(64, 0);
    const y = sample(64, 0.2);
    const cpu = await kernelInceptionDistance(x, 64, y, 64, d, {
      subsets: 3,
      subsetSize: 50,
      seed: 3,
    });
    const gpuKid = await kernelInceptionDistance(x, 64, y, 64, d, {
      subsets: 3,
      subsetSize: 50,
      seed: 3,
      gram: gpuGram(gpu),
    });
    expect(Math.abs(gpuKid.mean - cpu.mean)).toBeLessThan(1e-5 * Math.abs(cpu.mean) + 1e-6);
  });

  it('IS: 1 for identical predictions, the class count for confident uniform ones', () => {
    const n = 20;
    const classes = 5;
    const flat = new Float32Array(n * classes).fill(0.3);
    expect(inceptionScore(flat, n, classes, 10).mean).toBeCloseTo(1, 12);
    const sharp = new Float32Array(n * classes);
    for (let i = 0; i < n; i++) sharp[i * classes + (i % classes)] = 60;
    const s = inceptionScore(sharp, n, classes, 2);
    expect(s.mean).toBeCloseTo(classes, 6);
    expect(s.std).toBeLessThan(1e-9);
    expect(() => inceptionScore(sharp, 5, classes, 10)).toThrow(/at least 10 images/);
  });
});
