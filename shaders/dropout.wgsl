// dropout.wgsl: y = x * (u > threshold ? scale : 0) with u the uniforms of rand (random.wgsl)
// for the same seed, stream and offset, drawn inline: one pass instead of rand + compare +
// mul + scale. The product (not a select) keeps torch's NaN * 0 = NaN for dropped NaN/Inf.
// The backward is this kernel applied to the gradient (same mask and scale).
// Element j (of the flattened tensor) takes lane j % 4 of the Philox block with counter
// (p.offset + j / 4, 0, p.stream, 0) and key (seed_lo, seed_hi), as rand without perRow.
// Bindings: 0 x: array<f32> (read) [n], 1 y: array<f32> (read_write) [n], 2 p (uniform);
//   main4 sees x and y as vec4 (n a multiple of 4).
// Geometry: one invocation per block of 4 elements, 1-D over p.blocks, folded into 2-D past
// 65,535 workgroups. Uses lib/philox.wgsl (prepended by the descriptor).
// Reference: packages/tensor/src/reference/attention.ts (dropoutRef, from randomRef).

override WG: u32 = 64u;

struct Params {
  n: u32, blocks: u32, seed_lo: u32, seed_hi: u32,
  stream: u32, offset: u32, threshold: f32, scale: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<f32>>;

fn factors(q: u32) -> vec4<f32> {
  let u = philox_unit(philox4x32(vec4<u32>(p.offset + q, 0u, p.stream, 0u),
                                 vec2<u32>(p.seed_lo, p.seed_hi)));
  return select(vec4<f32>(0.0), vec4<f32>(p.scale), u > vec4<f32>(p.threshold));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let q = (wid.y * nwg.x + wid.x) * WG + lid;
  if (q >= p.blocks) { return; }
  let f = factors(q);
  let j0 = q * 4u;
  for (var l = 0u; l < 4u; l++) {
    if (j0 + l < p.n) { y[j0 + l] = x[j0 + l] * f[l]; }
  }
}

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let q = (wid.y * nwg.x + wid.x) * WG + lid;
  if (q >= p.blocks) { return; }
  y4[q] = x4[q] * factors(q);
}
