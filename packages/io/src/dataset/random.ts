/**
 * The random numbers of the official data pipeline, reproduced: NumPy's legacy
 * `RandomState(seed)` is MT19937 seeded with init_genrand, `shuffle` is a Fisher-Yates walk from
 * the end drawing j in [0, i] by masked rejection on 32-bit outputs, and `randint(n)` draws the
 * same way in [0, n-1]. With these, `Dataset(max_size=..., random_seed=s)` picks the same subset
 * and `InfiniteSampler(seed=s)` yields the same index stream as the PyTorch code. Checked against
 * NumPy's own test vectors (RandomState(1234567890).shuffle, .randint) in the tests.
 */

const N = 624;
const M = 397;

export class Mt19937 {
  private readonly mt = new Uint32Array(N);
  private index = N;

  /** `seed` is taken modulo 2^32 (NumPy rejects seeds outside [0, 2^32)). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
    }
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] as number;
      const x = prev ^ (prev >>> 30);
      // 1812433253 * x + i in 32-bit arithmetic, split to stay exact in doubles.
      mt[i] =
        (((((x & 0xffff0000) >>> 16) * 1812433253) << 16) + (x & 0xffff) * 1812433253 + i) >>> 0;
    }
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < N; i++) {
      const y = ((mt[i] as number) & 0x80000000) | ((mt[(i + 1) % N] as number) & 0x7fffffff);
      let v = (mt[(i + M) % N] as number) ^ (y >>> 1);
      if (y & 1) v ^= 0x9908b0df;
      mt[i] = v >>> 0;
    }
    this.index = 0;
  }

  /** The next 32-bit output. */
  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.mt[this.index++] as number;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Uniform integer in [0, max] (NumPy's random_interval / masked bounded draw; max < 2^32). */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    for (;;) {
      const v = (this.nextUint32() & mask) >>> 0;
      if (v <= max) return v;
    }
  }

  /** `RandomState.randint(n)`: uniform in [0, n-1]. */
  randint(n: number): number {
    return this.interval(n - 1);
  }

  /** `RandomState.shuffle(a)` on a 1-d array, in place. */
  shuffle<T extends { [i: number]: number; length: number }>(a: T): T {
    for (let i = a.length - 1; i >= 1; i--) {
      const j = this.interval(i);
      const t = a[i] as number;
      a[i] = a[j] as number;
      a[j] = t;
    }
    return a;
  }
}

/** `np.random.RandomState(seed).permutation(n)` as an Int32Array. */
export function permutation(n: number, rng: Mt19937): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return rng.shuffle(a);
}

/** `np.rint`: round half to even (the official sampler's window and center-crop-wide use it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
