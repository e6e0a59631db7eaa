// Probe `load_shared_vec4` (apps/bench/src/ceiling.ts): vec4 loads from var<workgroup> memory
// (8 KiB, filled once per workgroup from the storage buffer) at lane-varying addresses, as a
// tiled kernel reads its tiles. Compare with load_vec4 to see what staging through workgroup
// memory buys on this adapter.
override WG: u32 = 64u;

const TILE: u32 = 512u; // vec4 elements in the tile (8 KiB, well under the 16 KiB limit)

struct Params {
  trips: u32, // vec4 loads per invocation, a multiple of 4
  mask: u32, // unused here: the tile index is masked with TILE - 1
  step: u32, // index stride between consecutive loads of one invocation
}

@group(0) @binding(0) var<storage, read> params: Params;
@group(0) @binding(1) var<storage, read> data: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> tile: array<vec4<f32>, TILE>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  for (var j = lid; j < TILE; j += WG) {
    tile[j] = data[j];
  }
  workgroupBarrier();
  let t = params.trips;
  let st = params.step;
  let m = TILE - 1u;
  var idx = gid.x;
  var s0 = vec4<f32>();
  var s1 = vec4<f32>();
  var s2 = vec4<f32>();
  var s3 = vec4<f32>();
  for (var i = 0u; i < t; i += 4u) {
    s0 += tile[idx & m];
    s1 += tile[(idx + st) & m];
    s2 += tile[(idx + 2u * st) & m];
    s3 += tile[(idx + 3u * st) & m];
    idx += 4u * st;
  }
  let s = (s0 + s1) + (s2 + s3);
  out[gid.x] = (s.x + s.y) + (s.z + s.w);
}
