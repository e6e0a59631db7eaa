// conv1x1.wgsl: a 1x1 correlation at stride 1 without padding on planes of a multiple of 4
// pixels (per image a matmul of the weights with the [channels, pixels] plane): the UNet's
// skip projections, attention's qkv and output projections and their input gradients. The
// general kernel (conv.wgsl) handles every other shape.
//
// Bindings: 0 x: array<vec4<f32>> (read) [N, c_total, P] (P = 4 * p4 pixels per plane);
//   1 bw: array<vec4<f32>> (read) [groups, m_tiles, cg, ROWS], weights packed by conv_pack.wgsl
//   (LAYOUT 0, K-major; channels past mg are zeros); 2 bias: array<f32> (read) [y_c] (read
//   only if has_bias); 3 y: array<vec4<f32>> (read_write) [N, y_c, P]; 4 p: Params (uniform).
// y[n, g*mg + m, i] = bias + sum_{c < cg} w[g, m, c] * x[n, g*cg + c, i].
// Why a kernel of its own: on lavapipe every load whose address is not a constant is a
//   bounds-checked loop over the lanes, and a vec4 load costs 1.6-2 scalar ones for 4 values.
//   A lane owns 4 adjacent pixels and loads them as one vec4 per input channel; lanes 0..3 of
//   each block of 8 load the channel's ROWS weights as ROWS / 4 vec4 and subgroupBroadcast
//   hands them round: 2 vec4 loads per 64 multiply-adds, against 6 scalar loads in conv.wgsl.
// Needs subgroups of at least 8 (the host checks). Lanes past the last quad compute a copy of
//   it and store nothing (broadcasts need every lane).
// Geometry: workgroups = groups * m_tiles * lane_groups, folded into 2-D past 65,535.
// Reference: packages/tensor/src/reference/conv.ts (conv2dRef, convTranspose2dRef).

enable subgroups;

override WG: u32 = 64u;
// Output channels per workgroup: 8 or 16.
override ROWS: u32 = 16u;

struct Params {
  quads: u32, p4: u32, cg: u32, c_total: u32,
  mg: u32, m_tiles: u32, lane_groups: u32, y_c: u32,
  has_bias: u32, tiles: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> bw: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let wgi = wid.y * nwg.x + wid.x;
  let tg = wgi / p.lane_groups; // g * m_tiles + tile
  if (tg >= p.tiles) { return; } // whole workgroups of the folded padding
  let u0 = (wgi % p.lane_groups) * WG + lid; // this lane's quad
  let u = min(u0, p.quads - 1u);
  let g = tg / p.m_tiles;
  let m0 = (tg % p.m_tiles) * ROWS;
  let q = u % p.p4;
  let n = u / p.p4;
  var xc = (n * p.c_total + g * p.cg) * p.p4 + q;
  // Lane b (< ROWS / 4) of each block of 8 loads weights for rows 4b .. 4b + 3.
  let per_c = ROWS / 4u;
  var wi = tg * p.cg * per_c + (sid & 7u) % per_c;
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  var a4 = vec4<f32>(0.0);
  var a5 = vec4<f32>(0.0);
  var a6 = vec4<f32>(0.0);
  var a7 = vec4<f32>(0.0);
  var a8 = vec4<f32>(0.0);
  var a9 = vec4<f32>(0.0);
  var a10 = vec4<f32>(0.0);
  var a11 = vec4<f32>(0.0);
  var a12 = vec4<f32>(0.0);
  var a13 = vec4<f32>(0.0);
  var a14 = vec4<f32>(0.0);
  var a15 = vec4<f32>(0.0);
  for (var c = 0u; c < p.cg; c++) {
    let v = x[xc];
    let w = bw[wi];
    a0 = fma(vec4<f32>(subgroupBroadcast(w.x, 0u)), v, a0);
    a1 = fma(vec4<f32>(subgroupBroadcast(w.y, 0u)), v, a1);
    a2 = fma(vec4<f32>(subgroupBroadcast(w.z, 0u)), v, a2);
    a3 = fma(vec4<f32>(subgroupBroadcast(w.w, 0u)), v, a3);
    a4 = fma(vec4<f32>(subgroupBroadcast(w.x, 1u)), v, a4);
    a5 = fma(vec4<f32>(subgroupBroadcast(w.y, 1u)), v, a5);
    a6 = fma(vec4<f32>(subgroupBroadcast(w.z, 1u)), v, a6);
    a7 = fma(vec4<f32>(subgroupBroadcast(w.w, 1u)), v, a7);
    if (ROWS == 16u) {
      a8 = fma(vec4<f32>(subgroupBroadcast(w.x, 2u)), v, a8);
      a9 = fma(vec4<f32>(subgroupBroadcast(w.y, 2u)), v, a9);
      a10 = fma(vec4<f32>(subgroupBroadcast(w.z, 2u)), v, a10);
      a11 = fma(vec4<f32>(subgroupBroadcast(w.w, 2u)), v, a11);
      a12 = fma(vec4<f32>(subgroupBroadcast(w.x, 3u)), v, a12);
      a13 = fma(vec4<f32>(subgroupBroadcast(w.y, 3u)), v, a13);
      a14 = fma(vec4<f32>(subgroupBroadcast(w.z, 3u)), v, a14);
      a15 = fma(vec4<f32>(subgroupBroadcast(w.w, 3u)), v, a15);
    }
    xc += p.p4;
    wi += per_c;
  }
  if (u0 >= p.quads) { return; }
  let res = array<vec4<f32>, 16>(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13,
    a14, a15);
  let at = n * p.y_c * p.p4 + q;
  for (var r = 0u; r < ROWS; r++) {
    let m = m0 + r;
    if (m < p.mg) {
      let co = g * p.mg + m;
      var b = 0.0;
      if (p.has_bias != 0u) { b = bias[co]; }
      y[at + co * p.p4] = res[r] + vec4<f32>(b);
    }
  }
}
