// subgroup_lanes.wgsl: which subgroup lane each invocation of one workgroup runs in, to check
// once per device that lanes follow local_invocation_index (the kernels that pair neighbouring
// lanes with neighbouring data, conv3x3_same.wgsl, rely on it; WebGPU does not promise it).
//
// Bindings: 0 out: array<f32> (read_write) [WG]; out[lid] = subgroup_invocation_id.
// Geometry: one workgroup.
// Reference: expectedSubgroupLanes in packages/tensor/src/gpu.ts (lane lid % size).

enable subgroups;

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sid: u32) {
  out[lid] = f32(sid);
}
