/**
 * Initial states of generation, per seed (SPEC 6.2, 6.3): Gaussian latents for diffusion, the
 * PFGM++ prior x_0 = R u (u uniform on the sphere S^{N-1}, R^2 / r_max^2 ~ Beta-prime(N/2, D/2),
 * r_max = sigma_max sqrt(D)) for finite D, and random one-hot class labels. float64 throughout.
 */
import { checkD } from './kernel.ts';
import { PhiloxStream, seededNormals, STREAM } from './random.ts';

const rowSizeOf = (shape: readonly number[]) => shape.slice(1).reduce((p, d) => p * d, 1);

function checkSeeds(name: string, seeds: readonly number[], shape: readonly number[]): void {
  if (shape.length < 2 || seeds.length !== shape[0])
    throw new RangeError(
      `${name}: ${seeds.length} seeds for shape [${shape.join(', ')}] ([B, ...])`,
    );
}

/** N(0, I) latents [B, ...]: row k from seeds[k]. */
export function gaussianLatents(seeds: readonly number[], shape: readonly number[]): Float64Array {
  checkSeeds('gaussianLatents', seeds, shape);
  return seededNormals(seeds, rowSizeOf(shape), STREAM.latents);
}

export interface PriorConfig {
  /** Augmented dimension (>= 2). */
  D: number;
  /** sigma of the first sampler step; r_max = sigmaMax sqrt(D). */
  sigmaMax: number;
}

/**
 * PFGM++ prior latents [B, ...], used as x_0 without further scaling. Unlike generate.py, which
 * uses the constant 80 instead of sigma_max whenever N <= 196,608 (SPEC 13.8), the radius always
 * follows the given sigmaMax; pass 80 to reproduce it. Beta-prime is drawn as X / Y of two Gammas
 * in float64 (the official b / (1 - b) of a float32 Beta sample can round to infinity).
 */
export function pfgmppPrior(
  seeds: readonly number[],
  shape: readonly number[],
  config: PriorConfig,
): Float64Array {
  checkSeeds('pfgmppPrior', seeds, shape);
  checkD(config.D, 'pfgmppPrior');
  if (!Number.isFinite(config.D))
    throw new RangeError('pfgmppPrior: D = Infinity is the Gaussian case; use gaussianLatents');
  const N = rowSizeOf(shape);
  const rMax = config.sigmaMax * Math.sqrt(config.D);
  const x = seededNormals(seeds, N, STREAM.priorDirection);
  seeds.forEach((seed, k) => {
    const R =
      rMax * Math.sqrt(new PhiloxStream(seed, STREAM.priorRadius).betaPrime(N / 2, config.D / 2));
    const row = x.subarray(k * N, (k + 1) * N);
    let sq = 0;
    for (const v of row) sq += v * v;
    const f = R / Math.sqrt(sq);
    for (let j = 0; j < N; j++) row[j] = (row[j] as number) * f;
  });
  return x;
}

/** The class of each seed's image: `classIdx` for all, or a uniform class per seed (generate.py). */
export function seedClasses(
  seeds: readonly number[],
  labelDim: number,
  classIdx?: number,
): number[] {
  checkClass(classIdx, labelDim);
  return seeds.map((seed) => classIdx ?? new PhiloxStream(seed, STREAM.classLabels).int(labelDim));
}

/** One-hot labels [B, labelDim] of the given classes. */
export function oneHotLabels(classes: readonly number[], labelDim: number): Float64Array {
  const out = new Float64Array(classes.length * labelDim);
  classes.forEach((c, k) => {
    checkClass(c, labelDim);
    out[k * labelDim + c] = 1;
  });
  return out;
}

/** One-hot labels [B, labelDim]: class `classIdx` for all, or a uniform class per seed. */
export function classLabels(
  seeds: readonly number[],
  labelDim: number,
  classIdx?: number,
): Float64Array {
  return oneHotLabels(seedClasses(seeds, labelDim, classIdx), labelDim);
}

function checkClass(c: number | undefined, labelDim: number): void {
  if (!Number.isInteger(labelDim) || labelDim < 1)
    throw new RangeError(`classLabels: labelDim must be an integer >= 1, got ${labelDim}`);
  if (c !== undefined && !(Number.isInteger(c) && c >= 0 && c < labelDim))
    throw new RangeError(`classLabels: class ${c} outside [0, ${labelDim})`);
}
