// matmul.wgsl: batched C = A^T B with A stored transposed, the layout that lets both operands
// load as vec4 along the output's rows and columns.
//
// Bindings: 0 at: array<vec4<f32>> (read) [batch, K, M], 1 b: array<vec4<f32>> (read)
//   [batch, K, N], 2 c: array<vec4<f32>> (read_write) [batch, M, N], 3 p: Params (uniform).
//   M and N are multiples of 8 (the host pads); a batch stride of 0 broadcasts that operand.
// Each invocation computes an 8x8 tile of C as 16 vec4 accumulators: per k it loads 8 values of
//   A's column and 8 of B's row and does 16 vec4 fma. No shared memory and no barriers: on a
//   SIMD software rasterizer (lavapipe) barriers cost more than they save, and neighbouring
//   invocations (adjacent column tiles) read adjacent B addresses and the same A addresses.
// Geometry: 1-D over batch * tiles_m * tiles_n, folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/matmul.ts (matmulRef).

override WG: u32 = 32u;

struct Params {
  m4: u32, n4: u32, k: u32, tiles_m: u32,
  tiles_n: u32, batches: u32, a_batch4: u32, b_batch4: u32,
  c_batch4: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<storage, read> at: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  let tiles = p.tiles_m * p.tiles_n;
  if (t >= tiles * p.batches) { return; }
  let bt = t / tiles;
  let tm = (t % tiles) / p.tiles_n;
  let tn = t % p.tiles_n;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var acc4 = vec4<f32>(0.0);
  var acc5 = vec4<f32>(0.0);
  var acc6 = vec4<f32>(0.0);
  var acc7 = vec4<f32>(0.0);
  var acc8 = vec4<f32>(0.0);
  var acc9 = vec4<f32>(0.0);
  var acc10 = vec4<f32>(0.0);
  var acc11 = vec4<f32>(0.0);
  var acc12 = vec4<f32>(0.0);
  var acc13 = vec4<f32>(0.0);
  var acc14 = vec4<f32>(0.0);
  var acc15 = vec4<f32>(0.0);
  var ia = bt * p.a_batch4 + tm * 2u;
  var ib = bt * p.b_batch4 + tn * 2u;
  for (var k = 0u; k < p.k; k++) {
    let a0 = at[ia];
    let a1 = at[ia + 1u];
    let b0 = b[ib];
    let b1 = b[ib + 1u];
    acc0 = fma(vec4<f32>(a0.x), b0, acc0);
    acc1 = fma(vec4<f32>(a0.x), b1, acc1);
    acc2 = fma(vec4<f32>(a0.y), b0, acc2);
    acc3 = fma(vec4<f32>(a0.y), b1, acc3);
    acc4 = fma(vec4<f32>(a0.z), b0, acc4);
    acc5 = fma(vec4<f32>(a0.z), b1, acc5);
    acc6 = fma(vec4<f32>(a0.w), b0, acc6);
    acc7 = fma(vec4<f32>(a0.w), b1, acc7);
    acc8 = fma(vec4<f32>(a1.x), b0, acc8);
    acc9 = fma(vec4<f32>(a1.x), b1, acc9);
    acc10 = fma(vec4<f32>(a1.y), b0, acc10);
    acc11 = fma(vec4<f32>(a1.y), b1, acc11);
    acc12 = fma(vec4<f32>(a1.z), b0, acc12);
    acc13 = fma(vec4<f32>(a1.z), b1, acc13);
    acc14 = fma(vec4<f32>(a1.w), b0, acc14);
    acc15 = fma(vec4<f32>(a1.w), b1, acc15);
    ia += p.m4;
    ib += p.n4;
  }
  let ic = bt * p.c_batch4 + tm * 8u * p.n4 + tn * 2u;
  c[ic + 0u * p.n4] = acc0;
  c[ic + 0u * p.n4 + 1u] = acc1;
  c[ic + 1u * p.n4] = acc2;
  c[ic + 1u * p.n4 + 1u] = acc3;
  c[ic + 2u * p.n4] = acc4;
  c[ic + 2u * p.n4 + 1u] = acc5;
  c[ic + 3u * p.n4] = acc6;
  c[ic + 3u * p.n4 + 1u] = acc7;
  c[ic + 4u * p.n4] = acc8;
  c[ic + 4u * p.n4 + 1u] = acc9;
  c[ic + 5u * p.n4] = acc10;
  c[ic + 5u * p.n4 + 1u] = acc11;
  c[ic + 6u * p.n4] = acc12;
  c[ic + 6u * p.n4 + 1u] = acc13;
  c[ic + 7u * p.n4] = acc14;
  c[ic + 7u * p.n4 + 1u] = acc15;
}
