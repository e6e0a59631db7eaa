// lib/trig.wgsl: sine and cosine accurate to ~1e-7 on any WebGPU implementation.
//
// WGSL only bounds sin/cos error on [-pi, pi] and loosely (2^-11 absolute); SwiftShader's are
// off by ~2e-4. These reduce the argument exactly to [-pi/4, pi/4] and use Taylor polynomials
// (truncation error < 2e-9 there). Included by kernels that list "lib/trig.wgsl" in their
// descriptor's `libs` (see packages/tensor/src/kernels.ts).

// sin and cos of r for |r| <= pi/4.
fn trig_poly(r: f32) -> vec2<f32> {
  let r2 = r * r;
  let s = r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0)))));
  let c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0 + r2 * (-1.0 / 3628800.0)))));
  return vec2<f32>(s, c);
}

// (sin, cos) of r rotated by quadrant q (mod 4) quarter turns.
fn trig_rotate(sc: vec2<f32>, q: i32) -> vec2<f32> {
  switch (q & 3) {
    case 0: { return sc; }
    case 1: { return vec2<f32>(sc.y, -sc.x); }
    case 2: { return -sc; }
    default: { return vec2<f32>(-sc.y, sc.x); }
  }
}

// (sin, cos) of 2*pi*t for t in turns; the quarter-turn reduction of t is exact in f32.
fn sincos_turns(t: f32) -> vec2<f32> {
  let q = round(4.0 * t);
  let f = t - 0.25 * q;
  return trig_rotate(trig_poly(6.283185307179586 * f), i32(q));
}

// (sin, cos) of x radians: Cody-Waite reduction by pi/2 in three parts (exact products for
// |x| < ~1e5), then the polynomials. NaN and +-inf give NaN.
fn sincos_radians(x: f32) -> vec2<f32> {
  let k = round(x * 0.6366197723675814);
  let r = ((x - k * 1.5703125) - k * 4.837512969970703125e-4) - k * 7.54978995489188216e-8;
  let q = i32(k - 4.0 * floor(k * 0.25));
  return trig_rotate(trig_poly(r), q);
}
