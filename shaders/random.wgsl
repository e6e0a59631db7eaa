// random.wgsl: counter-based random numbers (Philox 4x32-10), uniform in (0, 1) or normal.
//
// The output is viewed as [rows, cols]. Row r draws from stream s_r (p.stream + r, or
// streams[r] when p.explicit_streams is 1); element j of the row takes lane j % 4 of the Philox
// block with counter (p.offset + j / 4, stream s_r) under key (seed_lo, seed_hi). So seed +
// stream + offset fix every number, whatever the batch the row sits in, on any device.
// uniform: u = ((x >> 8) + 0.5) * 2^-24, in (0, 1). normal: Box-Muller on lanes (0, 1) and
// (2, 3): z = sqrt(-2 ln u0) * (cos, sin)(2 pi u1).
// Bindings: 0 out: array<f32> (read_write), 1 streams: array<u32> (read), 2 p (uniform).
// Geometry: one invocation per (row, block of 4), 1-D, folded into 2-D past 65,535 workgroups.
// Uses lib/philox.wgsl and lib/trig.wgsl (prepended by the descriptor).
// Reference: packages/tensor/src/reference/random.ts (philox4x32, randomRef).

override NORMAL: bool = false;
override WG: u32 = 64u;

struct Params {
  rows: u32, cols: u32, blocks: u32, explicit_streams: u32,
  seed_lo: u32, seed_hi: u32, stream: u32, offset: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> streams: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.rows * p.blocks) { return; }
  let r = t / p.blocks;
  let q = t % p.blocks;
  let s = select(p.stream + r, streams[r], p.explicit_streams == 1u);
  let x = philox4x32(vec4<u32>(p.offset + q, 0u, s, 0u), vec2<u32>(p.seed_lo, p.seed_hi));
  let u = philox_unit(x);
  var v: vec4<f32>;
  if (NORMAL) {
    let r0 = sqrt(-2.0 * log(u.x));
    let r1 = sqrt(-2.0 * log(u.z));
    // Angles in turns through lib/trig.wgsl: the same values on every device to ~1e-7.
    let sc0 = sincos_turns(u.y);
    let sc1 = sincos_turns(u.w);
    v = vec4<f32>(r0 * sc0.y, r0 * sc0.x, r1 * sc1.y, r1 * sc1.x);
  } else {
    v = u;
  }
  let j0 = q * 4u;
  let base = r * p.cols + j0;
  for (var l = 0u; l < 4u; l++) {
    if (j0 + l < p.cols) { out[base + l] = v[l]; }
  }
}
