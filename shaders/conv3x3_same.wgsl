// conv3x3_same.wgsl: a 3x3 correlation at stride 1 with one pixel of implicit zero padding
// ("same" size), for rows of 4, 8, 16 or 32 pixels: the UNet's 3x3 convolutions, forward and
// input gradient. The general kernel (conv.wgsl) handles every other shape.
//
// Bindings: 0 x: array<vec4<f32>> (read) [N, c_total, h, w], not padded (w = 4 * lpr);
//   1 bw: array<vec4<f32>> (read) [groups, m_tiles, cg, ROWS, 3], weights packed by
//   conv_pack.wgsl (LAYOUT 1: the 9 taps of one channel pair in 3 vec4, the last 3 slots and
//   channels past mg are zeros); 2 bias: array<f32> (read) [y_c] (read only if has_bias);
//   3 y: array<vec4<f32>> (read_write) [N, y_c, h, w]; 4 p: Params (uniform).
// y[n, g*mg + m, oy, ox] = bias + sum_{c < cg, i < 3, j < 3}
//   wt[g, m, c, i, j] * x[n, g*cg + c, oy + i - 1, ox + j - 1] (0 outside the image).
// Why a kernel of its own: on lavapipe every load whose address is not a constant is a
//   bounds-checked loop over the lanes, 25 or more times the cost of a multiply-add, and a
//   vec4 load costs 1.6-2 scalar ones for 4 values. Here a lane owns 4 adjacent output pixels and
//   loads them as one aligned vec4 per kernel row; the two neighbours its window needs (pixels
//   4q - 1 and 4q + 4) come from the neighbouring lanes through subgroupShuffle (a register
//   permutation), or are the zero padding at the row ends. The weights reach the lanes as in
//   conv_rows_sg.wgsl: lane b of each block of 8 loads row b's 9 taps (3 vec4) and
//   subgroupBroadcast hands them round. Per input channel: 3 vec4 loads of x and 3 (ROWS 16:
//   6) of weights feed 288 (576) multiply-adds, against 27 scalar loads per 288 in conv.wgsl.
//   With TALL 2 (even heights) a lane owns the same quad in two output rows: 4 vec4 loads of x
//   and 3 of weights feed 576, each broadcast weight serving both rows. Per lane that is 64
//   accumulators either way, more than lavapipe's 32 vector registers; unrolling the channel
//   loop made it slower (0.65-0.84x): the loop body (about 27 KB of machine code on lavapipe)
//   already nearly fills a core's 32 KiB instruction cache.
// Lanes: blocks of 8 consecutive invocations are 8 consecutive quads, and a row of lpr quads
//   (lpr divides 8) never straddles two blocks; needs subgroups of at least 8 whose lanes
//   follow local_invocation_index (lane = lid % size), which WebGPU does not promise: the host
//   runs this kernel only where the probe subgroup_lanes.wgsl found it so. Lanes past the last
//   quad compute a copy of it and store nothing (shuffles need every lane).
// Geometry: workgroups = groups * m_tiles * lane_groups, folded into 2-D past 65,535; a
//   lane's quad index counts quads of one row (TALL 1) or of a pair of rows (TALL 2).
// Reference: packages/tensor/src/reference/conv.ts (conv2dRef, convTranspose2dRef).

enable subgroups;

override WG: u32 = 64u;
// Output channels per workgroup: 8 or 16.
override ROWS: u32 = 8u;
// Output rows per lane: 1, or 2 (ROWS 8, even heights): the two rows share the four input rows
// they read and every broadcast weight, so per input channel 4 + 3 vec4 loads and 72
// broadcasts feed 576 multiply-adds (TALL 1, ROWS 16: 3 + 6 loads, 144 broadcasts).
override TALL: u32 = 1u;

struct Params {
  quads: u32, lpr: u32, h: u32, cg: u32,
  c_total: u32, mg: u32, m_tiles: u32, lane_groups: u32,
  y_c: u32, has_bias: u32, tiles: u32, _p0: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> bw: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Params;

var<private> acc0: vec4<f32>;
var<private> acc1: vec4<f32>;
var<private> acc2: vec4<f32>;
var<private> acc3: vec4<f32>;
var<private> acc4: vec4<f32>;
var<private> acc5: vec4<f32>;
var<private> acc6: vec4<f32>;
var<private> acc7: vec4<f32>;
var<private> acc8: vec4<f32>;
var<private> acc9: vec4<f32>;
var<private> acc10: vec4<f32>;
var<private> acc11: vec4<f32>;
var<private> acc12: vec4<f32>;
var<private> acc13: vec4<f32>;
var<private> acc14: vec4<f32>;
var<private> acc15: vec4<f32>;

// One tap for every row of the tile. TALL 1: acc_r += (weight of row r) * top, the weights of
// rows 0..7 held by lanes 0..7 in wa and of rows 8..15 in wb. TALL 2 (ROWS 8): the same for the
// upper output row into acc0..7 and, with the same broadcast weights, for the lower one
// (window `bottom`) into acc8..15.
fn tap(top: vec4<f32>, bottom: vec4<f32>, wa: f32, wb: f32) {
  let w0 = vec4<f32>(subgroupBroadcast(wa, 0u));
  let w1 = vec4<f32>(subgroupBroadcast(wa, 1u));
  let w2 = vec4<f32>(subgroupBroadcast(wa, 2u));
  let w3 = vec4<f32>(subgroupBroadcast(wa, 3u));
  let w4 = vec4<f32>(subgroupBroadcast(wa, 4u));
  let w5 = vec4<f32>(subgroupBroadcast(wa, 5u));
  let w6 = vec4<f32>(subgroupBroadcast(wa, 6u));
  let w7 = vec4<f32>(subgroupBroadcast(wa, 7u));
  acc0 = fma(w0, top, acc0);
  acc1 = fma(w1, top, acc1);
  acc2 = fma(w2, top, acc2);
  acc3 = fma(w3, top, acc3);
  acc4 = fma(w4, top, acc4);
  acc5 = fma(w5, top, acc5);
  acc6 = fma(w6, top, acc6);
  acc7 = fma(w7, top, acc7);
  if (TALL == 2u) {
    acc8 = fma(w0, bottom, acc8);
    acc9 = fma(w1, bottom, acc9);
    acc10 = fma(w2, bottom, acc10);
    acc11 = fma(w3, bottom, acc11);
    acc12 = fma(w4, bottom, acc12);
    acc13 = fma(w5, bottom, acc13);
    acc14 = fma(w6, bottom, acc14);
    acc15 = fma(w7, bottom, acc15);
  } else if (ROWS == 16u) {
    acc8 = fma(vec4<f32>(subgroupBroadcast(wb, 0u)), top, acc8);
    acc9 = fma(vec4<f32>(subgroupBroadcast(wb, 1u)), top, acc9);
    acc10 = fma(vec4<f32>(subgroupBroadcast(wb, 2u)), top, acc10);
    acc11 = fma(vec4<f32>(subgroupBroadcast(wb, 3u)), top, acc11);
    acc12 = fma(vec4<f32>(subgroupBroadcast(wb, 4u)), top, acc12);
    acc13 = fma(vec4<f32>(subgroupBroadcast(wb, 5u)), top, acc13);
    acc14 = fma(vec4<f32>(subgroupBroadcast(wb, 6u)), top, acc14);
    acc15 = fma(vec4<f32>(subgroupBroadcast(wb, 7u)), top, acc15);
  }
}

// The three windows of a quad's row v (kernel columns 0, 1, 2): pixels 4q - 1 .. 4q + 4, the
// two outer ones from the neighbouring lanes (zero at the image edges).
struct Windows { left: vec4<f32>, mid: vec4<f32>, right: vec4<f32> }

fn windows(v: vec4<f32>, left_lane: u32, right_lane: u32, has_left: bool,
           has_right: bool) -> Windows {
  let l = select(0.0, subgroupShuffle(v.w, left_lane), has_left);
  let r = select(0.0, subgroupShuffle(v.x, right_lane), has_right);
  return Windows(vec4<f32>(l, v.xyz), v, vec4<f32>(v.yzw, r));
}

// Writes row r of the tile (channel m0 + r) for this lane's quad at vec4 index `at` of
// channel 0 of the group.
fn store(r: u32, a: vec4<f32>, m0: u32, g: u32, at: u32, plane4: u32) {
  let m = m0 + r;
  if (m >= p.mg) { return; }
  let co = g * p.mg + m;
  var b = 0.0;
  if (p.has_bias != 0u) { b = bias[co]; }
  y[at + co * plane4] = a + vec4<f32>(b);
}

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
  let q = u % p.lpr;
  let row = u / p.lpr;
  let rows_per_image = p.h / TALL;
  let oy = (row % rows_per_image) * TALL; // the upper output row
  let n = row / rows_per_image;
  let plane4 = p.h * p.lpr;
  // Neighbouring lanes in this block of 8; at a row end the neighbour's value is not used.
  let b = sid & 7u;
  let left_lane = select(sid, sid - 1u, b > 0u);
  let right_lane = select(sid, sid + 1u, b < 7u);
  let has_left = q > 0u;
  let has_right = q + 1u < p.lpr;
  let up_ok = oy > 0u;
  let down_ok = oy + TALL < p.h; // the input row below the lowest output row
  // Input rows above and below, clamped into the image (their values are zeroed).
  let up = select(0u, p.lpr, up_ok);
  let down = select(0u, p.lpr, down_ok);
  var xc = (n * p.c_total + g * p.cg) * plane4 + oy * p.lpr + q;
  var wi = (tg * p.cg * ROWS + b) * 3u;
  let wstep = ROWS * 3u;
  for (var c = 0u; c < p.cg; c++) {
    let wa0 = bw[wi];
    let wa1 = bw[wi + 1u];
    let wa2 = bw[wi + 2u];
    var wb0 = vec4<f32>(0.0);
    var wb1 = vec4<f32>(0.0);
    var wb2 = vec4<f32>(0.0);
    if (ROWS == 16u) {
      wb0 = bw[wi + 24u];
      wb1 = bw[wi + 25u];
      wb2 = bw[wi + 26u];
    }
    // Input rows oy - 1, oy, oy + 1 (and, TALL 2, oy + 2), each read when first needed: kernel
    // row i of output row oy + t reads input row oy + t + i - 1.
    let above = select(vec4<f32>(0.0), x[xc - up], up_ok);
    let r0 = windows(above, left_lane, right_lane, has_left, has_right);
    let r1 = windows(x[xc], left_lane, right_lane, has_left, has_right);
    // Kernel row 0: taps 0, 1, 2.
    tap(r0.left, r1.left, wa0.x, wb0.x);
    tap(r0.mid, r1.mid, wa0.y, wb0.y);
    tap(r0.right, r1.right, wa0.z, wb0.z);
    var r2: Windows;
    if (TALL == 2u) {
      r2 = windows(x[xc + p.lpr], left_lane, right_lane, has_left, has_right);
    } else {
      let below = select(vec4<f32>(0.0), x[xc + down], down_ok);
      r2 = windows(below, left_lane, right_lane, has_left, has_right);
    }
    // Kernel row 1: taps 3, 4, 5.
    tap(r1.left, r2.left, wa0.w, wb0.w);
    tap(r1.mid, r2.mid, wa1.x, wb1.x);
    tap(r1.right, r2.right, wa1.y, wb1.y);
    var r3 = r2; // TALL 1: unused
    if (TALL == 2u) {
      let below = select(vec4<f32>(0.0), x[xc + p.lpr + down], down_ok);
      r3 = windows(below, left_lane, right_lane, has_left, has_right);
    }
    // Kernel row 2: taps 6, 7, 8.
    tap(r2.left, r3.left, wa1.z, wb1.z);
    tap(r2.mid, r3.mid, wa1.w, wb1.w);
    tap(r2.right, r3.right, wa2.x, wb2.x);
    xc += plane4;
    wi += wstep;
  }
  if (u0 >= p.quads) { return; }
  let at = n * p.y_c * plane4 + oy * p.lpr + q;
  // Stored from a loop (one store site, not ROWS): keeps the compiled shader small.
  let res = array<vec4<f32>, 16>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9,
    acc10, acc11, acc12, acc13, acc14, acc15);
  for (var k = 0u; k < ROWS; k++) {
    store(k, res[k], m0, g, at, plane4);
  }
  if (TALL == 2u) {
    for (var k = 0u; k < 8u; k++) {
      store(k, res[8u + k], m0, g, at + p.lpr, plane4);
    }
  }
}
