/**
 * Noise-level schedules shared by the samplers and losses (SPEC 6.1, 6.5, 3.1, 4): EDM's rho
 * schedule, the VP sigma(t) and its inverse, the iDDPM level table. All float64.
 */

/** EDM time steps t_0..t_{n-1} (rho schedule, each through roundSigma), then t_n = 0. */
export function edmTimeSteps(
  numSteps: number,
  sigmaMin: number,
  sigmaMax: number,
  rho: number,
  roundSigma: (s: number) => number = (s) => s,
): Float64Array {
  checkSteps(numSteps);
  const t = new Float64Array(numSteps + 1);
  const a = sigmaMax ** (1 / rho);
  const b = sigmaMin ** (1 / rho);
  for (let i = 0; i < numSteps; i++) {
    // n = 1 would divide by zero in the official code; there the single step starts at sigma_max.
    const frac = numSteps > 1 ? i / (numSteps - 1) : 0;
    t[i] = roundSigma((a + frac * (b - a)) ** rho);
  }
  t[numSteps] = 0;
  return t;
}

export function checkSteps(numSteps: number): void {
  if (!Number.isInteger(numSteps) || numSteps < 1)
    throw new RangeError(`numSteps must be an integer >= 1, got ${numSteps}`);
}

/** VP: sigma(t) = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1). */
export const vpSigma = (betaD: number, betaMin: number, t: number) =>
  Math.sqrt(Math.exp(0.5 * betaD * (t * t) + betaMin * t) - 1);

/** d sigma / dt of the VP schedule. */
export const vpSigmaDeriv = (betaD: number, betaMin: number, t: number) => {
  const s = vpSigma(betaD, betaMin, t);
  return 0.5 * (betaMin + betaD * t) * (s + 1 / s);
};

/** Inverse of vpSigma: the t whose sigma is `sigma`. */
export const vpSigmaInv = (betaD: number, betaMin: number, sigma: number) =>
  (Math.sqrt(betaMin * betaMin + 2 * betaD * Math.log(sigma * sigma + 1)) - betaMin) / betaD;

/** beta_d', beta_min' that make the VP schedule span [sigmaMin, sigmaMax] over t in [epsS, 1]. */
export function vpFit(sigmaMin: number, sigmaMax: number, epsS: number) {
  const lmax = Math.log(sigmaMax * sigmaMax + 1);
  const betaD = (2 * (Math.log(sigmaMin * sigmaMin + 1) / epsS - lmax)) / (epsS - 1);
  return { betaD, betaMin: lmax - 0.5 * betaD };
}

/**
 * iDDPM noise levels u_0 > u_1 > ... > u_M = 0 as the ablation sampler builds them:
 * u_{j-1} = sqrt((u_j^2 + 1) / max(abar(j-1) / abar(j), C1) - 1), abar(j) = sin^2(pi j / (2M(C2+1))).
 * u is float64 but the official abar ratio is float32 (an integer tensor times a Python float
 * gives float32), which moves u by ~4e-7 relative; `float32Ratio` (default) reproduces it.
 */
export function iddpmLevels(M: number, C1: number, C2: number, float32Ratio = true): Float64Array {
  const r = float32Ratio ? Math.fround : (v: number) => v;
  const u = new Float64Array(M + 1);
  // In float32 every Python constant is first rounded to float32 as well.
  const abar = (j: number) => r(r(Math.sin(r(r(r(r(0.5 * Math.PI) * j) / M) / r(C2 + 1)))) ** 2);
  for (let j = M; j > 0; j--) {
    const ratio = Math.max(r(abar(j - 1) / abar(j)), r(C1));
    u[j - 1] = Math.sqrt(((u[j] as number) ** 2 + 1) / ratio - 1);
  }
  return u;
}

/** Round half to even (numpy/torch `round` on the index of the iDDPM discretisation). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
