// conv_gemm.wgsl: the product of the packed weights with the matrix conv_im2col.wgsl wrote, each
// pixel scattered to its place in the output: any convolution as one long 1x1 (the conv_gemm
// row). The loop is lib/gemm_rows32.wgsl (as conv1x1.wgsl's); lib/work_items.wgsl hands out
// the work items. Both are placed before this file.
//
// Bindings: 0 x: array<vec4<f32>> (read) [groups*cg, q4], the im2col matrix of a chunk of
//   images (cg = channels x taps lines per group, q4 vec4 of pixels per line); 1 bw:
//   array<vec4<f32>> (read) [groups, m_tiles, cg, ROWS], weights packed by conv_pack.wgsl
//   (LAYOUT 0); 2 bias: array<f32> (read) [y_c] (read only if has_bias); 3 y: array<f32>
//   (read_write) [N, y_c, y_h, y_w]; 4 work: array<atomic<u32>> (read_write), the dispatch's
//   counter at p.slot; 5 p: Params (uniform).
// For pixel i < count of the chunk, (n, ty, tx) = (i / (oh*ow), (i % (oh*ow)) / ow, i % ow):
//   y[((n*y_c + g*mg + m)*y_h + ty*osy)*y_w + tx*osx + y_off] = bias + sum_{c < cg}
//     w[g, m, c] * x[g*cg + c, i]
//   (y_off holds the chunk's first image and the output phase of a strided transposed conv).
// Work items: a subgroup's worth of quads of one tile of ROWS output channels, taken from a
//   counter until none is left. Lanes past the last quad compute a copy of it and store
//   nothing (broadcasts need every lane). Needs subgroups of at least 8 (the host checks).
// Reference: packages/tensor/src/reference/conv.ts (conv2dRef, convTranspose2dRef).

override WG: u32 = 64u;
// Output channels per work item: 8, 16 or 32.
override ROWS: u32 = 32u;

struct Params {
  quads: u32, cg: u32, mg: u32, m_tiles: u32,
  slot: u32, y_c: u32, has_bias: u32, tiles: u32,
  count: u32, oh: u32, ow: u32, y_h: u32,
  y_w: u32, osy: u32, osx: u32, y_off: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> bw: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> work: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) sgs: u32) {
  let width = min(sgs, WG);
  let per_tile = (p.quads + width - 1u) / width;
  let items = p.tiles * per_tile;
  loop {
    let item = next_item(p.slot, sid);
    if (item >= items) { break; }
    tile(item / per_tile, (item % per_tile) * width + sid, sid);
  }
}

// Where pixel i of the chunk goes in y, for output channel 0.
fn pixel_at(i: u32) -> u32 {
  let plane = p.oh * p.ow;
  let t = i % plane;
  return ((i / plane) * p.y_c * p.y_h + (t / p.ow) * p.osy) * p.y_w + (t % p.ow) * p.osx + p.y_off;
}

fn tile(tg: u32, u0: u32, sid: u32) {
  let q = min(u0, p.quads - 1u);
  let g = tg / p.m_tiles;
  let m0 = (tg % p.m_tiles) * ROWS;
  let res = accumulate(g * p.cg * p.quads + q, p.quads, tg * p.cg * (ROWS / 4u), p.cg, sid);
  if (u0 >= p.quads) { return; }
  let i0 = 4u * q;
  let at = vec4<u32>(pixel_at(i0), pixel_at(i0 + 1u), pixel_at(i0 + 2u), pixel_at(i0 + 3u));
  let ok = vec4<u32>(i0, i0 + 1u, i0 + 2u, i0 + 3u) < vec4<u32>(p.count);
  let channel = p.y_h * p.y_w;
  for (var r = 0u; r < ROWS; r++) {
    let m = m0 + r;
    if (m >= p.mg) { break; }
    let co = g * p.mg + m;
    var b = 0.0;
    if (p.has_bias != 0u) { b = bias[co]; }
    let v = res[r] + vec4<f32>(b);
    let o = co * channel;
    if (ok.x) { y[at.x + o] = v.x; }
    if (ok.y) { y[at.y + o] = v.y; }
    if (ok.z) { y[at.z + o] = v.z; }
    if (ok.w) { y[at.w + o] = v.w; }
  }
}
