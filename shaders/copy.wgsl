// copy.wgsl: strided copy, the one kernel behind permute, slice, concat, pad and broadcastTo.
//
// Bindings: 0 src: array<f32> (read), 1 dst: array<f32> (read_write), 2 p: Params (uniform).
// For every index idx of the box p.shape (rank <= 8, row-major order):
//   dst[dst_offset + sum_d idx[d]*dst_strides[d]] = src[src_offset + sum_d idx[d]*src_strides[d]]
// Strides are in elements; a stride of 0 repeats (broadcast). Elements of dst outside the box
//   are left as they are (pad fills them first with fill.wgsl).
// Work split: invocation t copies a run of up to CH elements of the innermost box axis, so the
//   coordinate decomposition (integer division, slow on CPU rasterizers) is paid once per run.
//   Neighbouring invocations take neighbouring runs.
// main4: the same over vec4 elements, where the host found the innermost axis contiguous on
//   both sides and every offset, stride and the innermost size a multiple of 4 (the shape,
//   strides and offsets then count vec4): a lane's vec4 load or store costs 1.6-2 scalar ones
//   on lavapipe, against 4 (the decoder's concatenations, the slices of their gradients).
// Geometry: 1-D over rows * runs_per_row, folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/layout.ts (stridedCopyRef).

override WG: u32 = 64u;
override CH: u32 = 16u;

struct Params {
  n: u32, rank: u32, src_offset: u32, dst_offset: u32,
  shape: array<vec4<u32>, 2>,
  src_strides: array<vec4<u32>, 2>,
  dst_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(0) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

// The run of invocation t: elements j0 .. j1 of the innermost axis, read from src[is + j * ss]
// and written to dst[id + j * ds]; ok is false past the last run.
struct Run { is: u32, id: u32, ss: u32, ds: u32, j0: u32, j1: u32, ok: bool }

fn run_of(t: u32) -> Run {
  let last = i32(p.rank) - 1;
  let len = p.shape[last / 4][last % 4];
  let runs = (len + CH - 1u) / CH;
  if (t >= (p.n / len) * runs) { return Run(0u, 0u, 0u, 0u, 0u, 0u, false); }
  var rest = t / runs;
  let j0 = (t % runs) * CH;
  var is = p.src_offset;
  var id = p.dst_offset;
  for (var d = last - 1; d >= 0; d--) {
    let size = p.shape[d / 4][d % 4];
    let coord = rest % size;
    rest = rest / size;
    is += coord * p.src_strides[d / 4][d % 4];
    id += coord * p.dst_strides[d / 4][d % 4];
  }
  let ss = p.src_strides[last / 4][last % 4];
  let ds = p.dst_strides[last / 4][last % 4];
  return Run(is, id, ss, ds, j0, min(len, j0 + CH), true);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = run_of((wid.y * nwg.x + wid.x) * WG + lid);
  if (!r.ok) { return; }
  for (var j = r.j0; j < r.j1; j++) {
    dst[r.id + j * r.ds] = src[r.is + j * r.ss];
  }
}

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let r = run_of((wid.y * nwg.x + wid.x) * WG + lid);
  if (!r.ok) { return; }
  for (var j = r.j0; j < r.j1; j++) {
    dst4[r.id + j * r.ds] = src4[r.is + j * r.ss];
  }
}
