// matmul.wgsl: batched C = At^T B, with A stored transposed (K-major) so that both operands
// load as vec4 along the output's rows and columns.
//
// Bindings: 0 at: array<vec4<f32>> (read) [batch, K, M], 1 b: array<vec4<f32>> (read)
//   [batch, K, N], 2 c: array<vec4<f32>> (read_write) [batch, M, N], 3 p: Params (uniform).
//   M is a multiple of 16 and N of 4 (the host pads); a batch stride of 0 broadcasts.
// Work split: a workgroup owns 16 rows of C and WG * 4 columns; invocation lid owns the 16 x 4
//   block at vec4 column (group * WG + lid). The A addresses depend only on the workgroup, so
//   SIMD software rasterizers (lavapipe, SwiftShader) load them once and broadcast them; only
//   one vec4 of B per k is read per lane, against 16 vec4 fma. No shared memory and no
//   barriers (on those they cost more than they save). Measured against 8x8 and 8x4 tiles and
//   lane-varying rows in docs/benchmarks.md.
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
  var ia = bt * p.a_batch4 + tm * 4u;
  var ib = bt * p.b_batch4 + v;
  for (var k = 0u; k < p.k; k++) {
    let a0 = at[ia + 0u];
    let a1 = at[ia + 1u];
    let a2 = at[ia + 2u];
    let a3 = at[ia + 3u];
    let bv = b[ib];
    c0 = fma(vec4<f32>(a0.x), bv, c0);
    c1 = fma(vec4<f32>(a0.y), bv, c1);
    c2 = fma(vec4<f32>(a0.z), bv, c2);
    c3 = fma(vec4<f32>(a0.w), bv, c3);
    c4 = fma(vec4<f32>(a1.x), bv, c4);
    c5 = fma(vec4<f32>(a1.y), bv, c5);
    c6 = fma(vec4<f32>(a1.z), bv, c6);
    c7 = fma(vec4<f32>(a1.w), bv, c7);
    c8 = fma(vec4<f32>(a2.x), bv, c8);
    c9 = fma(vec4<f32>(a2.y), bv, c9);
    c10 = fma(vec4<f32>(a2.z), bv, c10);
    c11 = fma(vec4<f32>(a2.w), bv, c11);
    c12 = fma(vec4<f32>(a3.x), bv, c12);
    c13 = fma(vec4<f32>(a3.y), bv, c13);
    c14 = fma(vec4<f32>(a3.z), bv, c14);
    c15 = fma(vec4<f32>(a3.w), bv, c15);
    ia += p.m4;
    ib += p.n4;
  }
  let ic = bt * p.c_batch4 + tm * 16u * p.n4 + v;
  c[ic + 0u * p.n4] = c0;
  c[ic + 1u * p.n4] = c1;
  c[ic + 2u * p.n4] = c2;
  c[ic + 3u * p.n4] = c3;
  c[ic + 4u * p.n4] = c4;
  c[ic + 5u * p.n4] = c5;
  c[ic + 6u * p.n4] = c6;
  c[ic + 7u * p.n4] = c7;
  c[ic + 8u * p.n4] = c8;
  c[ic + 9u * p.n4] = c9;
  c[ic + 10u * p.n4] = c10;
  c[ic + 11u * p.n4] = c11;
  c[ic + 12u * p.n4] = c12;
  c[ic + 13u * p.n4] = c13;
  c[ic + 14u * p.n4] = c14;
  c[ic + 15u * p.n4] = c15;
}
