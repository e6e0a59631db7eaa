/**
 * Per-seed random streams on the CPU, in float64, from the project's Philox 4x32-10 generator
 * (same counter layout as `randn` on the GPU: counter (offset + j/4, 0, stream, 0), key
 * (seed_lo, seed_hi)). Every draw for image k is keyed by seed k only, so an image does not
 * depend on the batch it is generated in (EDM's StackedRandomGenerator, structurally).
 *
 * Gamma variates use Marsaglia and Tsang's squeeze method, exact for every shape a > 0 (a < 1
 * through Gamma(a + 1) * U^(1/a)); Beta(a, b) = X / (X + Y) and Beta-prime = X / Y from two
 * Gammas, so N/2 in the thousands costs the same as N/2 = 1.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 (exact, with 16-bit limbs). */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const mid1 = aHi * bLo + (lolo >>> 16);
  const mid2 = aLo * bHi + (mid1 & 0xffff);
  return (aHi * bHi + (mid1 >>> 16) + (mid2 >>> 16)) >>> 0;
}

/** Philox 4x32-10 block (same values as the tensor package's BigInt reference, faster). */
export function philoxBlock(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/**
 * Streams used by the samplers and losses (the Philox `stream` word). One purpose, one stream:
 * adding a new use never shifts the numbers of an existing one.
 */
export const STREAM = {
  latents: 0,
  churn: 1,
  priorRadius: 2,
  priorDirection: 3,
  classLabels: 4,
  alpha: 5,
  /**
   * Training augmentation (augment.ts): key = the run seed, counter word 1 = micro-batch index
   * + 1, offset = 8 blocks per image. Every other stream keeps counter word 1 = 0 (the losses'
   * GPU streams 8 step + k included), so augmentation never shares a counter with them.
   */
  augment: 6,
} as const;

/**
 * Sequential reader of one Philox stream: uniforms ((x >> 8) + 0.5) / 2^24 as in `rand`, and
 * standard normals by Box-Muller on lanes (0, 1) and (2, 3) as in `randn`.
 */
export class PhiloxStream {
  private readonly k0: number;
  private readonly k1: number;
  private readonly block = new Uint32Array(4);
  private lane = 4;
  private counter: number;

  /**
   * `offset` is the first Philox block (4 values each), as in the tensor package's options;
   * `word1` fills counter word 1 (0 everywhere but the augmentation stream).
   */
  constructor(
    seed: number,
    readonly stream: number,
    offset = 0,
    private readonly word1 = 0,
  ) {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new RangeError(`PhiloxStream: seed must be a non-negative integer, got ${seed}`);
    for (const [name, v] of [
      ['stream', stream],
      ['offset', offset],
      ['word1', word1],
    ] as const) {
      if (!(Number.isInteger(v) && v >= 0 && v < 2 ** 32))
        throw new RangeError(`PhiloxStream: ${name} must be an integer in [0, 2^32), got ${v}`);
    }
    this.k0 = (seed % 2 ** 32) >>> 0;
    this.k1 = Math.floor(seed / 2 ** 32) >>> 0;
    this.counter = offset;
  }

  private nextBlock(): void {
    philoxBlock(this.counter >>> 0, this.word1, this.stream >>> 0, 0, this.k0, this.k1, this.block);
    this.counter++;
    this.lane = 0;
  }

  /** Uniform in (0, 1) with 24 bits, exactly the values `rand` writes on the GPU. */
  uniform(): number {
    if (this.lane === 4) this.nextBlock();
    return (((this.block[this.lane++] as number) >>> 8) + 0.5) / 16777216;
  }

  /** Fills `out` with the values `randn` would write for one row of out.length values. */
  normals(out: Float64Array): Float64Array {
    for (let j = 0; j < out.length; j += 4) {
      this.nextBlock();
      const u = Array.from(this.block, (v) => ((v >>> 8) + 0.5) / 16777216) as number[];
      const r0 = Math.sqrt(-2 * Math.log(u[0] as number));
      const r1 = Math.sqrt(-2 * Math.log(u[2] as number));
      const v = [
        r0 * Math.cos(2 * Math.PI * (u[1] as number)),
        r0 * Math.sin(2 * Math.PI * (u[1] as number)),
        r1 * Math.cos(2 * Math.PI * (u[3] as number)),
        r1 * Math.sin(2 * Math.PI * (u[3] as number)),
      ];
      for (let l = 0; l < 4 && j + l < out.length; l++) out[j + l] = v[l] as number;
    }
    this.lane = 4;
    return out;
  }

  /** One standard normal (Box-Muller from two uniforms). */
  normal(): number {
    const u1 = this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Gamma(a, 1), a > 0 (Marsaglia-Tsang). */
  gamma(a: number): number {
    if (!(a > 0) || !Number.isFinite(a))
      throw new RangeError(`gamma: shape must be finite and > 0, got ${a}`);
    if (a < 1) return this.gamma(a + 1) * this.uniform() ** (1 / a);
    const d = a - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Beta(a, b) = X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b). */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    return x / (x + y);
  }

  /** Beta-prime(a, b) = X / Y: b/(1-b) for b ~ Beta(a, b), without the cancellation in 1 - b. */
  betaPrime(a: number, b: number): number {
    return this.gamma(a) / this.gamma(b);
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.uniform() * n));
  }
}

/** Standard normals for a batch: row k (size `rowSize`) from seed k's stream at `offset`. */
export function seededNormals(
  seeds: readonly number[],
  rowSize: number,
  stream: number,
  offset = 0,
): Float64Array {
  const out = new Float64Array(seeds.length * rowSize);
  seeds.forEach((s, k) => {
    new PhiloxStream(s, stream, offset).normals(out.subarray(k * rowSize, (k + 1) * rowSize));
  });
  return out;
}

/** Philox blocks one row of `rowSize` normals uses: the offset step between successive draws. */
export const blocksPerRow = (rowSize: number) => Math.ceil(rowSize / 4);
