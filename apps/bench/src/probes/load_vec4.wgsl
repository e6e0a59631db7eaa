// Probe `load_vec4` (apps/bench/src/ceiling.ts): load_f32 with array<vec4<f32>>, one 16-byte
// load per element, to show how much wider loads gain per float. Same 256 KiB buffer.
override WG: u32 = 64u;

struct Params {
  trips: u32, // vec4 loads per invocation, a multiple of 4
  mask: u32, // vec4 elements - 1 (a power of two)
  step: u32, // index stride between consecutive loads of one invocation
}

@group(0) @binding(0) var<storage, read> params: Params;
@group(0) @binding(1) var<storage, read> data: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = params.trips;
  let m = params.mask;
  let st = params.step;
  var idx = gid.x;
  var s0 = vec4<f32>();
  var s1 = vec4<f32>();
  var s2 = vec4<f32>();
  var s3 = vec4<f32>();
  for (var i = 0u; i < t; i += 4u) {
    s0 += data[idx & m];
    s1 += data[(idx + st) & m];
    s2 += data[(idx + 2u * st) & m];
    s3 += data[(idx + 3u * st) & m];
    idx += 4u * st;
  }
  let s = (s0 + s1) + (s2 + s3);
  out[gid.x] = (s.x + s.y) + (s.z + s.w);
}
