// conv3x3_same_wgrad.wgsl: the weight gradient of a 3x3 correlation at stride 1 with one pixel
// of implicit zero padding, for rows of 4, 8, 16 or 32 pixels (the partner of
// conv3x3_same.wgsl), as partial sums over chunks of the image rows; the host sums the chunks.
//
// Bindings: 0 a: array<vec4<f32>> (read) [N, a_c, h, w], the operand on the output grid
//   (conv2d: the output gradient; conv_transpose2d: the input); 1 b: array<vec4<f32>> (read)
//   [N, b_c, h, w], the operand read through the window (conv2d: x; conv_transpose2d: the
//   output gradient), not padded; 2 out: array<f32> (read_write) [chunks, groups*ag, bg*9];
//   3 sums: array<f32> (read_write) [chunks, groups*ag] (written only with SUMS); 4 work:
//   array<atomic<u32>> (read_write), the dispatch's counter at p.slot (zero at the start,
//   Gpu.workCounter); 5 p: Params (uniform). w = 4 * LPR.
// out[ch, g*ag + k, (c*3 + i)*3 + j] = sum over the rows (n, oy) of chunk ch and all ox of
//   a[n, g*ag + k, oy, ox] * b[n, g*bg + c, oy + i - 1, ox + j - 1] (0 outside the image).
// sums[ch, g*ag + k] = the sum of a[n, g*ag + k, oy, ox] over the same pixels: conv2d's bias
//   gradient, from the values the lanes load anyway (instead of a reduction pass over a).
// Work split: a work item is KT (8 or 16) channels k of one group, one chunk of rows, and a
//   subgroup's worth of channels c of b (min(subgroup size, WG) of them); lane e owns channel
//   c = e of the item and all 3 x 3 taps of every k (three vec3 of sums per k). All lanes walk
//   the same pixels, 4 at a time: per quad a lane loads one vec4 of each of the three rows of b
//   its window needs (the window's edge pixels come from the previous and next quads' vectors,
//   or are the zero padding), and lane l of each block of 8 loads the 4 values of a for
//   channel k = l (KT 16: also k = 8 + l), which subgroupBroadcast hands to every lane and every
//   row. Per quad: 4 (KT 16: 5) vec4 loads per lane for 288 (576) multiply-adds (conv_wgrad.wgsl:
//   3 scalar loads for 48). A lane per (c, kernel row), loading one row of b and the broadcast a
//   for a third of the multiply-adds, was 1.01-1.18x slower.
// The subgroups take items from a counter until none is left (lib/work_items.wgsl). Needs
//   subgroups of at least 8 (the host checks). Lanes past the last channel c compute a copy of
//   it and store nothing (broadcasts need every lane).
// Geometry: the workgroup count only bounds the parallelism; subgroups that find no item left
//   return.
// Reference: packages/tensor/src/reference/conv.ts (through the finite-difference gradients of
//   conv2dRef and convTranspose2dRef).

// (enable subgroups: in lib/work_items.wgsl, placed before this file.)

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
  a_tiles: u32, bg: u32, b_c: u32, slot: u32,
  rows_per_chunk: u32, tiles: u32, chunks: u32, _p0: u32,
}

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;
@group(0) @binding(4) var<storage, read_write> work: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> p: Params;


// The three windows of a quad of one row of b (kernel columns 0, 1, 2): pixels 4q - 1 .. 4q + 4.
struct Windows { left: vec4<f32>, mid: vec4<f32>, right: vec4<f32> }

// One channel's 4 values of a against the three windows of one row of b.
fn taps(g: vec4<f32>, w: Windows) -> vec3<f32> {
  return vec3<f32>(dot(g, w.left), dot(g, w.mid), dot(g, w.right));
}

@compute @workgroup_size(WG)
fn main(@builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) sgs: u32) {
  let width = min(sgs, WG); // lanes of a subgroup (fewer than its size if WG is smaller)
  let blocks = (p.bg + width - 1u) / width;
  let items = p.chunks * p.tiles * blocks;
  loop {
    let item = next_item(p.slot, sid);
    if (item >= items) { break; }
    let block = item % blocks;
    sums_of(item / blocks, block, block * width + sid, sid);
  }
}

// One work item: t = chunk * tiles + (g * a_tiles + tile of KT channels of a), the item's block
// of channels of b, and this lane's channel e_raw of b.
fn sums_of(t: u32, block: u32, e_raw: u32, sid: u32) {
  // Sums of kernel rows 0, 1, 2 for channel k0 + k of a: s{k}_0, s{k}_1, s{k}_2.
  var s0_0 = vec3<f32>();
  var s0_1 = vec3<f32>();
  var s0_2 = vec3<f32>();
  var s1_0 = vec3<f32>();
  var s1_1 = vec3<f32>();
  var s1_2 = vec3<f32>();
  var s2_0 = vec3<f32>();
  var s2_1 = vec3<f32>();
  var s2_2 = vec3<f32>();
  var s3_0 = vec3<f32>();
  var s3_1 = vec3<f32>();
  var s3_2 = vec3<f32>();
  var s4_0 = vec3<f32>();
  var s4_1 = vec3<f32>();
  var s4_2 = vec3<f32>();
  var s5_0 = vec3<f32>();
  var s5_1 = vec3<f32>();
  var s5_2 = vec3<f32>();
  var s6_0 = vec3<f32>();
  var s6_1 = vec3<f32>();
  var s6_2 = vec3<f32>();
  var s7_0 = vec3<f32>();
  var s7_1 = vec3<f32>();
  var s7_2 = vec3<f32>();
  var s8_0 = vec3<f32>();
  var s8_1 = vec3<f32>();
  var s8_2 = vec3<f32>();
  var s9_0 = vec3<f32>();
  var s9_1 = vec3<f32>();
  var s9_2 = vec3<f32>();
  var s10_0 = vec3<f32>();
  var s10_1 = vec3<f32>();
  var s10_2 = vec3<f32>();
  var s11_0 = vec3<f32>();
  var s11_1 = vec3<f32>();
  var s11_2 = vec3<f32>();
  var s12_0 = vec3<f32>();
  var s12_1 = vec3<f32>();
  var s12_2 = vec3<f32>();
  var s13_0 = vec3<f32>();
  var s13_1 = vec3<f32>();
  var s13_2 = vec3<f32>();
  var s14_0 = vec3<f32>();
  var s14_1 = vec3<f32>();
  var s14_2 = vec3<f32>();
  var s15_0 = vec3<f32>();
  var s15_1 = vec3<f32>();
  var s15_2 = vec3<f32>();
  let chunk = t / p.tiles;
  let tg = t % p.tiles; // g * a_tiles + tile
  let g = tg / p.a_tiles;
  let k0 = (tg % p.a_tiles) * KT;
  let c = min(e_raw, p.bg - 1u); // this lane's channel of b
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
    // Rows oy - 1, oy, oy + 1 of channel c; outside the image they read row oy and are zeroed.
    let z = vec4<f32>(0.0);
    let up_ok = oy >= 1u;
    let down_ok = oy + 1u < p.h;
    let base = (n * p.b_c + g * p.bg + c) * plane4;
    let b0 = base + select(oy, oy - 1u, up_ok) * LPR;
    let b1 = base + oy * LPR;
    let b2 = base + select(oy, oy + 1u, down_ok) * LPR;
    var l0 = 0.0;
    var l1 = 0.0;
    var l2 = 0.0;
    var v0 = select(z, b[b0], up_ok);
    var v1 = b[b1];
    var v2 = select(z, b[b2], down_ok);
    for (var q = 0u; q < LPR; q++) {
      var n0 = z;
      var n1 = z;
      var n2 = z;
      if (q + 1u < LPR) {
        n0 = select(z, b[b0 + q + 1u], up_ok);
        n1 = b[b1 + q + 1u];
        n2 = select(z, b[b2 + q + 1u], down_ok);
      }
      let r0 = Windows(vec4<f32>(l0, v0.xyz), v0, vec4<f32>(v0.yzw, n0.x));
      let r1 = Windows(vec4<f32>(l1, v1.xyz), v1, vec4<f32>(v1.yzw, n1.x));
      let r2 = Windows(vec4<f32>(l2, v2.xyz), v2, vec4<f32>(v2.yzw, n2.x));
      let av = a[ai + q]; // lane k holds channel k0 + k: broadcast to every lane below
      sa += av;
      var gk: vec4<f32>;
      gk = subgroupBroadcast(av, 0u);
      s0_0 += taps(gk, r0);
      s0_1 += taps(gk, r1);
      s0_2 += taps(gk, r2);
      gk = subgroupBroadcast(av, 1u);
      s1_0 += taps(gk, r0);
      s1_1 += taps(gk, r1);
      s1_2 += taps(gk, r2);
      gk = subgroupBroadcast(av, 2u);
      s2_0 += taps(gk, r0);
      s2_1 += taps(gk, r1);
      s2_2 += taps(gk, r2);
      gk = subgroupBroadcast(av, 3u);
      s3_0 += taps(gk, r0);
      s3_1 += taps(gk, r1);
      s3_2 += taps(gk, r2);
      gk = subgroupBroadcast(av, 4u);
      s4_0 += taps(gk, r0);
      s4_1 += taps(gk, r1);
      s4_2 += taps(gk, r2);
      gk = subgroupBroadcast(av, 5u);
      s5_0 += taps(gk, r0);
      s5_1 += taps(gk, r1);
      s5_2 += taps(gk, r2);
      gk = subgroupBroadcast(av, 6u);
      s6_0 += taps(gk, r0);
      s6_1 += taps(gk, r1);
      s6_2 += taps(gk, r2);
      gk = subgroupBroadcast(av, 7u);
      s7_0 += taps(gk, r0);
      s7_1 += taps(gk, r1);
      s7_2 += taps(gk, r2);
      if (KT == 16u) {
        let bv = a[aj + q]; // channel k0 + 8 + k
        sb += bv;
        gk = subgroupBroadcast(bv, 0u);
        s8_0 += taps(gk, r0);
        s8_1 += taps(gk, r1);
        s8_2 += taps(gk, r2);
        gk = subgroupBroadcast(bv, 1u);
        s9_0 += taps(gk, r0);
        s9_1 += taps(gk, r1);
        s9_2 += taps(gk, r2);
        gk = subgroupBroadcast(bv, 2u);
        s10_0 += taps(gk, r0);
        s10_1 += taps(gk, r1);
        s10_2 += taps(gk, r2);
        gk = subgroupBroadcast(bv, 3u);
        s11_0 += taps(gk, r0);
        s11_1 += taps(gk, r1);
        s11_2 += taps(gk, r2);
        gk = subgroupBroadcast(bv, 4u);
        s12_0 += taps(gk, r0);
        s12_1 += taps(gk, r1);
        s12_2 += taps(gk, r2);
        gk = subgroupBroadcast(bv, 5u);
        s13_0 += taps(gk, r0);
        s13_1 += taps(gk, r1);
        s13_2 += taps(gk, r2);
        gk = subgroupBroadcast(bv, 6u);
        s14_0 += taps(gk, r0);
        s14_1 += taps(gk, r1);
        s14_2 += taps(gk, r2);
        gk = subgroupBroadcast(bv, 7u);
        s15_0 += taps(gk, r0);
        s15_1 += taps(gk, r1);
        s15_2 += taps(gk, r2);
      }
      l0 = v0.w;
      l1 = v1.w;
      l2 = v2.w;
      v0 = n0;
      v1 = n1;
      v2 = n2;
    }
  }
  // Every block of channels of b walked the same pixels: lanes 0..7 of the first block's item
  // write (lane l loaded channels k0 + l and k0 + 8 + l).
  if (SUMS == 1u && block == 0u && sid < 8u) {
    let base = chunk * p.a_c + g * p.ag;
    if (k0 + sid < p.ag) { sums[base + k0 + sid] = (sa.x + sa.y) + (sa.z + sa.w); }
    if (KT == 16u && k0 + 8u + sid < p.ag) {
      sums[base + k0 + 8u + sid] = (sb.x + sb.y) + (sb.z + sb.w);
    }
  }
  if (e_raw >= p.bg) { return; }
  let width = p.bg * 9u;
  let kr0 = array<vec3<f32>, 16>(s0_0, s1_0, s2_0, s3_0, s4_0, s5_0, s6_0, s7_0,
    s8_0, s9_0, s10_0, s11_0, s12_0, s13_0, s14_0, s15_0);
  let kr1 = array<vec3<f32>, 16>(s0_1, s1_1, s2_1, s3_1, s4_1, s5_1, s6_1, s7_1,
    s8_1, s9_1, s10_1, s11_1, s12_1, s13_1, s14_1, s15_1);
  let kr2 = array<vec3<f32>, 16>(s0_2, s1_2, s2_2, s3_2, s4_2, s5_2, s6_2, s7_2,
    s8_2, s9_2, s10_2, s11_2, s12_2, s13_2, s14_2, s15_2);
  for (var r = 0u; r < KT; r++) {
    if (k0 + r < p.ag) {
      let o = (chunk * p.a_c + g * p.ag + k0 + r) * width + c * 9u;
      out[o] = kr0[r].x;
      out[o + 1u] = kr0[r].y;
      out[o + 2u] = kr0[r].z;
      out[o + 3u] = kr1[r].x;
      out[o + 4u] = kr1[r].y;
      out[o + 5u] = kr1[r].z;
      out[o + 6u] = kr2[r].x;
      out[o + 7u] = kr2[r].y;
      out[o + 8u] = kr2[r].z;
    }
  }
}
