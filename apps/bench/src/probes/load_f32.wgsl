// Probe `load_f32` (apps/bench/src/ceiling.ts): per-lane f32 loads from a read-only storage
// buffer at lane-varying addresses computed at run time (lavapipe gathers them), as a kernel
// reading one element per invocation does. The buffer is 256 KiB, so this measures the load
// instructions, not DRAM. Four sums so the adds do not serialize; the sums are written out so
// the loads are not dead.
override WG: u32 = 64u;

struct Params {
  trips: u32, // loads per invocation, a multiple of 4
  mask: u32, // elements - 1 (a power of two)
  step: u32, // index stride between consecutive loads of one invocation
}

@group(0) @binding(0) var<storage, read> params: Params;
@group(0) @binding(1) var<storage, read> data: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = params.trips;
  let m = params.mask;
  let st = params.step;
  var idx = gid.x;
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  for (var i = 0u; i < t; i += 4u) {
    s0 += data[idx & m];
    s1 += data[(idx + st) & m];
    s2 += data[(idx + 2u * st) & m];
    s3 += data[(idx + 3u * st) & m];
    idx += 4u * st;
  }
  out[gid.x] = (s0 + s1) + (s2 + s3);
}
