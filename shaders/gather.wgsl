// gather.wgsl: embedding rows, and the gradient that sums them back.
//
// gather_rows: out[r, j] = table[idx[r], j]          (table [rows, width], idx [n], out [n, width])
// scatter_add_rows: grad_table[t, j] = sum over r with idx[r] == t of grad_out[r, j]
//   Each invocation owns one (t, j) and scans all n indices: deterministic, no float atomics.
// Indices are f32 holding integers (exact below 2^24); out-of-range rows read as NaN so a bad
//   index is visible instead of silently reading another row.
// Bindings: 0 a: array<f32> (read), 1 idx: array<f32> (read), 2 out: array<f32> (read_write),
//   3 p: Params (uniform).
// Geometry: 1-D over the output, folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/layout.ts (gatherRowsRef, scatterAddRowsRef).

override WG: u32 = 64u;

struct Params { n: u32, width: u32, rows: u32, _p0: u32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> idx: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// A quiet NaN; a private variable because constant expressions may not produce NaN.
var<private> nan_bits: u32 = 0x7fc00000u;

@compute @workgroup_size(WG)
fn gather_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.n * p.width) { return; }
  let r = t / p.width;
  let j = t % p.width;
  let row = idx[r];
  if (!(row >= 0.0 && row < f32(p.rows)) || floor(row) != row) {
    out[t] = bitcast<f32>(nan_bits);
    return;
  }
  out[t] = a[u32(row) * p.width + j];
}

@compute @workgroup_size(WG)
fn scatter_add_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.rows * p.width) { return; }
  let row = f32(t / p.width);
  let j = t % p.width;
  var acc = 0.0;
  for (var r = 0u; r < p.n; r++) {
    if (idx[r] == row) { acc += a[r * p.width + j]; }
  }
  out[t] = acc;
}
