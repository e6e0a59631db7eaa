// binary.wgsl: z = f(a, b) with NumPy broadcasting; comparisons give 1.0 / 0.0.
//
// Bindings: 0 a: array<f32> (read), 1 b: array<f32> (read), 2 z: array<f32> (read_write),
//   3 p: Params (uniform).
// Shapes: z is contiguous with shape p.shape (rank <= 8, row-major). a and b are read through
//   element strides aligned to z's axes (stride 0 on broadcast axes). When BROADCAST is false
//   all three have the same shape and are indexed directly.
// Work split: direct: one element per invocation. Broadcast: a run of up to CH elements of the
//   innermost axis per invocation, so the coordinate decomposition (integer division, slow on
//   CPU rasterizers) is paid once per run; the host merges axes that are contiguous in all
//   three tensors first, so the rank is as small as it can be.
// Geometry: 1-D, folded into 2-D past 65,535 workgroups; invocations past the end return.
// Reference: packages/tensor/src/reference/elementwise.ts (BINARY_REF), same codes.

override OP: u32 = 0u;
override BROADCAST: bool = false;
override WG: u32 = 64u;
override CH: u32 = 16u;

struct Params {
  n: u32, rank: u32, _p0: u32, _p1: u32,
  shape: array<vec4<u32>, 2>,
  a_strides: array<vec4<u32>, 2>,
  b_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> z: array<f32>;
// The same buffers seen as vec4 by main4 (same shapes, size a multiple of 4): one memory access
// per four elements, which CPU rasterizers execute as one per-lane access instead of four.
@group(0) @binding(0) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> z4: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;

// A quiet NaN; a private variable because constant expressions may not produce NaN.
var<private> nan_bits: u32 = 0x7fc00000u;

fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

fn apply(u: f32, v: f32) -> f32 {
  switch OP {
    case 0u: { return u + v; }
    case 1u: { return u - v; }
    case 2u: { return u * v; }
    case 3u: { return u / v; }
    case 4u: { return pow_ff(u, v); }
    // maximum/minimum propagate NaN, as PyTorch.
    case 5u: { if (is_nan(u) || is_nan(v)) { return u + v; } return max(u, v); }
    case 6u: { if (is_nan(u) || is_nan(v)) { return u + v; } return min(u, v); }
    case 7u: { return select(0.0, 1.0, u == v); }
    case 8u: { return select(0.0, 1.0, u != v || is_nan(u) || is_nan(v)); }
    case 9u: { return select(0.0, 1.0, u < v); }
    case 10u: { return select(0.0, 1.0, u <= v); }
    case 11u: { return select(0.0, 1.0, u > v); }
    case 12u: { return select(0.0, 1.0, u >= v); }
    default: { return u; }
  }
}

// u^v as C's powf: negative bases only for integer exponents, otherwise NaN.
fn pow_ff(u: f32, v: f32) -> f32 {
  if (v == 0.0) { return 1.0; }
  let mag = exp2(v * log2(abs(u)));
  if (u < 0.0) {
    if (floor(v) != v) { return select(bitcast<f32>(nan_bits), mag, abs(u) > 3.4e38); }
    return select(mag, -mag, (abs(v) % 2.0) == 1.0);
  }
  return mag;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (!BROADCAST) {
    if (t >= p.n) { return; }
    z[t] = apply(a[t], b[t]);
    return;
  }
  let last = i32(p.rank) - 1;
  let len = p.shape[last / 4][last % 4];
  let runs = (len + CH - 1u) / CH;
  if (t >= (p.n / len) * runs) { return; }
  let row = t / runs;
  let j0 = (t % runs) * CH;
  var rest = row;
  var ia = 0u;
  var ib = 0u;
  for (var d = last - 1; d >= 0; d--) {
    let size = p.shape[d / 4][d % 4];
    let coord = rest % size;
    rest = rest / size;
    ia += coord * p.a_strides[d / 4][d % 4];
    ib += coord * p.b_strides[d / 4][d % 4];
  }
  let sa = p.a_strides[last / 4][last % 4];
  let sb = p.b_strides[last / 4][last % 4];
  let j1 = min(len, j0 + CH);
  for (var j = j0; j < j1; j++) {
    z[row * len + j] = apply(a[ia + j * sa], b[ib + j * sb]);
  }
}

// Same-shape operands, p.n counts vec4.
@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) { return; }
  let u = a4[i];
  let v = b4[i];
  z4[i] = vec4<f32>(apply(u.x, v.x), apply(u.y, v.y), apply(u.z, v.z), apply(u.w, v.w));
}
