// conv3x3_same_wgrad.wgsl: the weight gradient of a 3x3 correlation at stride 1 with one pixel
// of implicit zero padding, for rows of 4, 8, 16 or 32 pixels (the partner of
// conv3x3_same.wgsl), as partial sums over chunks of the image rows; the host sums the chunks.
//
// Bindings: 0 a: array<vec4<f32>> (read) [N, a_c, h, w], the operand on the output grid
//   (conv2d: the output gradient; conv_transpose2d: the input); 1 b: array<vec4<f32>> (read)
//   [N, b_c, h, w], the operand read through the window (conv2d: x; conv_transpose2d: the
//   output gradient), not padded; 2 out: array<f32> (read_write) [chunks, groups*ag, bg*9];
//   3 sums: array<f32> (read_write) [chunks, groups*ag] (written only with SUMS); 4 p: Params
//   (uniform). w = 4 * LPR.
// out[ch, g*ag + k, (c*3 + i)*3 + j] = sum over the rows (n, oy) of chunk ch and all ox of
//   a[n, g*ag + k, oy, ox] * b[n, g*bg + c, oy + i - 1, ox + j - 1] (0 outside the image).
// sums[ch, g*ag + k] = the sum of a[n, g*ag + k, oy, ox] over the same pixels: conv2d's bias
//   gradient, from the values the lanes load anyway (instead of a reduction pass over a).
// Work split: a workgroup owns KT (8 or 16) channels k of one group and WG lanes; lane e owns
//   the kernel row (c, i) = (e / 3, e % 3) of every k and keeps KT x 3 sums (vec3 per k). All
//   lanes walk the same pixels, 4 at a time: a lane loads one vec4 of its b row per quad (the
//   window's edge pixels come from the previous and next quads' vectors, or are the zero
//   padding), and lane l of each block of 8 loads the 4 values of a for channel k = l (KT 16:
//   also k = 8 + l), which subgroupBroadcast hands to every lane. Per quad: 2 (KT 16: 3) vec4
//   loads per lane for 96 (192) multiply-adds (conv_wgrad.wgsl: 3 scalar loads for 48).
// Needs subgroups of at least 8 (the host checks). Lanes past the last (c, i) compute a copy
//   of it and store nothing (broadcasts need every lane).
// Geometry: workgroups = chunks * tiles * lane_groups, folded into 2-D past 65,535.
// Reference: packages/tensor/src/reference/conv.ts (through the finite-difference gradients of
//   conv2dRef and convTranspose2dRef).

enable subgroups;

override WG: u32 = 32u;
// Quads of 4 pixels per image row: 1, 2, 4 or 8.
override LPR: u32 = 8u;
// Channels of a per workgroup: 8, or 16 (each lane then loads two vec4 of a per quad, and the
// vec4 of b it loads serves twice the multiply-adds).
override KT: u32 = 8u;
// 1: also write the sums of a per channel (binding 3).
override SUMS: u32 = 0u;

struct Params {
  rows_total: u32, h: u32, a_c: u32, ag: u32,
  a_tiles: u32, bg: u32, b_c: u32, items: u32,
  lane_groups: u32, rows_per_chunk: u32, tiles: u32, chunks: u32,
}

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

var<private> s0: vec3<f32>;
var<private> s1: vec3<f32>;
var<private> s2: vec3<f32>;
var<private> s3: vec3<f32>;
var<private> s4: vec3<f32>;
var<private> s5: vec3<f32>;
var<private> s6: vec3<f32>;
var<private> s7: vec3<f32>;
var<private> s8: vec3<f32>;
var<private> s9: vec3<f32>;
var<private> s10: vec3<f32>;
var<private> s11: vec3<f32>;
var<private> s12: vec3<f32>;
var<private> s13: vec3<f32>;
var<private> s14: vec3<f32>;
var<private> s15: vec3<f32>;

// One channel's 4 values of a against the three windows.
fn taps(g: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>) -> vec3<f32> {
  return vec3<f32>(dot(g, w0), dot(g, w1), dot(g, w2));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let wgi = wid.y * nwg.x + wid.x;
  let t = wgi / p.lane_groups;
  let chunk = t / p.tiles;
  if (chunk >= p.chunks) { return; } // whole workgroups of the folded padding
  let tg = t % p.tiles; // g * a_tiles + tile
  let g = tg / p.a_tiles;
  let k0 = (tg % p.a_tiles) * KT;
  let e_raw = (wgi % p.lane_groups) * WG + lid;
  let e = min(e_raw, p.items - 1u);
  let c = e / 3u;
  let i = e % 3u;
  // This lane's channel of a (as broadcast source), clamped into the group.
  let ka = g * p.ag + min(k0 + (sid & 7u), p.ag - 1u);
  let kb = g * p.ag + min(k0 + 8u + (sid & 7u), p.ag - 1u); // KT 16: channels k0 + 8 ...
  let plane4 = p.h * LPR;
  let row0 = chunk * p.rows_per_chunk;
  let row1 = min(p.rows_total, row0 + p.rows_per_chunk);
  // This lane's sums of a (channels k0 + l and k0 + 8 + l) over the chunk's pixels.
  var sa = vec4<f32>(0.0);
  var sb = vec4<f32>(0.0);
  for (var row = row0; row < row1; row++) {
    let n = row / p.h;
    let oy = row % p.h;
    let ai = (n * p.a_c + ka) * plane4 + oy * LPR;
    let aj = (n * p.a_c + kb) * plane4 + oy * LPR;
    // Row oy + i - 1 of b; outside the image it reads row oy and is zeroed.
    let iy = oy + i;
    let inside = iy >= 1u && iy <= p.h;
    let by = select(oy, iy - 1u, inside);
    let bi = (n * p.b_c + g * p.bg + c) * plane4 + by * LPR;
    var left = 0.0;
    var v = select(vec4<f32>(0.0), b[bi], inside);
    for (var q = 0u; q < LPR; q++) {
      var next = vec4<f32>(0.0);
      if (q + 1u < LPR) { next = select(vec4<f32>(0.0), b[bi + q + 1u], inside); }
      let w0 = vec4<f32>(left, v.xyz);
      let w2 = vec4<f32>(v.yzw, next.x);
      let av = a[ai + q]; // lane k holds channel k0 + k: broadcast to every lane below
      sa += av;
      s0 += taps(vec4<f32>(subgroupBroadcast(av.x, 0u), subgroupBroadcast(av.y, 0u),
        subgroupBroadcast(av.z, 0u), subgroupBroadcast(av.w, 0u)), w0, v, w2);
      s1 += taps(vec4<f32>(subgroupBroadcast(av.x, 1u), subgroupBroadcast(av.y, 1u),
        subgroupBroadcast(av.z, 1u), subgroupBroadcast(av.w, 1u)), w0, v, w2);
      s2 += taps(vec4<f32>(subgroupBroadcast(av.x, 2u), subgroupBroadcast(av.y, 2u),
        subgroupBroadcast(av.z, 2u), subgroupBroadcast(av.w, 2u)), w0, v, w2);
      s3 += taps(vec4<f32>(subgroupBroadcast(av.x, 3u), subgroupBroadcast(av.y, 3u),
        subgroupBroadcast(av.z, 3u), subgroupBroadcast(av.w, 3u)), w0, v, w2);
      s4 += taps(vec4<f32>(subgroupBroadcast(av.x, 4u), subgroupBroadcast(av.y, 4u),
        subgroupBroadcast(av.z, 4u), subgroupBroadcast(av.w, 4u)), w0, v, w2);
      s5 += taps(vec4<f32>(subgroupBroadcast(av.x, 5u), subgroupBroadcast(av.y, 5u),
        subgroupBroadcast(av.z, 5u), subgroupBroadcast(av.w, 5u)), w0, v, w2);
      s6 += taps(vec4<f32>(subgroupBroadcast(av.x, 6u), subgroupBroadcast(av.y, 6u),
        subgroupBroadcast(av.z, 6u), subgroupBroadcast(av.w, 6u)), w0, v, w2);
      s7 += taps(vec4<f32>(subgroupBroadcast(av.x, 7u), subgroupBroadcast(av.y, 7u),
        subgroupBroadcast(av.z, 7u), subgroupBroadcast(av.w, 7u)), w0, v, w2);
      if (KT == 16u) {
        let bv = a[aj + q]; // channel k0 + 8 + k
        sb += bv;
        s8 += taps(vec4<f32>(subgroupBroadcast(bv.x, 0u), subgroupBroadcast(bv.y, 0u),
          subgroupBroadcast(bv.z, 0u), subgroupBroadcast(bv.w, 0u)), w0, v, w2);
        s9 += taps(vec4<f32>(subgroupBroadcast(bv.x, 1u), subgroupBroadcast(bv.y, 1u),
          subgroupBroadcast(bv.z, 1u), subgroupBroadcast(bv.w, 1u)), w0, v, w2);
        s10 += taps(vec4<f32>(subgroupBroadcast(bv.x, 2u), subgroupBroadcast(bv.y, 2u),
          subgroupBroadcast(bv.z, 2u), subgroupBroadcast(bv.w, 2u)), w0, v, w2);
        s11 += taps(vec4<f32>(subgroupBroadcast(bv.x, 3u), subgroupBroadcast(bv.y, 3u),
          subgroupBroadcast(bv.z, 3u), subgroupBroadcast(bv.w, 3u)), w0, v, w2);
        s12 += taps(vec4<f32>(subgroupBroadcast(bv.x, 4u), subgroupBroadcast(bv.y, 4u),
          subgroupBroadcast(bv.z, 4u), subgroupBroadcast(bv.w, 4u)), w0, v, w2);
        s13 += taps(vec4<f32>(subgroupBroadcast(bv.x, 5u), subgroupBroadcast(bv.y, 5u),
          subgroupBroadcast(bv.z, 5u), subgroupBroadcast(bv.w, 5u)), w0, v, w2);
        s14 += taps(vec4<f32>(subgroupBroadcast(bv.x, 6u), subgroupBroadcast(bv.y, 6u),
          subgroupBroadcast(bv.z, 6u), subgroupBroadcast(bv.w, 6u)), w0, v, w2);
        s15 += taps(vec4<f32>(subgroupBroadcast(bv.x, 7u), subgroupBroadcast(bv.y, 7u),
          subgroupBroadcast(bv.z, 7u), subgroupBroadcast(bv.w, 7u)), w0, v, w2);
      }
      left = v.w;
      v = next;
    }
  }
  // Every lane group of the tile walked the same pixels: lanes 0..7 of the subgroup holding
  // invocation 0 of the first one write (lane l loaded channels k0 + l and k0 + 8 + l).
  let first = subgroupAny(lid == 0u);
  if (SUMS == 1u && (wgi % p.lane_groups) == 0u && first && sid < 8u) {
    let base = chunk * p.a_c + g * p.ag;
    if (k0 + sid < p.ag) { sums[base + k0 + sid] = (sa.x + sa.y) + (sa.z + sa.w); }
    if (KT == 16u && k0 + 8u + sid < p.ag) {
      sums[base + k0 + 8u + sid] = (sb.x + sb.y) + (sb.z + sb.w);
    }
  }
  if (e_raw >= p.items) { return; }
  let res = array<vec3<f32>, 16>(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13,
    s14, s15);
  let width = p.bg * 9u;
  for (var r = 0u; r < KT; r++) {
    if (k0 + r < p.ag) {
      let o = (chunk * p.a_c + g * p.ag + k0 + r) * width + e * 3u;
      out[o] = res[r].x;
      out[o + 1u] = res[r].y;
      out[o + 2u] = res[r].z;
    }
  }
}
