// conv_rows_sg.wgsl: library for conv.wgsl and conv_wgrad.wgsl (placed before them): the entry
// point and rows(), which multiplies ROWS workgroup-uniform values by a lane's vec4 and adds
// them into the accumulators, using subgroups.
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

enable subgroups;

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
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  sl = sid & 7u;
  kernel_main(wid.y * nwg.x + wid.x, lid);
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
