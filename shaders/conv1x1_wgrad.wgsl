// conv1x1_wgrad.wgsl: the weight gradient of a 1x1 correlation at stride 1 without padding, on
// planes of a multiple of 4 pixels (the partner of conv1x1.wgsl), as partial sums over chunks
// of the pixels; the host sums the chunks.
//
// Bindings: 0 a: array<vec4<f32>> (read) [N, a_c, P], the operand on the output grid (conv2d:
//   the output gradient; conv_transpose2d: the input); 1 b: array<vec4<f32>> (read)
//   [N, b_c, P] (conv2d: x; conv_transpose2d: the output gradient); 2 out: array<vec4<f32>>
//   (read_write) [chunks, groups*ag, bg] (bg a multiple of 4); 3 sums: array<f32>
//   (read_write) [chunks, groups*ag] (written only with SUMS); 4 work: array<atomic<u32>>
//   (read_write), the dispatch's counter at p.slot; 5 p: Params (uniform).
//   P = 4 * p4 pixels per plane.
// out[ch, g*ag + k, c] = sum over the quads (n, q) of chunk ch of
//   dot(a[n, g*ag + k, quad q], b[n, g*bg + c, quad q]).
// sums[ch, g*ag + k] = the sum of a[n, g*ag + k] over the same quads: conv2d's bias gradient,
//   from the values the lanes load anyway.
// Why a kernel of its own: on lavapipe every load whose address is not a constant is a
//   bounds-checked loop over the lanes, so the work per loaded value decides the speed. Here a
//   workgroup is one block of 8 lanes that owns KT channels k and 32 channels c of one group;
//   lane l owns c = 4l .. 4l + 3 and keeps one vec4 of sums (over its 4 c) per k. All lanes
//   walk the same quads: per quad a lane loads its 4 vec4 of b, and lane l loads a for
//   k = l (l + 8, l + 16, l + 24 as KT allows), which subgroupBroadcast hands to every lane:
//   KT / 8 + 4 vec4 loads per lane for KT * 16 multiply-adds (conv_wgrad.wgsl: 6 scalar loads
//   per 64). With the chunk sums: 1.3-2.2x conv_wgrad.wgsl on the UNet's 1x1 shapes.
// Needs subgroups of at least 8 (the host checks). Channels past ag or bg read clamped values
//   and their sums are not stored (bg is a multiple of 4, so a lane's 4 channels are all in
//   the group or all past it).
// Work items: (chunk, group, k tile, c tile), chunks * groups * k_tiles * c_tiles of them,
//   one per workgroup of 8 lanes at a time, taken from a counter until none is left
//   (lib/work_items.wgsl: lavapipe gives each thread a fixed share of the workgroups). A chunk
//   is the flattened quads [ch * quads_per_chunk, (ch + 1) * quads_per_chunk) of N * p4,
//   walked image by image without division.
// Reference: packages/tensor/src/reference/conv.ts (through the finite-difference gradients of
//   conv2dRef and convTranspose2dRef).

// (enable subgroups: in lib/work_items.wgsl, placed before this file.)

// One block of 8 lanes per workgroup (the host passes 8).
override WG: u32 = 8u;
// Channels k per workgroup: 8, 16 or 32.
override KT: u32 = 32u;
// 1: also write the sums of a per channel (binding 3).
override SUMS: u32 = 0u;

struct Params {
  p4: u32, quads: u32, quads_per_chunk: u32, chunks: u32,
  a_c: u32, ag: u32, k_tiles: u32, b_c: u32,
  bg: u32, c_tiles: u32, tiles: u32, slot: u32,
}

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;
@group(0) @binding(4) var<storage, read_write> work: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> p: Params;

// This lane's 4 channels of b at one quad.
struct Quads { v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32> }

// acc + (dot(g, q.v0), dot(g, q.v1), dot(g, q.v2), dot(g, q.v3)): one channel k of a against
// the lane's 4 channels c.
fn dots(acc: vec4<f32>, g: vec4<f32>, q: Quads) -> vec4<f32> {
  return acc + vec4<f32>(dot(g, q.v0), dot(g, q.v1), dot(g, q.v2), dot(g, q.v3));
}

@compute @workgroup_size(WG)
fn main(@builtin(subgroup_invocation_id) sid: u32) {
  let items = p.chunks * p.tiles;
  loop {
    let item = next_item(p.slot, sid);
    if (item >= items) { break; }
    sums_of(item, sid);
  }
}

// One work item: wgi = chunk * tiles + t.
fn sums_of(wgi: u32, sid: u32) {
  let chunk = wgi / p.tiles;
  let t = wgi % p.tiles; // (g * k_tiles + k_tile) * c_tiles + c_tile
  let c_tile = t % p.c_tiles;
  let gk = t / p.c_tiles;
  let g = gk / p.k_tiles;
  let k0 = (gk % p.k_tiles) * KT;
  let l = sid & 7u;
  let c0 = c_tile * 32u + 4u * l; // this lane's first channel of b in the group
  // Channels of a this lane loads (as broadcast source) and of b it owns, clamped into the group.
  let ka = g * p.ag + min(k0 + l, p.ag - 1u);
  let kb = g * p.ag + min(k0 + 8u + l, p.ag - 1u);
  let kc = g * p.ag + min(k0 + 16u + l, p.ag - 1u);
  let kd = g * p.ag + min(k0 + 24u + l, p.ag - 1u);
  let cb = g * p.bg + min(c0, p.bg - 4u);
  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  var s3 = vec4<f32>(0.0);
  var s4 = vec4<f32>(0.0);
  var s5 = vec4<f32>(0.0);
  var s6 = vec4<f32>(0.0);
  var s7 = vec4<f32>(0.0);
  var s8 = vec4<f32>(0.0);
  var s9 = vec4<f32>(0.0);
  var s10 = vec4<f32>(0.0);
  var s11 = vec4<f32>(0.0);
  var s12 = vec4<f32>(0.0);
  var s13 = vec4<f32>(0.0);
  var s14 = vec4<f32>(0.0);
  var s15 = vec4<f32>(0.0);
  var s16 = vec4<f32>(0.0);
  var s17 = vec4<f32>(0.0);
  var s18 = vec4<f32>(0.0);
  var s19 = vec4<f32>(0.0);
  var s20 = vec4<f32>(0.0);
  var s21 = vec4<f32>(0.0);
  var s22 = vec4<f32>(0.0);
  var s23 = vec4<f32>(0.0);
  var s24 = vec4<f32>(0.0);
  var s25 = vec4<f32>(0.0);
  var s26 = vec4<f32>(0.0);
  var s27 = vec4<f32>(0.0);
  var s28 = vec4<f32>(0.0);
  var s29 = vec4<f32>(0.0);
  var s30 = vec4<f32>(0.0);
  var s31 = vec4<f32>(0.0);
  // This lane's sums of a (channels k0 + l, + 8, + 16, + 24) over the chunk.
  var sa = vec4<f32>(0.0);
  var sb = vec4<f32>(0.0);
  var sc = vec4<f32>(0.0);
  var sd = vec4<f32>(0.0);
  let u0 = chunk * p.quads_per_chunk;
  let u1 = min(p.quads, u0 + p.quads_per_chunk);
  var n = u0 / p.p4;
  var q = u0 % p.p4;
  for (var u = u0; u < u1; u++) {
    let ab = n * p.a_c * p.p4 + q; // channel 0 of image n of a, at quad q
    let bb = (n * p.b_c + cb) * p.p4 + q;
    let v = Quads(b[bb], b[bb + p.p4], b[bb + 2u * p.p4], b[bb + 3u * p.p4]);
    let va = a[ab + ka * p.p4]; // lane l: channel k0 + l, for every lane below
    sa += va;
    s0 = dots(s0, subgroupBroadcast(va, 0u), v);
    s1 = dots(s1, subgroupBroadcast(va, 1u), v);
    s2 = dots(s2, subgroupBroadcast(va, 2u), v);
    s3 = dots(s3, subgroupBroadcast(va, 3u), v);
    s4 = dots(s4, subgroupBroadcast(va, 4u), v);
    s5 = dots(s5, subgroupBroadcast(va, 5u), v);
    s6 = dots(s6, subgroupBroadcast(va, 6u), v);
    s7 = dots(s7, subgroupBroadcast(va, 7u), v);
    if (KT >= 16u) {
      let vb = a[ab + kb * p.p4]; // channel k0 + 8 + l
      sb += vb;
      s8 = dots(s8, subgroupBroadcast(vb, 0u), v);
      s9 = dots(s9, subgroupBroadcast(vb, 1u), v);
      s10 = dots(s10, subgroupBroadcast(vb, 2u), v);
      s11 = dots(s11, subgroupBroadcast(vb, 3u), v);
      s12 = dots(s12, subgroupBroadcast(vb, 4u), v);
      s13 = dots(s13, subgroupBroadcast(vb, 5u), v);
      s14 = dots(s14, subgroupBroadcast(vb, 6u), v);
      s15 = dots(s15, subgroupBroadcast(vb, 7u), v);
    }
    if (KT == 32u) {
      let vc = a[ab + kc * p.p4]; // channel k0 + 16 + l
      sc += vc;
      s16 = dots(s16, subgroupBroadcast(vc, 0u), v);
      s17 = dots(s17, subgroupBroadcast(vc, 1u), v);
      s18 = dots(s18, subgroupBroadcast(vc, 2u), v);
      s19 = dots(s19, subgroupBroadcast(vc, 3u), v);
      s20 = dots(s20, subgroupBroadcast(vc, 4u), v);
      s21 = dots(s21, subgroupBroadcast(vc, 5u), v);
      s22 = dots(s22, subgroupBroadcast(vc, 6u), v);
      s23 = dots(s23, subgroupBroadcast(vc, 7u), v);
      let vd = a[ab + kd * p.p4]; // channel k0 + 24 + l
      sd += vd;
      s24 = dots(s24, subgroupBroadcast(vd, 0u), v);
      s25 = dots(s25, subgroupBroadcast(vd, 1u), v);
      s26 = dots(s26, subgroupBroadcast(vd, 2u), v);
      s27 = dots(s27, subgroupBroadcast(vd, 3u), v);
      s28 = dots(s28, subgroupBroadcast(vd, 4u), v);
      s29 = dots(s29, subgroupBroadcast(vd, 5u), v);
      s30 = dots(s30, subgroupBroadcast(vd, 6u), v);
      s31 = dots(s31, subgroupBroadcast(vd, 7u), v);
    }
    // Next quad; at the end of a plane, the next image (uniform: every lane walks the same).
    q += 1u;
    if (q == p.p4) {
      q = 0u;
      n += 1u;
    }
  }
  // Every c-tile walked the same quads of a: the first writes the sums.
  if (SUMS == 1u && c_tile == 0u) {
    let base = chunk * p.a_c + g * p.ag + k0 + l;
    let hsum = array<vec4<f32>, 4>(sa, sb, sc, sd);
    for (var j = 0u; j < KT / 8u; j++) {
      if (k0 + 8u * j + l < p.ag) {
        let v = hsum[j];
        sums[base + 8u * j] = (v.x + v.y) + (v.z + v.w);
      }
    }
  }
  if (c0 >= p.bg) { return; }
  let sums = array<vec4<f32>, 32>(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13,
    s14, s15, s16, s17, s18, s19, s20, s21, s22, s23, s24, s25, s26, s27, s28, s29, s30, s31);
  let bg4 = p.bg / 4u;
  for (var r = 0u; r < KT; r++) {
    if (k0 + r < p.ag) {
      out[(chunk * p.a_c + g * p.ag + k0 + r) * bg4 + c0 / 4u] = sums[r];
    }
  }
}
