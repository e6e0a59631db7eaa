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
// Geometry: 1-D over the lines of the output (n / rows for LAYOUT 0, n / k for LAYOUT 1;
//   O(weights), once per call), folded into 2-D past 65,535 workgroups.
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

// The source index of weight (m, c) of group g at tap (i, j) of the correlation.
fn source(g: u32, m: u32, c: u32, i: u32, j: u32) -> u32 {
  let sh = u32(p.kh0 + i32(i) * p.dh);
  let sw = u32(p.kw0 + i32(j) * p.dw);
  var pair: u32;
  if (TRANSPOSED == 1u) {
    pair = (g * p.cg + c) * p.mg + m;
  } else {
    pair = (g * p.mg + m) * p.cg + c;
  }
  return (pair * p.full_kh + sh) * p.full_kw + sw;
}

// One invocation writes one line of the output: LAYOUT 0, the rows values of one (g, t, k);
// LAYOUT 1, the k slots of one (g, t, c, r). The index arithmetic (integer divisions, which
// lavapipe runs lane by lane) is done once per line, not once per value.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let line = (wid.y * nwg.x + wid.x) * WG + lid;
  let taps = p.kh * p.kw;
  if (LAYOUT == 1u) {
    if (line * p.k >= p.n) { return; }
    let r = line % p.rows;
    let c = (line / p.rows) % p.cg;
    let tile = (line / (p.rows * p.cg)) % p.m_tiles;
    let g = line / (p.rows * p.cg * p.m_tiles);
    let m = tile * p.rows + r;
    var i = 0u;
    var j = 0u;
    for (var tp = 0u; tp < p.k; tp++) {
      var v = 0.0;
      if (m < p.mg && tp < taps) { v = w[source(g, m, c, i, j)]; }
      out[line * p.k + tp] = v;
      j++;
      if (j == p.kw) {
        j = 0u;
        i++;
      }
    }
  } else {
    if (line * p.rows >= p.n) { return; }
    let k = line % p.k;
    let tile = (line / p.k) % p.m_tiles;
    let g = line / (p.k * p.m_tiles);
    let c = k / taps;
    let tp = k % taps;
    let i = tp / p.kw;
    let j = tp % p.kw;
    for (var r = 0u; r < p.rows; r++) {
      let m = tile * p.rows + r;
      var v = 0.0;
      if (m < p.mg) { v = w[source(g, m, c, i, j)]; }
      out[line * p.rows + r] = v;
    }
  }
}
