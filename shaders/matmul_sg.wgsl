// matmul_sg.wgsl: matmul.wgsl with A's rows shared through subgroup broadcasts.
//
// Same bindings, parameters and reference as matmul.wgsl, plus 3 work: array<atomic<u32>>
// (read_write), the dispatch's counter at p.slot (the uniform moves to binding 4). The 16 A
// values an item needs per k are the same for every lane, but SIMD rasterizers (lavapipe) only
// broadcast loads at constant addresses: any other load is a bounds-checked scalar load per
// lane. Here lane l of each group of 8 loads rows l and l + 8, and subgroupBroadcast (a
// register shuffle) hands every row to every lane: 2 loads per lane per k instead of 16.
// Work items: 16 rows of C by a subgroup's worth of vec4 columns (min(subgroup size, WG)), taken
// from a counter until none is left (lib/work_items.wgsl: lavapipe gives each thread a fixed
// share of the workgroups). Needs subgroups of at least 8 invocations (the host checks;
// matmul.wgsl otherwise). Subgroup operations need every lane, so lanes past the last column
// compute a duplicate column and skip the store instead of returning.

// (enable subgroups: in lib/work_items.wgsl, placed before this file.)

override WG: u32 = 64u;

struct Params {
  m: u32, n4: u32, k: u32, tiles_m: u32,
  col_groups: u32, batches: u32, a_batch: u32, b_batch4: u32,
  c_batch4: u32, a_row: u32, a_col: u32, b_row4: u32,
  a_off: u32, b_off4: u32, slot: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> work: array<atomic<u32>>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) sgs: u32) {
  let width = min(sgs, WG); // lanes of a subgroup (fewer than its size if WG is smaller)
  let col_blocks = (p.n4 + width - 1u) / width;
  let per_batch = p.tiles_m * col_blocks;
  let items = p.batches * per_batch;
  loop {
    let item = next_item(p.slot, sid);
    if (item >= items) { break; }
    let r = item % per_batch;
    block(item / per_batch, (r / col_blocks) * 16u, (r % col_blocks) * width + sid, sid);
  }
}

// One work item: rows m0 .. m0 + 15 of batch bt of C, this lane's vec4 column v.
fn block(bt: u32, m0: u32, v: u32, sid: u32) {
  let live = v < p.n4;
  let vc = min(v, p.n4 - 1u);
  var c0 = vec4<f32>(0.0);
  var c1 = vec4<f32>(0.0);
  var c2 = vec4<f32>(0.0);
  var c3 = vec4<f32>(0.0);
  var c4 = vec4<f32>(0.0);
  var c5 = vec4<f32>(0.0);
  var c6 = vec4<f32>(0.0);
  var c7 = vec4<f32>(0.0);
  var c8 = vec4<f32>(0.0);
  var c9 = vec4<f32>(0.0);
  var c10 = vec4<f32>(0.0);
  var c11 = vec4<f32>(0.0);
  var c12 = vec4<f32>(0.0);
  var c13 = vec4<f32>(0.0);
  var c14 = vec4<f32>(0.0);
  var c15 = vec4<f32>(0.0);
  // Rows past M read row M - 1 and are dropped at the store.
  let last = (min(16u, p.m - m0) - 1u) * p.a_row;
  let lane = sid & 7u;
  var ia0 = p.a_off + bt * p.a_batch + m0 * p.a_row + min(lane * p.a_row, last);
  var ia1 = p.a_off + bt * p.a_batch + m0 * p.a_row + min((lane + 8u) * p.a_row, last);
  var ib = p.b_off4 + bt * p.b_batch4 + vc;
  for (var k = 0u; k < p.k; k++) {
    let ra = a[ia0];
    let rb = a[ia1];
    let bv = b[ib];
    c0 = fma(vec4<f32>(subgroupBroadcast(ra, 0u)), bv, c0);
    c1 = fma(vec4<f32>(subgroupBroadcast(ra, 1u)), bv, c1);
    c2 = fma(vec4<f32>(subgroupBroadcast(ra, 2u)), bv, c2);
    c3 = fma(vec4<f32>(subgroupBroadcast(ra, 3u)), bv, c3);
    c4 = fma(vec4<f32>(subgroupBroadcast(ra, 4u)), bv, c4);
    c5 = fma(vec4<f32>(subgroupBroadcast(ra, 5u)), bv, c5);
    c6 = fma(vec4<f32>(subgroupBroadcast(ra, 6u)), bv, c6);
    c7 = fma(vec4<f32>(subgroupBroadcast(ra, 7u)), bv, c7);
    c8 = fma(vec4<f32>(subgroupBroadcast(rb, 0u)), bv, c8);
    c9 = fma(vec4<f32>(subgroupBroadcast(rb, 1u)), bv, c9);
    c10 = fma(vec4<f32>(subgroupBroadcast(rb, 2u)), bv, c10);
    c11 = fma(vec4<f32>(subgroupBroadcast(rb, 3u)), bv, c11);
    c12 = fma(vec4<f32>(subgroupBroadcast(rb, 4u)), bv, c12);
    c13 = fma(vec4<f32>(subgroupBroadcast(rb, 5u)), bv, c13);
    c14 = fma(vec4<f32>(subgroupBroadcast(rb, 6u)), bv, c14);
    c15 = fma(vec4<f32>(subgroupBroadcast(rb, 7u)), bv, c15);
    ia0 += p.a_col;
    ia1 += p.a_col;
    ib += p.b_row4;
  }
  let ic = bt * p.c_batch4 + m0 * p.n4 + vc;
  if (live && m0 + 0u < p.m) { c[ic + 0u * p.n4] = c0; }
  if (live && m0 + 1u < p.m) { c[ic + 1u * p.n4] = c1; }
  if (live && m0 + 2u < p.m) { c[ic + 2u * p.n4] = c2; }
  if (live && m0 + 3u < p.m) { c[ic + 3u * p.n4] = c3; }
  if (live && m0 + 4u < p.m) { c[ic + 4u * p.n4] = c4; }
  if (live && m0 + 5u < p.m) { c[ic + 5u * p.n4] = c5; }
  if (live && m0 + 6u < p.m) { c[ic + 6u * p.n4] = c6; }
  if (live && m0 + 7u < p.m) { c[ic + 7u * p.n4] = c7; }
  if (live && m0 + 8u < p.m) { c[ic + 8u * p.n4] = c8; }
  if (live && m0 + 9u < p.m) { c[ic + 9u * p.n4] = c9; }
  if (live && m0 + 10u < p.m) { c[ic + 10u * p.n4] = c10; }
  if (live && m0 + 11u < p.m) { c[ic + 11u * p.n4] = c11; }
  if (live && m0 + 12u < p.m) { c[ic + 12u * p.n4] = c12; }
  if (live && m0 + 13u < p.m) { c[ic + 13u * p.n4] = c13; }
  if (live && m0 + 14u < p.m) { c[ic + 14u * p.n4] = c14; }
  if (live && m0 + 15u < p.m) { c[ic + 15u * p.n4] = c15; }
}
