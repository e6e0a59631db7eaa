// groupnorm.wgsl: GroupNorm's normalisation, affine and optional SiLU in one elementwise pass.
//
// Bindings: 0 x [N, C, H, W] (read), 1 stats [N*G, 2] = (mean, rstd) (read, from
//   groupnorm_stats.wgsl), 2 w [C] (read), 3 b [C] (read), 4 y [N, C, H, W] (read_write),
//   5 p (uniform).
// y = z, or z * sigmoid(z) when SILU = 1, with z = (x - mean) * rstd * w[c] + b[c]
//   = x * sc + sh (sc = rstd * w[c], sh = b[c] - mean * sc, formed once per run).
// Invocation t takes a run of RUN consecutive items of one plane (image n, channel c):
//   plane = t / runs, items [r*RUN, min(hw, (r+1)*RUN)) with r = t % runs. The plane's group
//   row is plane / cg (groups are contiguous channel blocks), so the index arithmetic and the
//   four scalar loads of stats/w/b happen once per run instead of once per element.
//   main4 reads x and writes y as vec4 (H*W a multiple of 4; p.hw then counts vec4).
// Geometry: 1-D over planes*runs, folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/norm.ts (groupNormRef).

override SILU: u32 = 0u;
override WG: u32 = 64u;
const RUN: u32 = 4u;

struct Params { planes: u32, hw: u32, runs: u32, cg: u32, c: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: Params;

fn act(z: f32) -> f32 {
  if (SILU == 1u) { return z / (1.0 + exp(-z)); }
  return z;
}

fn act4(z: vec4<f32>) -> vec4<f32> {
  if (SILU == 1u) { return z / (1.0 + exp(-z)); }
  return z;
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
  let sc = stats[2u * row + 1u] * w[c];
  let sh = b[c] - stats[2u * row] * sc;
  let base = plane * p.hw;
  let a = r * RUN * 4u;
  let e = min(p.hw, a + RUN * 4u);
  for (var i = base + a; i < base + e; i++) { y[i] = act(x[i] * sc + sh); }
}

// p.hw counts vec4; a run is RUN vec4.
@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.planes * p.runs) { return; }
  let plane = t / p.runs;
  let r = t % p.runs;
  let c = plane % p.c;
  let row = plane / p.cg;
  let sc = stats[2u * row + 1u] * w[c];
  let sh = b[c] - stats[2u * row] * sc;
  let base = plane * p.hw;
  let a = r * RUN;
  let e = min(p.hw, a + RUN);
  for (var i = base + a; i < base + e; i++) { y4[i] = act4(x4[i] * sc + sh); }
}
