// fill.wgsl: y[i] = value for i < n.
//
// Bindings: 0 y: array<f32> (read_write), 1 p: Params (uniform).
// Geometry: 1-D, folded into 2-D past 65,535 workgroups.
// Reference: Float64Array.fill.

override WG: u32 = 64u;

struct Params { n: u32, value: f32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
// main4 writes four elements per invocation (size a multiple of 4; p.n counts vec4).
@group(0) @binding(0) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) { return; }
  y[i] = p.value;
}

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) { return; }
  y4[i] = vec4<f32>(p.value);
}
