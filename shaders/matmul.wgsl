// matmul.wgsl: batched C = A B, A read through strides (any layout), B with N contiguous.
//
// Bindings: 0 a: array<f32> (read), element (m, k) of batch t at
//   a_off + t * a_batch + m * a_row + k * a_col; 1 b: array<vec4<f32>> (read), the vec4 of row
//   k at b_off4 + t * b_batch4 + k * b_row4 (b_row4 = N/4 when dense); 2 c: array<vec4<f32>>
//   (read_write) [batch, M, N/4]; 3 p: Params (uniform).
//   N is a multiple of 4 (the host pads B and crops C otherwise); a batch stride of 0
//   broadcasts that operand.
// Work split: a workgroup owns 16 rows of C and WG vec4 columns; invocation lid owns the 16 x 4
//   block at vec4 column (group * WG + lid). A's addresses depend only on the workgroup, so
//   SIMD software rasterizers (lavapipe, SwiftShader) load each A value once and broadcast it,
//   in any layout (no transposed copy needed); only one vec4 of B per k is read per lane,
//   against 16 vec4 fma. No shared memory and no barriers (they cost more than they save
//   there). Rows past M load a clamped row and are not stored.
// Geometry: workgroups = batches * tiles_m * col_groups, folded into 2-D past 65,535;
//   invocations past the last column return.
// Reference: packages/tensor/src/reference/matmul.ts (matmulRef).

override WG: u32 = 64u;

struct Params {
  m: u32, n4: u32, k: u32, tiles_m: u32,
  col_groups: u32, batches: u32, a_batch: u32, b_batch4: u32,
  c_batch4: u32, a_row: u32, a_col: u32, b_row4: u32,
  a_off: u32, b_off4: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let w = wid.y * nwg.x + wid.x;
  let per_batch = p.tiles_m * p.col_groups;
  let bt = w / per_batch;
  let m0 = ((w % per_batch) / p.col_groups) * 16u;
  let v = (w % p.col_groups) * WG + lid; // this invocation's vec4 column
  if (bt >= p.batches || v >= p.n4) { return; }
  var c0 = vec4<f32>(0.0);
  var c1 = vec4<f32>(0.0);
  var c2 = vec4<f32>(0.0);
  var c3 = vec4<f32>(0.0);
  var c4 = vec4<f32>(0.0);
  var c5 = vec4<f32>(0.0);
  var c6 = vec4<f32>(0.0);
  var c7 = vec4<f32>(0.0);
  var c8 = vec4<f32>(0.0);
  var c9 = vec4<f32>(0.0);
  var c10 = vec4<f32>(0.0);
  var c11 = vec4<f32>(0.0);
  var c12 = vec4<f32>(0.0);
  var c13 = vec4<f32>(0.0);
  var c14 = vec4<f32>(0.0);
  var c15 = vec4<f32>(0.0);
  // Rows past M read row M - 1 (uniform, in bounds) and are dropped at the store. The last
  // tile's row count is uniform, so the clamp costs nothing per lane.
  let rows = min(16u, p.m - m0);
  var ia = p.a_off + bt * p.a_batch + m0 * p.a_row;
  var ib = p.b_off4 + bt * p.b_batch4 + v;
  let last = (rows - 1u) * p.a_row;
  for (var k = 0u; k < p.k; k++) {
    let a0 = a[ia + min(0u * p.a_row, last)];
    let a1 = a[ia + min(1u * p.a_row, last)];
    let a2 = a[ia + min(2u * p.a_row, last)];
    let a3 = a[ia + min(3u * p.a_row, last)];
    let a4 = a[ia + min(4u * p.a_row, last)];
    let a5 = a[ia + min(5u * p.a_row, last)];
    let a6 = a[ia + min(6u * p.a_row, last)];
    let a7 = a[ia + min(7u * p.a_row, last)];
    let a8 = a[ia + min(8u * p.a_row, last)];
    let a9 = a[ia + min(9u * p.a_row, last)];
    let a10 = a[ia + min(10u * p.a_row, last)];
    let a11 = a[ia + min(11u * p.a_row, last)];
    let a12 = a[ia + min(12u * p.a_row, last)];
    let a13 = a[ia + min(13u * p.a_row, last)];
    let a14 = a[ia + min(14u * p.a_row, last)];
    let a15 = a[ia + min(15u * p.a_row, last)];
    let bv = b[ib];
    c0 = fma(vec4<f32>(a0), bv, c0);
    c1 = fma(vec4<f32>(a1), bv, c1);
    c2 = fma(vec4<f32>(a2), bv, c2);
    c3 = fma(vec4<f32>(a3), bv, c3);
    c4 = fma(vec4<f32>(a4), bv, c4);
    c5 = fma(vec4<f32>(a5), bv, c5);
    c6 = fma(vec4<f32>(a6), bv, c6);
    c7 = fma(vec4<f32>(a7), bv, c7);
    c8 = fma(vec4<f32>(a8), bv, c8);
    c9 = fma(vec4<f32>(a9), bv, c9);
    c10 = fma(vec4<f32>(a10), bv, c10);
    c11 = fma(vec4<f32>(a11), bv, c11);
    c12 = fma(vec4<f32>(a12), bv, c12);
    c13 = fma(vec4<f32>(a13), bv, c13);
    c14 = fma(vec4<f32>(a14), bv, c14);
    c15 = fma(vec4<f32>(a15), bv, c15);
    ia += p.a_col;
    ib += p.b_row4;
  }
  let ic = bt * p.c_batch4 + m0 * p.n4 + v;
  if (m0 + 0u < p.m) { c[ic + 0u * p.n4] = c0; }
  if (m0 + 1u < p.m) { c[ic + 1u * p.n4] = c1; }
  if (m0 + 2u < p.m) { c[ic + 2u * p.n4] = c2; }
  if (m0 + 3u < p.m) { c[ic + 3u * p.n4] = c3; }
  if (m0 + 4u < p.m) { c[ic + 4u * p.n4] = c4; }
  if (m0 + 5u < p.m) { c[ic + 5u * p.n4] = c5; }
  if (m0 + 6u < p.m) { c[ic + 6u * p.n4] = c6; }
  if (m0 + 7u < p.m) { c[ic + 7u * p.n4] = c7; }
  if (m0 + 8u < p.m) { c[ic + 8u * p.n4] = c8; }
  if (m0 + 9u < p.m) { c[ic + 9u * p.n4] = c9; }
  if (m0 + 10u < p.m) { c[ic + 10u * p.n4] = c10; }
  if (m0 + 11u < p.m) { c[ic + 11u * p.n4] = c11; }
  if (m0 + 12u < p.m) { c[ic + 12u * p.n4] = c12; }
  if (m0 + 13u < p.m) { c[ic + 13u * p.n4] = c13; }
  if (m0 + 14u < p.m) { c[ic + 14u * p.n4] = c14; }
  if (m0 + 15u < p.m) { c[ic + 15u * p.n4] = c15; }
}
