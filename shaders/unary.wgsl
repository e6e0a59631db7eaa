// unary.wgsl: y[i] = f(x[i]) for a contiguous f32 tensor, one element per invocation.
//
// Bindings: 0 x: array<f32> (read), 1 y: array<f32> (read_write), 2 p: Params (uniform);
//   entry main4 reads and writes them as array<vec4<f32>> when the size is a multiple of 4.
// Geometry: 1-D, WG invocations per workgroup; workgroups may be folded into 2-D (x, y) when
//   there are more than 65,535; the linear index is (wid.y * nwg.x + wid.x) * WG + lid and
//   invocations past n return.
// OP (override) selects f; alpha/beta are the scalar parameters of the parametric ops.
// sin/cos use lib/trig.wgsl (prepended by the descriptor), accurate on every implementation.
// Reference: packages/tensor/src/reference/elementwise.ts (UNARY_REF), same codes.

override OP: u32 = 0u;
override WG: u32 = 64u;

struct Params { n: u32, alpha: f32, beta: f32, _pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
// The same buffers seen as vec4 by main4 (n a multiple of 4): one load and one store per four
// elements, which CPU rasterizers execute as one per-lane memory access instead of four.
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

// A quiet NaN; a private variable because constant expressions may not produce NaN.
var<private> nan_bits: u32 = 0x7fc00000u;

// NaN test on the bit pattern: comparisons with NaN may be folded away by a compiler.
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

// erf: Taylor series below 0.5 (where 1 - poly*exp cancels in f32), Abramowitz & Stegun
// 7.1.26 (|error| < 1.5e-7) above, odd extension.
fn erf_f32(v: f32) -> f32 {
  let a = abs(v);
  if (a < 0.5) {
    let s = v * v;
    return 1.1283791670955126 * v * (1.0 + s * (-1.0 / 3.0 + s * (0.1 + s * (-1.0 / 42.0 + s * (1.0 / 216.0 + s * (-1.0 / 1320.0 + s / 9360.0))))));
  }
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let r = 1.0 - poly * exp(-a * a);
  return select(r, -r, v < 0.0);
}

// NaN for NaN and +-inf inputs (the polynomial path would return garbage for them).
fn trig_guard(v: f32, r: f32) -> f32 {
  return select(r, bitcast<f32>(nan_bits), (bitcast<u32>(v) & 0x7fffffffu) >= 0x7f800000u);
}

fn apply(v: f32) -> f32 {
  switch OP {
    case 0u: { return -v; }
    case 1u: { return abs(v); }
    case 2u: { return exp(v); }
    case 3u: { return log(v); }
    case 4u: { return sqrt(v); }
    case 5u: { return inverseSqrt(v); }
    case 6u: { return v * v; }
    case 7u: { return 1.0 / v; }
    case 8u: { return trig_guard(v, sincos_radians(v).x); }
    case 9u: { return trig_guard(v, sincos_radians(v).y); }
    // tanh via exp of a clamped argument: |v| > 15 is +-1 in f32 and avoids inf/inf.
    case 10u: { if (is_nan(v)) { return v; } let e = exp(-2.0 * clamp(abs(v), 0.0, 15.0)); return sign(v) * (1.0 - e) / (1.0 + e); }
    case 11u: { return 1.0 / (1.0 + exp(-v)); }
    case 12u: { return v / (1.0 + exp(-v)); }
    // relu keeps NaN (as PyTorch): NaN < 0 is false.
    case 13u: { return select(v, 0.0, v < 0.0); }
    case 14u: { if (is_nan(v)) { return v; } return erf_f32(v); }
    case 15u: { return p.alpha * v + p.beta; }
    case 16u: { return pow_scalar(v, p.alpha); }
    case 17u: { if (is_nan(v)) { return v; } return min(max(v, p.alpha), p.beta); }
    case 18u: { if (is_nan(v)) { return v; } return sign(v); }
    case 19u: { return select(0.0, 1.0, v > 0.0); }
    // Non-finite values replaced: NaN -> alpha, +-inf -> +-beta (gradient sanitising).
    case 20u: {
      if (is_nan(v)) { return p.alpha; }
      if ((bitcast<u32>(v) & 0x7fffffffu) == 0x7f800000u) { return select(p.beta, -p.beta, v < 0.0); }
      return v;
    }
    default: { return v; }
  }
}

// x^e with a scalar exponent, defined as in C/PyTorch for negative bases and integer e.
fn pow_scalar(v: f32, e: f32) -> f32 {
  if (e == 0.0) { return 1.0; }
  if (e == 1.0) { return v; }
  if (e == 2.0) { return v * v; }
  if (e == 0.5) { return sqrt(v); }
  let mag = exp2(e * log2(abs(v)));
  if (v < 0.0) {
    // -inf to a non-integer power is +inf or +0 (C and JS agree); other negative bases: NaN.
    if (floor(e) != e) { return select(bitcast<f32>(nan_bits), mag, abs(v) > 3.4e38); }
    let odd = (abs(e) % 2.0) == 1.0;
    return select(mag, -mag, odd);
  }
  return mag;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) { return; }
  y[i] = apply(x[i]);
}

// p.n counts vec4 here.
@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) { return; }
  let v = x4[i];
  y4[i] = vec4<f32>(apply(v.x), apply(v.y), apply(v.z), apply(v.w));
}
