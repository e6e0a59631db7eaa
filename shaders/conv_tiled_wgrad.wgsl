// conv_tiled_wgrad.wgsl: the weight gradient of a convolution as a workgroup-tiled GEMM for
// GPUs (the conv_tiled_* rows' pass dw), its reduction over pixels split into chunks;
// lib/gemm_tile.wgsl, placed before this file, holds the entry point and the tile loop.
//
// Bindings: 0 dy: array<f32> (read) [N, cout, oh, ow]; 1 x: array<f32> (read) [N, cin, h, w],
//   unpadded; 2 out: array<f32> (read_write) [chunks, cout, cg*kh*kw], partial sums the host
//   adds up; 3 p: Params (uniform).
// Work item bt = chunk * groups + g. With k = a pixel (img*oh + oy)*ow + ox of the chunk's
// range [chunk*per_chunk, min(k, (chunk + 1)*per_chunk)) and e = (c*kh + i)*kw + j:
//   A[m, k] = dy[img, g*mg + m, oy, ox];
//   B[k, e] = x[img, g*cg + c, oy*sh + i - ph, ox*sw + j - pw] (0 outside x);
//   out[chunk, g*mg + m, e] = sum over the range of A[m, k] B[k, e].
// Reference: the weight gradients of conv2dRef (finite differences in the tests).

struct Params {
  m: u32, n: u32, tiles_m: u32, tiles_n: u32,
  wgs: u32, k: u32, per_chunk: u32, groups: u32,
  cout: u32, cin: u32, cg: u32, h: u32,
  w: u32, kh: u32, kw: u32, oh: u32,
  ow: u32, sh: u32, sw: u32, ph: u32,
  pw: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn k_range(bt: u32) -> vec2<u32> {
  let chunk = bt / p.groups;
  return vec2<u32>(chunk * p.per_chunk, min(p.k, (chunk + 1u) * p.per_chunk));
}

fn a_value(bt: u32, m: u32, k: u32, k_end: u32) -> f32 {
  if (m >= p.m || k >= k_end) { return 0.0; }
  let g = bt % p.groups;
  let plane = p.oh * p.ow;
  return dy[((k / plane) * p.cout + g * p.m + m) * plane + k % plane];
}

fn b_value(bt: u32, k: u32, e: u32, k_end: u32) -> f32 {
  if (e >= p.n || k >= k_end) { return 0.0; }
  let g = bt % p.groups;
  let taps = p.kh * p.kw;
  let c = e / taps;
  let t = e % taps;
  let plane = p.oh * p.ow;
  let img = k / plane;
  let r = k % plane;
  let iy = i32((r / p.ow) * p.sh + t / p.kw) - i32(p.ph);
  let ix = i32((r % p.ow) * p.sw + t % p.kw) - i32(p.pw);
  if (iy < 0 || iy >= i32(p.h) || ix < 0 || ix >= i32(p.w)) { return 0.0; }
  return x[((img * p.cin + g * p.cg + c) * p.h + u32(iy)) * p.w + u32(ix)];
}

fn store_c(bt: u32, m: u32, e: u32, v: f32) {
  let chunk = bt / p.groups;
  let g = bt % p.groups;
  out[(chunk * p.cout + g * p.m + m) * p.n + e] = v;
}
