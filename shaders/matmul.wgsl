// matmul.wgsl: batched C = At^T B, with A stored transposed (K-major) so that both operands
// load as vec4 along the output's rows and columns.
//
// Bindings: 0 at: array<vec4<f32>> (read) [batch, K, M], 1 b: array<vec4<f32>> (read)
//   [batch, K, N], 2 c: array<vec4<f32>> (read_write) [batch, M, N], 3 p: Params (uniform).
//   M and N are multiples of 8 (the host pads); a batch stride of 0 broadcasts that operand.
// Work split: a workgroup owns 8 rows of C (a row tile) and WG * 8 columns; invocation lid owns
//   the 8 x 8 block at columns (group * WG + lid) * 8. The A addresses depend only on the
//   workgroup, so on SIMD software rasterizers (lavapipe) they are loaded once and broadcast
//   instead of gathered per lane; only B is read per lane. 16 vec4 accumulators, no shared
//   memory and no barriers (barriers cost more than they save there).
// Geometry: workgroups = batches * tiles_m * col_groups, folded into 2-D past 65,535;
//   invocations past the last column return.
// Reference: packages/tensor/src/reference/matmul.ts (matmulRef).

override WG: u32 = 64u;

struct Params {
  m4: u32, n4: u32, k: u32, tiles_m: u32,
  col_groups: u32, batches: u32, a_batch4: u32, b_batch4: u32,
  c_batch4: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<storage, read> at: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let w = wid.y * nwg.x + wid.x;
  let per_batch = p.tiles_m * p.col_groups;
  let bt = w / per_batch;
  let tm = (w % per_batch) / p.col_groups;
  let v0 = ((w % p.col_groups) * WG + lid) * 2u; // first vec4 column of this invocation
  if (bt >= p.batches || v0 >= p.n4) { return; }
  var c00 = vec4<f32>(0.0);
  var c01 = vec4<f32>(0.0);
  var c10 = vec4<f32>(0.0);
  var c11 = vec4<f32>(0.0);
  var c20 = vec4<f32>(0.0);
  var c21 = vec4<f32>(0.0);
  var c30 = vec4<f32>(0.0);
  var c31 = vec4<f32>(0.0);
  var c40 = vec4<f32>(0.0);
  var c41 = vec4<f32>(0.0);
  var c50 = vec4<f32>(0.0);
  var c51 = vec4<f32>(0.0);
  var c60 = vec4<f32>(0.0);
  var c61 = vec4<f32>(0.0);
  var c70 = vec4<f32>(0.0);
  var c71 = vec4<f32>(0.0);
  var ia = bt * p.a_batch4 + tm * 2u;
  var ib = bt * p.b_batch4 + v0;
  for (var k = 0u; k < p.k; k++) {
    let a0 = at[ia];
    let a1 = at[ia + 1u];
    let b0 = b[ib];
    let b1 = b[ib + 1u];
    c00 = fma(vec4<f32>(a0.x), b0, c00);
    c01 = fma(vec4<f32>(a0.x), b1, c01);
    c10 = fma(vec4<f32>(a0.y), b0, c10);
    c11 = fma(vec4<f32>(a0.y), b1, c11);
    c20 = fma(vec4<f32>(a0.z), b0, c20);
    c21 = fma(vec4<f32>(a0.z), b1, c21);
    c30 = fma(vec4<f32>(a0.w), b0, c30);
    c31 = fma(vec4<f32>(a0.w), b1, c31);
    c40 = fma(vec4<f32>(a1.x), b0, c40);
    c41 = fma(vec4<f32>(a1.x), b1, c41);
    c50 = fma(vec4<f32>(a1.y), b0, c50);
    c51 = fma(vec4<f32>(a1.y), b1, c51);
    c60 = fma(vec4<f32>(a1.z), b0, c60);
    c61 = fma(vec4<f32>(a1.z), b1, c61);
    c70 = fma(vec4<f32>(a1.w), b0, c70);
    c71 = fma(vec4<f32>(a1.w), b1, c71);
    ia += p.m4;
    ib += p.n4;
  }
  let ic = bt * p.c_batch4 + tm * 8u * p.n4 + v0;
  c[ic + 0u * p.n4] = c00;
  c[ic + 0u * p.n4 + 1u] = c01;
  c[ic + 1u * p.n4] = c10;
  c[ic + 1u * p.n4 + 1u] = c11;
  c[ic + 2u * p.n4] = c20;
  c[ic + 2u * p.n4 + 1u] = c21;
  c[ic + 3u * p.n4] = c30;
  c[ic + 3u * p.n4 + 1u] = c31;
  c[ic + 4u * p.n4] = c40;
  c[ic + 4u * p.n4 + 1u] = c41;
  c[ic + 5u * p.n4] = c50;
  c[ic + 5u * p.n4 + 1u] = c51;
  c[ic + 6u * p.n4] = c60;
  c[ic + 6u * p.n4 + 1u] = c61;
  c[ic + 7u * p.n4] = c70;
  c[ic + 7u * p.n4 + 1u] = c71;
}
