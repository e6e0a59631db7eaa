// conv_im2col.wgsl: the input of a correlation laid out as a matrix, so that conv_gemm.wgsl
// runs any convolution as one long 1x1 (the conv_gemm row).
//
// Bindings: 0 x: array<f32> (read) [N, c_total, h, w], unpadded; 1 cols: array<f32>
//   (read_write) [groups, k, 4*q4] (a line of q4 vec4 as conv_gemm.wgsl reads it); 2 p: Params.
// For group g, line kk = (c*kh + i)*kw + j (c < cg, tap (i, j)) and pixel idx < count of the
// chunk (idx = (n - n0)*oh*ow + ty*ow + tx):
//   cols[g, kk, idx] = x[n, g*cg + c, ty*sh + i + top, tx*sw + j + left], or 0 where that is
//   outside x (top and left are signed: negative is zero padding).
// The tail of a line (count <= idx < 4*q4) is left unwritten: conv_gemm.wgsl reads it into
// the last quad's spare lanes of a vec4, and each pixel's sum uses its own lane only, whose
// result is never stored.
// The line order matches conv_pack.wgsl's K-major tiles (LAYOUT 0), so the weights pack as
// for any correlation.
// Work split: one invocation writes one output row (image, ty) of one line: it works out the
//   source row once (integer divisions, which lavapipe runs lane by lane), then stores the
//   ow values as scalars (one per-lane store each; 2.3x the throughput of a vec4 per invocation
//   with a cursor walking the pixels: docs/benchmarks.md).
// Geometry: groups * k * (images * oh) invocations, 1-D, folded into 2-D past 65,535
//   workgroups; invocations past the end return.
// Reference: conv2dRef / convTranspose2dRef (packages/tensor/src/reference/conv.ts), through
//   the conv_gemm row's results.

override WG: u32 = 64u;
struct Params {
  count: u32, q4: u32, k: u32, cg: u32,
  c_total: u32, h: u32, w: u32, kh: u32,
  kw: u32, oh: u32, ow: u32, sh: u32,
  sw: u32, top: i32, left: i32, n0: u32,
  groups: u32, rows: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> cols: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.groups * p.k * p.rows) { return; }
  let r = t % p.rows; // (image - n0) * oh + ty
  let line = t / p.rows; // g * k + kk
  let kk = line % p.k;
  let g = line / p.k;
  let taps = p.kh * p.kw;
  let c = kk / taps;
  let i = (kk % taps) / p.kw;
  let j = kk % p.kw;
  let n = p.n0 + r / p.oh;
  let iy = i32((r % p.oh) * p.sh + i) + p.top;
  let dst = line * p.q4 * 4u + r * p.ow;
  if (iy < 0 || iy >= i32(p.h)) {
    for (var tx = 0u; tx < p.ow; tx++) { cols[dst + tx] = 0.0; }
    return;
  }
  let src = ((n * p.c_total + g * p.cg + c) * p.h + u32(iy)) * p.w;
  var ix = i32(j) + p.left;
  for (var tx = 0u; tx < p.ow; tx++) {
    var v = 0.0;
    if (ix >= 0 && ix < i32(p.w)) { v = x[src + u32(ix)]; }
    cols[dst + tx] = v;
    ix += i32(p.sw);
  }
}
