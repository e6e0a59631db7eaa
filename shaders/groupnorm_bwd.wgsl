// groupnorm_bwd.wgsl: GroupNorm (+ optional SiLU) backward in two elementwise-shaped passes.
//
// With xhat = (x - mean) * rstd, z = xhat * w[c] + b[c], y = z or silu(z), and dz = dy or
// dy * silu'(z) (silu'(z) = s * (1 + z * (1 - s)), s = sigmoid(z), z recomputed from x):
// sums / sums4: invocation per plane (n, c) writes s1[plane] = sum_hw dz and
//   s2[plane] = sum_hw dz * xhat. groupnorm_coef.wgsl turns them into db = sum_n s1,
//   dw = sum_n s2 and per group row A = sum_{c in g} w[c] s1, B = sum_{c in g} w[c] s2.
//   Bindings: 0 x, 1 dy, 2 stats [N*G, 2], 3 w, 4 b (read); 5 s1 [N*C], 6 s2 [N*C]
//   (read_write); 7 p (uniform).
// dx / dx4: dx = rstd * (dz * w[c] - A/k - xhat * B/k) (k = C/G*H*W), one run of RUN items
//   of a plane per invocation as in groupnorm.wgsl. Bindings: 0 x, 1 dy, 2 stats, 3 w, 4 b,
//   5 ab [2, N*G] = (A/k, B/k) (read); 6 dx (read_write); 7 p (uniform).
// The *4 entries read and write vec4 (H*W a multiple of 4; p.hw then counts vec4).
// Geometry: 1-D, folded into 2-D past 65,535 workgroups.
// Reference: gradients of packages/tensor/src/reference/norm.ts by central differences.

override SILU: u32 = 0u;
override WG: u32 = 64u;
const RUN: u32 = 4u;

struct Params { planes: u32, hw: u32, runs: u32, cg: u32, c: u32, rows: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(5) var<storage, read_write> s1: array<f32>;
@group(0) @binding(6) var<storage, read_write> s2: array<f32>;
@group(0) @binding(5) var<storage, read> ab: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(7) var<uniform> p: Params;

// dL/dz from dL/dy at pre-activation z.
fn dact(g: f32, z: f32) -> f32 {
  if (SILU == 1u) { let s = 1.0 / (1.0 + exp(-z)); return g * s * (1.0 + z * (1.0 - s)); }
  return g;
}

fn dact4(g: vec4<f32>, z: vec4<f32>) -> vec4<f32> {
  if (SILU == 1u) { let s = 1.0 / (1.0 + exp(-z)); return g * s * (1.0 + z * (1.0 - s)); }
  return g;
}

@compute @workgroup_size(WG)
fn sums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let plane = (wid.y * nwg.x + wid.x) * WG + lid;
  if (plane >= p.planes) { return; }
  let c = plane % p.c;
  let row = plane / p.cg;
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  let wc = w[c];
  let bc = b[c];
  var a1 = 0.0;
  var a2 = 0.0;
  for (var i = plane * p.hw; i < (plane + 1u) * p.hw; i++) {
    let xh = (x[i] - mean) * rstd;
    let g = dact(dy[i], xh * wc + bc);
    a1 += g;
    a2 += g * xh;
  }
  s1[plane] = a1;
  s2[plane] = a2;
}

@compute @workgroup_size(WG)
fn sums4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let plane = (wid.y * nwg.x + wid.x) * WG + lid;
  if (plane >= p.planes) { return; }
  let c = plane % p.c;
  let row = plane / p.cg;
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  let wc = w[c];
  let bc = b[c];
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  for (var i = plane * p.hw; i < (plane + 1u) * p.hw; i++) {
    let xh = (x4[i] - mean) * rstd;
    let g = dact4(dy4[i], xh * wc + bc);
    a1 += g;
    a2 += g * xh;
  }
  s1[plane] = a1.x + a1.y + a1.z + a1.w;
  s2[plane] = a2.x + a2.y + a2.z + a2.w;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.planes * p.runs) { return; }
  let plane = t / p.runs;
  let r = t % p.runs;
  let c = plane % p.c;
  let row = plane / p.cg;
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  let wc = w[c];
  let bc = b[c];
  let ak = ab[row];
  let bk = ab[p.rows + row];
  let base = plane * p.hw;
  let a = r * RUN * 4u;
  let e = min(p.hw, a + RUN * 4u);
  for (var i = base + a; i < base + e; i++) {
    let xh = (x[i] - mean) * rstd;
    let g = dact(dy[i], xh * wc + bc);
    dx[i] = rstd * (g * wc - ak - xh * bk);
  }
}

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.planes * p.runs) { return; }
  let plane = t / p.runs;
  let r = t % p.runs;
  let c = plane % p.c;
  let row = plane / p.cg;
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  let wc = w[c];
  let bc = b[c];
  let ak = ab[row];
  let bk = ab[p.rows + row];
  let base = plane * p.hw;
  let a = r * RUN;
  let e = min(p.hw, a + RUN);
  for (var i = base + a; i < base + e; i++) {
    let xh = (x4[i] - mean) * rstd;
    let g = dact4(dy4[i], xh * wc + bc);
    dx4[i] = rstd * (g * wc - ak - xh * bk);
  }
}
