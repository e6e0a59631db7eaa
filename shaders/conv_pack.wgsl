// conv_pack.wgsl: rearranges convolution weights into the tiles conv.wgsl (LAYOUT 0) or
// conv3x3_same.wgsl (LAYOUT 1) reads.
//
// Bindings: 0 w: array<f32> (read), the weights as stored; 1 out: array<f32> (read_write);
//   2 p: Params (uniform).
// LAYOUT 0, K-major: out [groups, m_tiles, cg*kh*kw, rows];
//   out[g, t, (c*kh + i)*kw + j, r] = w at channel pair (m = t*rows + r, c) of group g and tap
//   (kh0 + i*dh, kw0 + j*dw), or 0 when m >= mg.
// LAYOUT 1, taps of a pair together: out [groups, m_tiles, cg, rows, k] (k >= kh*kw slots);
//   out[g, t, c, r, i*kw + j] = the same weight, or 0 when m >= mg or the slot is past kh*kw.
// Storage layouts:
//   TRANSPOSED = 0: conv2d weights [groups*mg, cg, KH, KW];
//   TRANSPOSED = 1: conv_transpose2d weights [groups*cg, mg, KH, KW].
//   dh, dw are signed: -1 flips a kernel (conv2d's input gradient); -stride picks the taps of
//   one output phase of a strided transposed conv.
// Geometry: 1-D over the packed size (weights are small: this is O(weights), once per call),
//   folded into 2-D past 65,535 workgroups.
// Reference: the index arithmetic of packWeights in packages/tensor/src/ops/conv.ts; checked
//   through conv2dRef/convTranspose2dRef.

override WG: u32 = 64u;
override TRANSPOSED: u32 = 0u;
override LAYOUT: u32 = 0u;

struct Params {
  n: u32, rows: u32, k: u32, m_tiles: u32,
  mg: u32, cg: u32, kh: u32, kw: u32,
  full_kh: u32, full_kw: u32, kh0: i32, kw0: i32,
  dh: i32, dw: i32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.n) { return; }
  let taps = p.kh * p.kw;
  var r: u32;
  var tile: u32;
  var g: u32;
  var c: u32;
  var tp: u32; // tap i*kw + j
  if (LAYOUT == 1u) {
    tp = t % p.k;
    r = (t / p.k) % p.rows;
    c = (t / (p.k * p.rows)) % p.cg;
    tile = (t / (p.k * p.rows * p.cg)) % p.m_tiles;
    g = t / (p.k * p.rows * p.cg * p.m_tiles);
  } else {
    r = t % p.rows;
    let k = (t / p.rows) % p.k;
    tile = (t / (p.rows * p.k)) % p.m_tiles;
    g = t / (p.rows * p.k * p.m_tiles);
    c = k / taps;
    tp = k % taps;
  }
  let m = tile * p.rows + r;
  if (m >= p.mg || tp >= taps) {
    out[t] = 0.0;
    return;
  }
  let i = tp / p.kw;
  let j = tp % p.kw;
  let sh = u32(p.kh0 + i32(i) * p.dh);
  let sw = u32(p.kw0 + i32(j) * p.dw);
  var pair: u32;
  if (TRANSPOSED == 1u) {
    pair = (g * p.cg + c) * p.mg + m;
  } else {
    pair = (g * p.mg + m) * p.cg + c;
  }
  out[t] = w[(pair * p.full_kh + sh) * p.full_kw + sw];
}
