// matmul_tiled.wgsl: batched C = A B for GPUs, tiles staged in workgroup memory
// (lib/gemm_tile.wgsl, placed before this file, holds the entry point and the tile loop).
//
// Bindings: 0 a: array<f32> (read), element (m, k) of batch t at
//   a_off + t*a_batch + m*a_row + k*a_col; 1 b: array<f32> (read), element (k, n) at
//   b_off + t*b_batch + k*b_row + n*b_col; 2 c: array<f32> (read_write) [batches, m, n],
//   dense; 3 p: Params (uniform). Any strides: either operand transposed or read in place
//   (a batch stride of 0 broadcasts it); no copies, no padding of n.
// c[t, m, n] = sum_{k < p.k} a(t, m, k) * b(t, k, n).
// Work items: bt = the batch; one tile of C per workgroup (see the library).
// Reference: packages/tensor/src/reference/matmul.ts (matmulRef).

struct Params {
  m: u32, n: u32, k: u32, tiles_m: u32,
  tiles_n: u32, wgs: u32, a_off: u32, a_batch: u32,
  a_row: u32, a_col: u32, b_off: u32, b_batch: u32,
  b_row: u32, b_col: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn k_range(bt: u32) -> vec2<u32> {
  return vec2<u32>(0u, p.k);
}

fn a_value(bt: u32, m: u32, k: u32, k_end: u32) -> f32 {
  if (m >= p.m || k >= k_end) { return 0.0; }
  return a[p.a_off + bt * p.a_batch + m * p.a_row + k * p.a_col];
}

fn b_value(bt: u32, k: u32, n: u32, k_end: u32) -> f32 {
  if (n >= p.n || k >= k_end) { return 0.0; }
  return b[p.b_off + bt * p.b_batch + k * p.b_row + n * p.b_col];
}

fn store_c(bt: u32, m: u32, n: u32, v: f32) {
  c[(bt * p.m + m) * p.n + n] = v;
}
