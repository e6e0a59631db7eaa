// adam.wgsl: one in-place Adam step over one parameter tensor: PyTorch's Adam (no weight
// decay, no amsgrad), with EDM's gradient sanitising fused in (NaN -> 0, +-inf -> +-1e5, as
// torch.nan_to_num) when p.sanitize is 1:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   param -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - b_i^step
// Bindings: 0 param, 2 m, 3 v: array<f32> (read_write); 1 grad: array<f32> (read);
//   4 p: Params (uniform). All four tensors have n elements.
// Geometry: 1-D over n, folded into 2-D past 65,535 workgroups; invocations past n return.
// Reference: packages/tensor/src/reference/optim.ts (adamRef).

override WG: u32 = 64u;

// 1 - beta comes from the host in double precision, as PyTorch computes it: 1 - 0.999 in f32
// would be off by 5e-5 relative.
struct Params {
  n: u32, sanitize: u32, lr: f32, beta1: f32,
  beta2: f32, eps: f32, bc1: f32, sqrt_bc2: f32,
  one_minus_beta1: f32, one_minus_beta2: f32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

fn sanitized(x: f32) -> f32 {
  let bits = bitcast<u32>(x) & 0x7fffffffu;
  if (bits > 0x7f800000u) { return 0.0; }
  if (bits == 0x7f800000u) { return select(1e5, -1e5, x < 0.0); }
  return x;
}

@compute @workgroup_size(WG)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.n) { return; }
  var g = grad[i];
  if (p.sanitize == 1u) { g = sanitized(g); }
  let mi = p.beta1 * m[i] + p.one_minus_beta1 * g;
  let vi = p.beta2 * v[i] + p.one_minus_beta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = param[i] - (p.lr / p.bc1) * mi / (sqrt(vi) / p.sqrt_bc2 + p.eps);
}
