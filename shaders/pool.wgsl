// pool.wgsl: 2-D max and average pooling of NCHW planes, one output element per invocation.
//
// Bindings: 0 x: array<f32> (read) [planes = N*C, H, W], 1 y: array<f32> (read_write)
//   [planes, OH, OW], 2 p: Params (uniform).
// y[q, oy, ox] pools x[q, oy*sh - ph + i, ox*sw - pw + j] for i < kh, j < kw. Taps outside the
//   image count as -inf for max (they never win) and as 0 for avg; avg divides by kh*kw when
//   INCLUDE_PAD is 1, else by the number of in-bounds taps (PyTorch's count_include_pad).
//   The window is clipped to the image once, so the inner loops carry no bounds checks.
// OP: 0 max (NaN propagates, as PyTorch), 1 avg.
// Geometry: 1-D over planes*OH*OW, folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/pool.ts.

override OP: u32 = 0u;
override INCLUDE_PAD: u32 = 1u;
override WG: u32 = 64u;

struct Params { n: u32, h: u32, w: u32, oh: u32, ow: u32, kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32, _p0: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

// A quiet NaN; a private variable because constant expressions may not produce NaN.
var<private> nan_bits: u32 = 0x7fc00000u;
var<private> neg_inf_bits: u32 = 0xff800000u;

fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.n) { return; }
  let ox = t % p.ow;
  let oy = (t / p.ow) % p.oh;
  let q = t / (p.ow * p.oh);
  // Window in padded coordinates, then clipped to the image (signed: it may start above it).
  let y0 = i32(oy * p.sh) - i32(p.ph);
  let x0 = i32(ox * p.sw) - i32(p.pw);
  let ya = u32(max(y0, 0));
  let yb = u32(min(y0 + i32(p.kh), i32(p.h)));
  let xa = u32(max(x0, 0));
  let xb = u32(min(x0 + i32(p.kw), i32(p.w)));
  let plane = q * p.h * p.w;
  var acc = select(0.0, -3.4028234663852886e38, OP == 0u);
  var seen = false;
  var nan = false;
  for (var iy = ya; iy < yb; iy++) {
    let row = plane + iy * p.w;
    for (var ix = xa; ix < xb; ix++) {
      let v = x[row + ix];
      if (OP == 0u) {
        nan = nan || is_nan(v);
        acc = select(max(acc, v), v, !seen);
        seen = true;
      } else {
        acc += v;
      }
    }
  }
  if (OP == 0u) {
    // A window with no in-bounds tap (possible only with padding >= kernel) is -inf.
    if (!seen) { acc = bitcast<f32>(neg_inf_bits); }
    if (nan) { acc = bitcast<f32>(nan_bits); }
  } else {
    var count: f32;
    if (INCLUDE_PAD == 1u) {
      // PyTorch counts padding taps but not taps past the padded border.
      let ye = min(y0 + i32(p.kh), i32(p.h + p.ph));
      let xe = min(x0 + i32(p.kw), i32(p.w + p.pw));
      count = f32((ye - y0) * (xe - x0));
    } else {
      count = f32((yb - ya) * (xb - xa));
    }
    acc = acc / count;
  }
  y[t] = acc;
}
