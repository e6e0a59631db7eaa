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

// (enable subgroups: in lib/work_items.wgsl, placed before this file.)

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

// Four input channels' values of a quad (zeros past the last channel).
struct Quads { v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32> }

// acc + k.x * q.v0 + k.y * q.v1 + k.z * q.v2 + k.w * q.v3, in channel order.
fn mac4(acc: vec4<f32>, k: vec4<f32>, q: Quads) -> vec4<f32> {
  let s = fma(vec4<f32>(k.y), q.v1, fma(vec4<f32>(k.x), q.v0, acc));
  return fma(vec4<f32>(k.w), q.v3, fma(vec4<f32>(k.z), q.v2, s));
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
  var a16 = vec4<f32>(0.0);
  var a17 = vec4<f32>(0.0);
  var a18 = vec4<f32>(0.0);
  var a19 = vec4<f32>(0.0);
  var a20 = vec4<f32>(0.0);
  var a21 = vec4<f32>(0.0);
  var a22 = vec4<f32>(0.0);
  var a23 = vec4<f32>(0.0);
  var a24 = vec4<f32>(0.0);
  var a25 = vec4<f32>(0.0);
  var a26 = vec4<f32>(0.0);
  var a27 = vec4<f32>(0.0);
  var a28 = vec4<f32>(0.0);
  var a29 = vec4<f32>(0.0);
  var a30 = vec4<f32>(0.0);
  var a31 = vec4<f32>(0.0);
  for (var c = 0u; c < p.cg; c += 4u) {
    // Channels c .. c + 3; those past cg read zeros (values and weights both, so that an
    // Inf or NaN of the next tile cannot leak in).
    let ok1 = c + 1u < p.cg;
    let ok2 = c + 2u < p.cg;
    let ok3 = c + 3u < p.cg;
    let z = vec4<f32>(0.0);
    let q = Quads(x[xc], select(z, x[xc + p.p4], ok1), select(z, x[xc + 2u * p.p4], ok2),
      select(z, x[xc + 3u * p.p4], ok3));
    let w0 = bw[wi];
    let w1 = select(z, bw[wi + per_c], ok1);
    let w2 = select(z, bw[wi + 2u * per_c], ok2);
    let w3 = select(z, bw[wi + 3u * per_c], ok3);
    // Row 4b + i of the tile is component i of lane b's vectors: k_i gathers it per channel.
    let kx = vec4<f32>(w0.x, w1.x, w2.x, w3.x);
    let ky = vec4<f32>(w0.y, w1.y, w2.y, w3.y);
    let kz = vec4<f32>(w0.z, w1.z, w2.z, w3.z);
    let kw = vec4<f32>(w0.w, w1.w, w2.w, w3.w);
    a0 = mac4(a0, subgroupBroadcast(kx, 0u), q);
    a1 = mac4(a1, subgroupBroadcast(ky, 0u), q);
    a2 = mac4(a2, subgroupBroadcast(kz, 0u), q);
    a3 = mac4(a3, subgroupBroadcast(kw, 0u), q);
    a4 = mac4(a4, subgroupBroadcast(kx, 1u), q);
    a5 = mac4(a5, subgroupBroadcast(ky, 1u), q);
    a6 = mac4(a6, subgroupBroadcast(kz, 1u), q);
    a7 = mac4(a7, subgroupBroadcast(kw, 1u), q);
    if (ROWS >= 16u) {
      a8 = mac4(a8, subgroupBroadcast(kx, 2u), q);
      a9 = mac4(a9, subgroupBroadcast(ky, 2u), q);
      a10 = mac4(a10, subgroupBroadcast(kz, 2u), q);
      a11 = mac4(a11, subgroupBroadcast(kw, 2u), q);
      a12 = mac4(a12, subgroupBroadcast(kx, 3u), q);
      a13 = mac4(a13, subgroupBroadcast(ky, 3u), q);
      a14 = mac4(a14, subgroupBroadcast(kz, 3u), q);
      a15 = mac4(a15, subgroupBroadcast(kw, 3u), q);
    }
    if (ROWS == 32u) {
      a16 = mac4(a16, subgroupBroadcast(kx, 4u), q);
      a17 = mac4(a17, subgroupBroadcast(ky, 4u), q);
      a18 = mac4(a18, subgroupBroadcast(kz, 4u), q);
      a19 = mac4(a19, subgroupBroadcast(kw, 4u), q);
      a20 = mac4(a20, subgroupBroadcast(kx, 5u), q);
      a21 = mac4(a21, subgroupBroadcast(ky, 5u), q);
      a22 = mac4(a22, subgroupBroadcast(kz, 5u), q);
      a23 = mac4(a23, subgroupBroadcast(kw, 5u), q);
      a24 = mac4(a24, subgroupBroadcast(kx, 6u), q);
      a25 = mac4(a25, subgroupBroadcast(ky, 6u), q);
      a26 = mac4(a26, subgroupBroadcast(kz, 6u), q);
      a27 = mac4(a27, subgroupBroadcast(kw, 6u), q);
      a28 = mac4(a28, subgroupBroadcast(kx, 7u), q);
      a29 = mac4(a29, subgroupBroadcast(ky, 7u), q);
      a30 = mac4(a30, subgroupBroadcast(kz, 7u), q);
      a31 = mac4(a31, subgroupBroadcast(kw, 7u), q);
    }
    xc += 4u * p.p4;
    wi += 4u * per_c;
  }
  if (u0 >= p.quads) { return; }
  let res = array<vec4<f32>, 32>(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13,
    a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31);
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
