// conv1x1.wgsl: a 1x1 correlation at stride 1 without padding on planes of a multiple of 4
// pixels (per image a matmul of the weights with the [channels, pixels] plane): the UNet's
// skip projections, attention's qkv and output projections and their input gradients. The
// general kernel (conv.wgsl) handles every other shape.
//
// Bindings: 0 x: array<vec4<f32>> (read) [N, c_total, P] (P = 4 * p4 pixels per plane);
//   1 bw: array<vec4<f32>> (read) [groups, m_tiles, cg, ROWS], weights packed by conv_pack.wgsl
//   (LAYOUT 0, K-major; channels past mg are zeros); 2 bias: array<f32> (read) [y_c] (read
//   only if has_bias); 3 y: array<vec4<f32>> (read_write) [N, y_c, P]; 4 work:
//   array<atomic<u32>> (read_write), the dispatch's counter at p.slot; 5 p: Params (uniform).
// y[n, g*mg + m, i] = bias + sum_{c < cg} w[g, m, c] * x[n, g*cg + c, i].
// Why a kernel of its own: on lavapipe every load whose address is not a constant is a
//   bounds-checked loop over the lanes, and a vec4 load costs 1.6-2 scalar ones for 4 values.
//   A lane owns 4 adjacent pixels and loads them as one vec4 per input channel; the first
//   ROWS / 4 lanes of each block of 8 load the channel's ROWS weights as ROWS / 4 vec4 and
//   subgroupBroadcast hands them round: with ROWS 32, 2 vec4 loads per 128 multiply-adds,
//   against 6 scalar loads per 64 in conv.wgsl. Four input channels per loop trip, each
//   accumulator taking its four products in a row, so an accumulator spilled to the stack (32
//   vec4 per lane against lavapipe's 32 vector registers) is loaded and stored once per four
//   channels. Both together: 1.35-1.5x ROWS 16 with one channel per trip on the UNet's shapes.
// Work items: a subgroup's worth of consecutive quads (min(subgroup size, WG) of them) of one
//   tile of ROWS output channels, taken from a counter until none is left (lib/work_items.wgsl:
//   lavapipe gives each thread a fixed share of the workgroups). Needs subgroups of at least 8
//   (the host checks). Lanes past the last quad compute a copy of it and store nothing
//   (broadcasts need every lane).
// Reference: packages/tensor/src/reference/conv.ts (conv2dRef, convTranspose2dRef).

// (enable subgroups: in lib/work_items.wgsl; the loop: lib/gemm_rows32.wgsl, both placed before
// this file.)

override WG: u32 = 64u;
// Output channels per workgroup: 8, 16 or 32.
override ROWS: u32 = 16u;

struct Params {
  quads: u32, p4: u32, cg: u32, c_total: u32,
  mg: u32, m_tiles: u32, slot: u32, y_c: u32,
  has_bias: u32, tiles: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> bw: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> work: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> p: Params;

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
  let u = min(u0, p.quads - 1u);
  let g = tg / p.m_tiles;
  let m0 = (tg % p.m_tiles) * ROWS;
  let q = u % p.p4;
  let n = u / p.p4;
  let xc = (n * p.c_total + g * p.cg) * p.p4 + q;
  let res = accumulate(xc, p.p4, tg * p.cg * (ROWS / 4u), p.cg, sid);
  if (u0 >= p.quads) { return; }
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
