// attention_softmax_bwd.wgsl: backward of attention_softmax.wgsl (see there for layout and
// geometry): dsT[b, j, i] = scale * wT * (gT - sum_j gT wT), per column (b, i). `bwd` over
// f32 columns, `bwd4` over vec4 columns (Lq a multiple of 4; p.inner counts vec4).
// Bindings: 0 w (read), 1 g (read), 2 ds (read_write), 3 p (uniform), the same arrays seen as
// f32 (bwd) or vec4 (bwd4).
// Reference: central differences of attentionRef (test/attention.test.ts).

override WG: u32 = 64u;

struct Params { outer: u32, k: u32, inner: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> ds: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@group(0) @binding(0) var<storage, read> w4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> ds4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.outer * p.inner) { return; }
  let base = (t / p.inner) * p.k * p.inner + t % p.inner;
  var dot = 0.0;
  for (var j = 0u; j < p.k; j++) { dot += w[base + j * p.inner] * g[base + j * p.inner]; }
  for (var j = 0u; j < p.k; j++) {
    let o = base + j * p.inner;
    ds[o] = p.scale * w[o] * (g[o] - dot);
  }
}

@compute @workgroup_size(WG)
fn bwd4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.outer * p.inner) { return; }
  let base = (t / p.inner) * p.k * p.inner + t % p.inner;
  var dot = vec4<f32>(0.0);
  for (var j = 0u; j < p.k; j++) { dot += w4[base + j * p.inner] * g4[base + j * p.inner]; }
  for (var j = 0u; j < p.k; j++) {
    let o = base + j * p.inner;
    ds4[o] = p.scale * w4[o] * (g4[o] - dot);
  }
}
