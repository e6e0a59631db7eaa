// ema.wgsl: ema = param + beta * (ema - param) in place (torch's param.lerp(ema, beta), as
// EDM's EMA update).
// Bindings: 0 avg (the EMA): array<f32> (read_write), 1 param: array<f32> (read), 2 p: Params (uniform).
// Geometry: 1-D over n, folded into 2-D past 65,535 workgroups; invocations past n return.
// Reference: packages/tensor/src/reference/optim.ts (emaRef).

override WG: u32 = 64u;

struct Params { n: u32, beta: f32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read_write> avg: array<f32>;
@group(0) @binding(1) var<storage, read> param: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn ema(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) { return; }
  let x = param[i];
  avg[i] = x + p.beta * (avg[i] - x);
}
