// conv_rows_sg.wgsl: library for conv.wgsl and conv_wgrad.wgsl (placed before them, after
// lib/work_items.wgsl): the entry point and rows(), which multiplies ROWS workgroup-uniform
// values by a lane's vec4 and adds them into the accumulators, using subgroups.
//
// The entry point runs the kernel's kernel_main(wgi, lid) for the invocations of a virtual
// grid of p.wgs workgroups of WG, a subgroup's worth (min(subgroup size, WG), which divides WG)
// at a time, taking these items from the dispatch's counter p.slot until none is left
// (lib/work_items.wgsl: lavapipe gives each thread a fixed share of the real workgroups). The
// lanes of an item share one virtual workgroup, and lane l is its invocation
// (item % (WG / width)) * width + l, so blocks of 8 lanes are as in a real workgroup.
//
// rows(v, i, stride): acc_r += bw[i + r*stride] * v for r < ROWS. The ROWS values are the same
//   for every lane, but SIMD rasterizers (lavapipe) only broadcast loads at constant addresses:
//   any other load costs a bounds-checked scalar load per lane. So lane l of each group of 8
//   loads row l (and l + 8 when ROWS = 16), and subgroupBroadcast (a register shuffle) hands
//   every row to every lane: 1 or 2 loads per lane instead of ROWS.
// Needs subgroups of at least 8 invocations, numbered so that lanes 0..7 hold rows 0..7; the
//   host picks conv_rows_plain.wgsl otherwise. All invocations must reach rows() together
//   (uniform control flow): kernels clamp, rather than return, lanes past their work.
// Reference: the kernels' references (packages/tensor/src/reference/conv.ts).

// (enable subgroups: in lib/work_items.wgsl, placed before this file.)

var<private> sl: u32;
var<private> acc0: vec4<f32>;
var<private> acc1: vec4<f32>;
var<private> acc2: vec4<f32>;
var<private> acc3: vec4<f32>;
var<private> acc4: vec4<f32>;
var<private> acc5: vec4<f32>;
var<private> acc6: vec4<f32>;
var<private> acc7: vec4<f32>;
var<private> acc8: vec4<f32>;
var<private> acc9: vec4<f32>;
var<private> acc10: vec4<f32>;
var<private> acc11: vec4<f32>;
var<private> acc12: vec4<f32>;
var<private> acc13: vec4<f32>;
var<private> acc14: vec4<f32>;
var<private> acc15: vec4<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) sgs: u32) {
  sl = sid & 7u;
  let width = min(sgs, WG);
  let per_wg = WG / width;
  let items = p.wgs * per_wg;
  loop {
    let item = next_item(p.slot, sid);
    if (item >= items) { break; }
    acc0 = vec4<f32>(); acc1 = vec4<f32>(); acc2 = vec4<f32>(); acc3 = vec4<f32>();
    acc4 = vec4<f32>(); acc5 = vec4<f32>(); acc6 = vec4<f32>(); acc7 = vec4<f32>();
    acc8 = vec4<f32>(); acc9 = vec4<f32>(); acc10 = vec4<f32>(); acc11 = vec4<f32>();
    acc12 = vec4<f32>(); acc13 = vec4<f32>(); acc14 = vec4<f32>(); acc15 = vec4<f32>();
    kernel_main(item / per_wg, (item % per_wg) * width + sid);
  }
}

fn rows(v: vec4<f32>, i: u32, stride: u32) {
  if (ROWS == 1u) {
    acc0 = fma(vec4<f32>(bw[i]), v, acc0);
    return;
  }
  let ra = bw[i + (sl % ROWS) * stride];
  acc0 = fma(vec4<f32>(subgroupBroadcast(ra, 0u)), v, acc0);
  acc1 = fma(vec4<f32>(subgroupBroadcast(ra, 1u)), v, acc1);
  acc2 = fma(vec4<f32>(subgroupBroadcast(ra, 2u)), v, acc2);
  acc3 = fma(vec4<f32>(subgroupBroadcast(ra, 3u)), v, acc3);
  if (ROWS >= 8u) {
    acc4 = fma(vec4<f32>(subgroupBroadcast(ra, 4u)), v, acc4);
    acc5 = fma(vec4<f32>(subgroupBroadcast(ra, 5u)), v, acc5);
    acc6 = fma(vec4<f32>(subgroupBroadcast(ra, 6u)), v, acc6);
    acc7 = fma(vec4<f32>(subgroupBroadcast(ra, 7u)), v, acc7);
  }
  if (ROWS >= 16u) {
    let rb = bw[i + (sl + 8u) * stride];
    acc8 = fma(vec4<f32>(subgroupBroadcast(rb, 0u)), v, acc8);
    acc9 = fma(vec4<f32>(subgroupBroadcast(rb, 1u)), v, acc9);
    acc10 = fma(vec4<f32>(subgroupBroadcast(rb, 2u)), v, acc10);
    acc11 = fma(vec4<f32>(subgroupBroadcast(rb, 3u)), v, acc11);
    acc12 = fma(vec4<f32>(subgroupBroadcast(rb, 4u)), v, acc12);
    acc13 = fma(vec4<f32>(subgroupBroadcast(rb, 5u)), v, acc13);
    acc14 = fma(vec4<f32>(subgroupBroadcast(rb, 6u)), v, acc14);
    acc15 = fma(vec4<f32>(subgroupBroadcast(rb, 7u)), v, acc15);
  }
}
