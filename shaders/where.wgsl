// where.wgsl: z = cond != 0 ? a : b, with NumPy broadcasting of all three inputs.
//
// Bindings: 0 cond, 1 a, 2 b: array<f32> (read), 3 z: array<f32> (read_write), 4 p (uniform).
// Shapes: z contiguous with shape p.shape (rank <= 8); inputs read through strides aligned to
//   z's axes (0 on broadcast axes). NaN in cond counts as true (it is != 0).
// Work split: a run of up to CH elements of the innermost axis per invocation (one coordinate
//   decomposition per run; axes contiguous in all tensors are merged by the host).
// Geometry: 1-D, folded into 2-D past 65,535 workgroups; invocations past the end return.
// Reference: packages/tensor/src/reference/elementwise.ts (whereRef).

override WG: u32 = 64u;
override CH: u32 = 16u;

struct Params {
  n: u32, rank: u32, _p0: u32, _p1: u32,
  shape: array<vec4<u32>, 2>,
  c_strides: array<vec4<u32>, 2>,
  a_strides: array<vec4<u32>, 2>,
  b_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> cond: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> z: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  let last = i32(p.rank) - 1;
  let len = p.shape[last / 4][last % 4];
  let runs = (len + CH - 1u) / CH;
  if (t >= (p.n / len) * runs) { return; }
  let row = t / runs;
  let j0 = (t % runs) * CH;
  var rest = row;
  var ic = 0u;
  var ia = 0u;
  var ib = 0u;
  for (var d = last - 1; d >= 0; d--) {
    let size = p.shape[d / 4][d % 4];
    let coord = rest % size;
    rest = rest / size;
    ic += coord * p.c_strides[d / 4][d % 4];
    ia += coord * p.a_strides[d / 4][d % 4];
    ib += coord * p.b_strides[d / 4][d % 4];
  }
  let sc = p.c_strides[last / 4][last % 4];
  let sa = p.a_strides[last / 4][last % 4];
  let sb = p.b_strides[last / 4][last % 4];
  let j1 = min(len, j0 + CH);
  for (var j = j0; j < j1; j++) {
    // Bit test instead of `!= 0.0` so that NaN (true) and -0.0 (false) behave the same everywhere.
    let taken = (bitcast<u32>(cond[ic + j * sc]) & 0x7fffffffu) != 0u;
    z[row * len + j] = select(b[ib + j * sb], a[ia + j * sa], taken);
  }
}
