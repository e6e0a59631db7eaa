// resample2x2.wgsl: depthwise 2x2 convolutions at stride 2 without padding, EDM's resampling
// with the filter [1, 1] (SPEC 5.2): `down` is conv2d (groups = channels), `up` its transpose.
// Each is the other's input gradient.
//
// Bindings: 0 x: array<f32> (read) [N, C, h, w]; 1 wt: array<vec4<f32>> (read) [C], the
//   channel's 2x2 taps (w[c, 0, a, b] at component 2a + b); 2 bias: array<f32> (read) [C]
//   (read only if has_bias); 3 y: array<f32> (read_write); 4 p: Params (uniform).
// down: y [N, C, h/2, w/2] (h floored), y[n, c, i, j] = bias + sum_{a, b < 2}
//   w[c, 0, a, b] * x[n, c, 2i + a, 2j + b]; needs w % 4 == 0.
// up: y [N, C, 2h, 2w], y[n, c, 2i + a, 2j + b] = bias + w[c, 0, a, b] * x[n, c, i, j]; needs
//   w % 2 == 0.
// Why a kernel of its own: conv.wgsl runs these as 4 output phases (up) or a strided window
//   with scalar loads, 3x the time of a copy of the same size on lavapipe; here one invocation
//   reads 2 (down: 2 x 4) values with vec2 / vec4 loads and writes 2 x 4 (down: 2).
// Geometry: one invocation per pair of outputs (down) or of inputs (up), 1-D, folded into 2-D
//   past 65,535 workgroups; invocations past the end return.
// Reference: packages/tensor/src/reference/conv.ts (conv2dRef, convTranspose2dRef).

override WG: u32 = 64u;

struct Params {
  pairs: u32, // invocations with work: N * C * rows * (w / 2) pairs
  half_w: u32, // pairs per row: (down) output width / 2, (up) input width / 2
  rows: u32, // rows per plane: (down) output height, (up) input height
  c: u32,
  in_h: u32, // (down) input height (may be odd)
  has_bias: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec2<f32>>;
@group(0) @binding(4) var<uniform> p: Params;
// The same buffers as vec4 (down reads 4 inputs per row, up writes 4 outputs per row).
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4<f32>>;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

// One pair of outputs j = 2t, 2t + 1 of row i: input rows 2i, 2i + 1, columns 4t .. 4t + 3.
@compute @workgroup_size(WG)
fn down(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let u = index(wid, nwg, lid);
  if (u >= p.pairs) { return; }
  let t = u % p.half_w;
  let r = u / p.half_w; // (n * C + c) * rows + i
  let i = r % p.rows;
  let plane = r / p.rows; // n * C + c
  let c = plane % p.c;
  let f = wt[c];
  var b = 0.0;
  if (p.has_bias != 0u) { b = bias[c]; }
  // Input row 2i at vec4 column t; a row holds half_w vec4 (w / 4).
  let top = x4[(plane * p.in_h + 2u * i) * p.half_w + t];
  let bot = x4[(plane * p.in_h + 2u * i + 1u) * p.half_w + t];
  let v0 = f.x * top.x + f.y * top.y + f.z * bot.x + f.w * bot.y;
  let v1 = f.x * top.z + f.y * top.w + f.z * bot.z + f.w * bot.w;
  y[u] = vec2<f32>(v0 + b, v1 + b);
}

// One pair of inputs j = 2t, 2t + 1 of row i: output rows 2i, 2i + 1, columns 4t .. 4t + 3.
@compute @workgroup_size(WG)
fn up(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
      @builtin(local_invocation_index) lid: u32) {
  let u = index(wid, nwg, lid);
  if (u >= p.pairs) { return; }
  let r = u / p.half_w; // (n * C + c) * rows + i
  let t = u % p.half_w;
  let i = r % p.rows;
  let plane = r / p.rows;
  let c = plane % p.c;
  let f = wt[c];
  var b = 0.0;
  if (p.has_bias != 0u) { b = bias[c]; }
  let v = x[u];
  let bb = vec4<f32>(b);
  // An output row holds 2 * w values = half_w vec4.
  let o = (plane * 2u * p.rows + 2u * i) * p.half_w + t;
  y4[o] = vec4<f32>(f.x * v.x, f.y * v.x, f.x * v.y, f.y * v.y) + bb;
  y4[o + p.half_w] = vec4<f32>(f.z * v.x, f.w * v.x, f.z * v.y, f.w * v.y) + bb;
}
