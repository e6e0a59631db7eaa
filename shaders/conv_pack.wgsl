// conv_pack.wgsl: rearranges convolution weights into the K-major tiles conv.wgsl reads.
//
// Bindings: 0 w: array<f32> (read), the weights as stored; 1 out: array<f32> (read_write)
//   [groups, m_tiles, cg*kh*kw, rows]; 2 p: Params (uniform).
// out[g, t, (c*kh + i)*kw + j, r] = w at channel pair (m = t*rows + r, c) of group g and tap
//   (kh0 + i*dh, kw0 + j*dw), or 0 when m >= mg. Storage layouts:
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
  let r = t % p.rows;
  let k = (t / p.rows) % p.k;
  let tile = (t / (p.rows * p.k)) % p.m_tiles;
  let g = t / (p.rows * p.k * p.m_tiles);
  let m = tile * p.rows + r;
  if (m >= p.mg) {
    out[t] = 0.0;
    return;
  }
  let taps = p.kh * p.kw;
  let c = k / taps;
  let i = (k / p.kw) % p.kh;
  let j = k % p.kw;
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
