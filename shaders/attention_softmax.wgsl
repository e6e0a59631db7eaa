// attention_softmax.wgsl: scaled softmax down the columns of attention's transposed scores,
// forward and backward, one pass each.
//
// Scores arrive transposed, sT = k^T q: [B, Lk, Lq] (key j down the rows, query i along the
// contiguous axis), so neighbouring invocations take neighbouring queries i and their loads
// are adjacent (vec4 in main4/bwd4), and the weights leave in the layout the second matmul
// reads directly (wT as its [K, N] operand, no transposing copy).
//   main:  wT[b, j, i] = exp(scale * (sT[b, j, i] - max_j sT[b, j, i])) / sum_j (same)
//   bwd:   dsT[b, j, i] = scale * wT[b, j, i] * (gT[b, j, i] - sum_j gT[b, j, i] wT[b, j, i])
// scale = 1/sqrt(C) > 0, so the max of the scaled scores is scale * max. NaN or +Inf in a
// column makes the whole column NaN (as the composite softmax).
// Bindings: 0 s (read), 1 w (read_write), 2 p (uniform), seen as f32 (main) or vec4 (main4).
// The backward entry points are in attention_softmax_bwd.wgsl (their own bindings).
// p.inner counts f32 (main) or vec4 (main4) columns; the host takes the vec4 entry points when
// Lq is a multiple of 4 (one bounds-checked load per 4 values on lavapipe).
// Geometry: one invocation per (b, column), 1-D over outer*inner, folded into 2-D past 65,535
// workgroups. Reference: attentionRef (packages/tensor/src/reference/attention.ts) through
// the attention op; test/attention.test.ts checks it against the composite softmax.

override WG: u32 = 64u;

struct Params { outer: u32, k: u32, inner: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> s: array<f32>;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@group(0) @binding(0) var<storage, read> s4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> w4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.outer * p.inner) { return; }
  let base = (t / p.inner) * p.k * p.inner + t % p.inner;
  var m = s[base];
  for (var j = 1u; j < p.k; j++) { m = max(m, s[base + j * p.inner]); }
  // Exponentials are stored, then rescaled: one exp per element.
  var z = 0.0;
  for (var j = 0u; j < p.k; j++) {
    let e = exp((s[base + j * p.inner] - m) * p.scale);
    w[base + j * p.inner] = e;
    z += e;
  }
  let inv = 1.0 / z;
  for (var j = 0u; j < p.k; j++) { w[base + j * p.inner] *= inv; }
}

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.outer * p.inner) { return; }
  let base = (t / p.inner) * p.k * p.inner + t % p.inner;
  var m = s4[base];
  for (var j = 1u; j < p.k; j++) { m = max(m, s4[base + j * p.inner]); }
  var z = vec4<f32>(0.0);
  for (var j = 0u; j < p.k; j++) {
    let e = exp((s4[base + j * p.inner] - m) * p.scale);
    w4[base + j * p.inner] = e;
    z += e;
  }
  let inv = 1.0 / z;
  for (var j = 0u; j < p.k; j++) { w4[base + j * p.inner] *= inv; }
}
