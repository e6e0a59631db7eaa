// conv_tiled.wgsl: one correlation as a workgroup-tiled implicit GEMM for GPUs (the
// conv_tiled_* rows: pass y, and pass dx once per output phase); lib/gemm_tile.wgsl, placed
// before this file, holds the entry point and the tile loop.
//
// Bindings: 0 x: array<f32> (read) [N, c_total, h, w], unpadded; 1 wt: array<f32> (read), the
//   weights as stored (TRANSPOSED = 0: conv2d's [groups*mg, cg, full_kh, full_kw]; 1:
//   conv_transpose2d's [groups*cg, mg, full_kh, full_kw]); 2 bias: array<f32> (read) [y_c]
//   (read only if has_bias); 3 y: array<f32> (read_write) [N, y_c, y_h, y_w]; 4 p: Params.
// Per group g (the work item bt), C = A B with A [mg, cg*kh*kw] the weights and B
// [cg*kh*kw, N*oh*ow] the input gathered through the window (zero padding by bounds checks,
// no padded copy): for k = (c*kh + i)*kw + j and pixel n = (img*oh + ty)*ow + tx,
//   A[m, k] = w at pair (m, c) of group g, stored tap (kh0 + i*dh, kw0 + j*dw);
//   B[k, n] = x[img, g*cg + c, ty*sh + i + top, tx*sw + j + left] (0 outside x);
//   y[img, g*mg + m, ty*osy + py, tx*osx + px] = C[m, n] + bias (y_off = py*y_w + px).
// Reference: packages/tensor/src/reference/conv.ts (conv2dRef, convTranspose2dRef).

override TRANSPOSED: u32 = 0u;

struct Params {
  m: u32, n: u32, tiles_m: u32, tiles_n: u32,
  wgs: u32, k: u32, cg: u32, c_total: u32,
  h: u32, w: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, top: i32, left: i32,
  oh: u32, ow: u32, full_kh: u32, full_kw: u32,
  kh0: i32, kw0: i32, dh: i32, dw: i32,
  y_c: u32, y_h: u32, y_w: u32, osy: u32,
  osx: u32, y_off: u32, has_bias: u32, _p0: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

fn k_range(bt: u32) -> vec2<u32> {
  return vec2<u32>(0u, p.k);
}

fn a_value(g: u32, m: u32, k: u32, k_end: u32) -> f32 {
  if (m >= p.m || k >= k_end) { return 0.0; }
  let taps = p.kh * p.kw;
  let c = k / taps;
  let t = k % taps;
  // The stored tap this one reads (a flipped or phase-strided kernel for pass dx).
  let tap_y = u32(p.kh0 + i32(t / p.kw) * p.dh);
  let tap_x = u32(p.kw0 + i32(t % p.kw) * p.dw);
  var pair = (g * p.m + m) * p.cg + c;
  if (TRANSPOSED == 1u) { pair = (g * p.cg + c) * p.m + m; }
  return wt[(pair * p.full_kh + tap_y) * p.full_kw + tap_x];
}

fn b_value(g: u32, k: u32, n: u32, k_end: u32) -> f32 {
  if (n >= p.n || k >= k_end) { return 0.0; }
  let taps = p.kh * p.kw;
  let c = k / taps;
  let t = k % taps;
  let plane = p.oh * p.ow;
  let img = n / plane;
  let r = n % plane;
  let iy = i32((r / p.ow) * p.sh + t / p.kw) + p.top;
  let ix = i32((r % p.ow) * p.sw + t % p.kw) + p.left;
  if (iy < 0 || iy >= i32(p.h) || ix < 0 || ix >= i32(p.w)) { return 0.0; }
  return x[((img * p.c_total + g * p.cg + c) * p.h + u32(iy)) * p.w + u32(ix)];
}

fn store_c(g: u32, m: u32, n: u32, v: f32) {
  let co = g * p.m + m;
  let plane = p.oh * p.ow;
  let img = n / plane;
  let r = n % plane;
  var b = 0.0;
  if (p.has_bias != 0u) { b = bias[co]; }
  y[((img * p.y_c + co) * p.y_h + (r / p.ow) * p.osy) * p.y_w + (r % p.ow) * p.osx + p.y_off] =
    v + b;
}
