/** A small seeded generator for test inputs (mulberry32); never used in numeric library code. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` values uniform in [lo, hi), rounded to f32 so the CPU reference sees the GPU's inputs. */
export function uniformValues(n: number, lo: number, hi: number, seed: number): Float64Array {
  const r = seeded(seed);
  return Float64Array.from(Float32Array.from({ length: n }, () => lo + (hi - lo) * r()));
}
