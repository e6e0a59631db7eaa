// conv3x3_same.wgsl: a 3x3 correlation at stride 1 with one pixel of implicit zero padding
// ("same" size), for rows of 4, 8, 16 or 32 pixels: the UNet's 3x3 convolutions, forward and
// input gradient. The general kernel (conv.wgsl) handles every other shape.
//
// Bindings: 0 x: array<vec4<f32>> (read) [N, c_total, h, w], not padded (w = 4 * lpr);
//   1 bw: array<vec4<f32>> (read) [groups, m_tiles, cg, ROWS, 3], weights packed by
//   conv_pack.wgsl (LAYOUT 1: the 9 taps of one channel pair in 3 vec4, the last 3 slots and
//   channels past mg are zeros); 2 bias: array<f32> (read) [y_c]; 3 shift: array<f32> (read)
//   [N, y_c]; 4 res: array<vec4<f32>> (read) [N, y_c, h, w] (each read only when its flag is
//   set); 5 y: array<vec4<f32>> (read_write) [N, y_c, h, w]; 6 work: array<atomic<u32>>
//   (read_write), the dispatch's counter at p.slot (zero at the start, Gpu.workCounter);
//   7 p: Params (uniform).
// y[n, co, oy, ox] = ((conv + bias[co]) + shift[n, co] + res[n, co, oy, ox]) * scale, with
//   conv = sum_{c < cg, i < 3, j < 3} wt[g, m, c, i, j] * x[n, g*cg + c, oy + i - 1, ox + j - 1]
//   (0 outside the image) for co = g*mg + m: the epilogue of EDM's UNetBlock (the embedding
//   added after conv0, the residual added and scaled after conv1) in the store, instead of a
//   pass of its own over y.
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
//   accumulators either way, more than lavapipe's 32 vector registers, so the loop body is
//   ordered accumulator by accumulator: each output row of each channel of the tile takes its
//   9 taps in a row (rowsum), and a spilled accumulator is loaded and stored once per input
//   channel instead of once per tap (half the stack traffic in the generated code; the TALL 2
//   forward 1.16-1.22x faster than tap by tap in a UNet training step). Unrolling the channel
//   loop made it slower (0.65-0.84x): the loop body (about 27 KB of machine code on lavapipe)
//   already nearly fills a core's 32 KiB instruction cache.
// Work items: a subgroup's worth of consecutive quads (min(subgroup size, WG) of them, a
//   multiple of 8) of one tile of ROWS output channels, taken from a counter until none is left
//   (lib/work_items.wgsl). Lane l of an item owns quad item_start + l; a block of 8 lanes is 8
//   consecutive quads, and a row of lpr quads (lpr divides 8) never straddles two blocks. Lanes
//   past the last quad compute a copy of it and store nothing (shuffles need every lane). The
//   workgroup count only bounds the parallelism (the host dispatches as many as there are items
//   of 64 lanes). A quad index counts quads of one row (TALL 1) or of a pair of rows (TALL 2).
// Reference: packages/tensor/src/reference/conv.ts (conv2dRef, convTranspose2dRef).

// (enable subgroups: in lib/work_items.wgsl, placed before this file.)

override WG: u32 = 64u;
// Output channels per workgroup: 8 or 16.
override ROWS: u32 = 8u;
// Output rows per lane: 1, or 2 (ROWS 8, even heights): the two rows share the four input rows
// they read and every broadcast weight, so per input channel 4 + 3 vec4 loads and 72
// broadcasts feed 576 multiply-adds (TALL 1, ROWS 16: 3 + 6 loads, 144 broadcasts).
override TALL: u32 = 1u;

// flags: bit 0 bias, bit 1 shift, bit 2 res.
struct Params {
  quads: u32, lpr: u32, h: u32, cg: u32,
  c_total: u32, mg: u32, m_tiles: u32, slot: u32,
  y_c: u32, flags: u32, tiles: u32, scale: f32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> bw: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> shift: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> work: array<atomic<u32>>;
@group(0) @binding(7) var<uniform> p: Params;


// The 9 taps of one row of the tile (one output channel), broadcast from the lane that loaded
// them: kernel rows 0 and 1 in k03 and k47 (taps 0..3, 4..7), tap 8 in k8.
struct Taps { k03: vec4<f32>, k47: vec4<f32>, k8: f32 }

// acc + the 3x3 window of one output row: kernel rows 0, 1, 2 read the windows a, b, c.
fn rowsum(t: Taps, a: Windows, b: Windows, c: Windows, acc: vec4<f32>) -> vec4<f32> {
  var s = fma(vec4<f32>(t.k03.x), a.left, acc);
  s = fma(vec4<f32>(t.k03.y), a.mid, s);
  s = fma(vec4<f32>(t.k03.z), a.right, s);
  s = fma(vec4<f32>(t.k03.w), b.left, s);
  s = fma(vec4<f32>(t.k47.x), b.mid, s);
  s = fma(vec4<f32>(t.k47.y), b.right, s);
  s = fma(vec4<f32>(t.k47.z), c.left, s);
  s = fma(vec4<f32>(t.k47.w), c.mid, s);
  return fma(vec4<f32>(t.k8), c.right, s);
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

// Writes row r of the tile (channel m0 + r) of image n for this lane's quad at vec4 index `at`
// of channel 0, through the epilogue (in the order of the unfused ops).
fn store(r: u32, a: vec4<f32>, m0: u32, g: u32, n: u32, at: u32, plane4: u32) {
  let m = m0 + r;
  if (m >= p.mg) { return; }
  let co = g * p.mg + m;
  let o = at + co * plane4;
  var b = 0.0;
  if ((p.flags & 1u) != 0u) { b = bias[co]; }
  var v = a + vec4<f32>(b);
  if ((p.flags & 2u) != 0u) { v += vec4<f32>(shift[n * p.y_c + co]); }
  if ((p.flags & 4u) != 0u) { v += res[o]; }
  y[o] = v * p.scale;
}

@compute @workgroup_size(WG)
fn main(@builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) sgs: u32) {
  let width = min(sgs, WG); // lanes of a subgroup (fewer than its size if WG is smaller)
  let per_tile = (p.quads + width - 1u) / width;
  let items = p.tiles * per_tile;
  loop {
    let item = next_item(p.slot, sid);
    if (item >= items) { break; }
    tile(item / per_tile, (item % per_tile) * width + sid, sid);
  }
}

// One work item: tile tg (= g * m_tiles + tile of ROWS channels) for this lane's quad u0.
fn tile(tg: u32, u0: u32, sid: u32) {
  // 64 accumulators per lane (more than lavapipe's 32 vector registers; see the loop order).
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  var acc4 = vec4<f32>();
  var acc5 = vec4<f32>();
  var acc6 = vec4<f32>();
  var acc7 = vec4<f32>();
  var acc8 = vec4<f32>();
  var acc9 = vec4<f32>();
  var acc10 = vec4<f32>();
  var acc11 = vec4<f32>();
  var acc12 = vec4<f32>();
  var acc13 = vec4<f32>();
  var acc14 = vec4<f32>();
  var acc15 = vec4<f32>();
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
    // Input rows oy - 1 .. oy + TALL: windows r0 .. r(TALL + 1).
    let r0 = windows(select(vec4<f32>(0.0), x[xc - up], up_ok), left_lane, right_lane, has_left,
      has_right);
    let r1 = windows(x[xc], left_lane, right_lane, has_left, has_right);
    var r2: Windows;
    var r3: Windows; // TALL 1: unused
    if (TALL == 2u) {
      r2 = windows(x[xc + p.lpr], left_lane, right_lane, has_left, has_right);
      let below = select(vec4<f32>(0.0), x[xc + p.lpr + down], down_ok);
      r3 = windows(below, left_lane, right_lane, has_left, has_right);
    } else {
      let below = select(vec4<f32>(0.0), x[xc + down], down_ok);
      r2 = windows(below, left_lane, right_lane, has_left, has_right);
    }
    // Tile rows 0..7 (lane m's weights), each against every output row of the lane.
    var t: Taps;
    t = Taps(subgroupBroadcast(wa0, 0u), subgroupBroadcast(wa1, 0u), subgroupBroadcast(wa2.x, 0u));
    acc0 = rowsum(t, r0, r1, r2, acc0);
    if (TALL == 2u) { acc8 = rowsum(t, r1, r2, r3, acc8); }
    t = Taps(subgroupBroadcast(wa0, 1u), subgroupBroadcast(wa1, 1u), subgroupBroadcast(wa2.x, 1u));
    acc1 = rowsum(t, r0, r1, r2, acc1);
    if (TALL == 2u) { acc9 = rowsum(t, r1, r2, r3, acc9); }
    t = Taps(subgroupBroadcast(wa0, 2u), subgroupBroadcast(wa1, 2u), subgroupBroadcast(wa2.x, 2u));
    acc2 = rowsum(t, r0, r1, r2, acc2);
    if (TALL == 2u) { acc10 = rowsum(t, r1, r2, r3, acc10); }
    t = Taps(subgroupBroadcast(wa0, 3u), subgroupBroadcast(wa1, 3u), subgroupBroadcast(wa2.x, 3u));
    acc3 = rowsum(t, r0, r1, r2, acc3);
    if (TALL == 2u) { acc11 = rowsum(t, r1, r2, r3, acc11); }
    t = Taps(subgroupBroadcast(wa0, 4u), subgroupBroadcast(wa1, 4u), subgroupBroadcast(wa2.x, 4u));
    acc4 = rowsum(t, r0, r1, r2, acc4);
    if (TALL == 2u) { acc12 = rowsum(t, r1, r2, r3, acc12); }
    t = Taps(subgroupBroadcast(wa0, 5u), subgroupBroadcast(wa1, 5u), subgroupBroadcast(wa2.x, 5u));
    acc5 = rowsum(t, r0, r1, r2, acc5);
    if (TALL == 2u) { acc13 = rowsum(t, r1, r2, r3, acc13); }
    t = Taps(subgroupBroadcast(wa0, 6u), subgroupBroadcast(wa1, 6u), subgroupBroadcast(wa2.x, 6u));
    acc6 = rowsum(t, r0, r1, r2, acc6);
    if (TALL == 2u) { acc14 = rowsum(t, r1, r2, r3, acc14); }
    t = Taps(subgroupBroadcast(wa0, 7u), subgroupBroadcast(wa1, 7u), subgroupBroadcast(wa2.x, 7u));
    acc7 = rowsum(t, r0, r1, r2, acc7);
    if (TALL == 2u) { acc15 = rowsum(t, r1, r2, r3, acc15); }
    if (ROWS == 16u) { // TALL 1: tile rows 8..15 from wb
      t = Taps(subgroupBroadcast(wb0, 0u), subgroupBroadcast(wb1, 0u), subgroupBroadcast(wb2.x, 0u));
      acc8 = rowsum(t, r0, r1, r2, acc8);
      t = Taps(subgroupBroadcast(wb0, 1u), subgroupBroadcast(wb1, 1u), subgroupBroadcast(wb2.x, 1u));
      acc9 = rowsum(t, r0, r1, r2, acc9);
      t = Taps(subgroupBroadcast(wb0, 2u), subgroupBroadcast(wb1, 2u), subgroupBroadcast(wb2.x, 2u));
      acc10 = rowsum(t, r0, r1, r2, acc10);
      t = Taps(subgroupBroadcast(wb0, 3u), subgroupBroadcast(wb1, 3u), subgroupBroadcast(wb2.x, 3u));
      acc11 = rowsum(t, r0, r1, r2, acc11);
      t = Taps(subgroupBroadcast(wb0, 4u), subgroupBroadcast(wb1, 4u), subgroupBroadcast(wb2.x, 4u));
      acc12 = rowsum(t, r0, r1, r2, acc12);
      t = Taps(subgroupBroadcast(wb0, 5u), subgroupBroadcast(wb1, 5u), subgroupBroadcast(wb2.x, 5u));
      acc13 = rowsum(t, r0, r1, r2, acc13);
      t = Taps(subgroupBroadcast(wb0, 6u), subgroupBroadcast(wb1, 6u), subgroupBroadcast(wb2.x, 6u));
      acc14 = rowsum(t, r0, r1, r2, acc14);
      t = Taps(subgroupBroadcast(wb0, 7u), subgroupBroadcast(wb1, 7u), subgroupBroadcast(wb2.x, 7u));
      acc15 = rowsum(t, r0, r1, r2, acc15);
    }
    xc += plane4;
    wi += wstep;
  }
  if (u0 >= p.quads) { return; }
  let at = n * p.y_c * plane4 + oy * p.lpr + q;
  // Stored from a loop (one store site, not ROWS): keeps the compiled shader small.
  let sums = array<vec4<f32>, 16>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9,
    acc10, acc11, acc12, acc13, acc14, acc15);
  for (var k = 0u; k < ROWS; k++) {
    store(k, sums[k], m0, g, n, at, plane4);
  }
  if (TALL == 2u) {
    for (var k = 0u; k < 8u; k++) {
      store(k, sums[8u + k], m0, g, n, at + p.lpr, plane4);
    }
  }
}
