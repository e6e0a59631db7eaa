// conv_rows_plain.wgsl: library for conv.wgsl and conv_wgrad.wgsl (placed before them) on
// devices without subgroups of at least 8: the entry point and rows() with plain loads.
//
// rows(v, i, stride): acc_r += bw[i + r*stride] * v for r < ROWS; every lane loads all ROWS
//   values itself (same results as conv_rows_sg.wgsl, more loads on SIMD rasterizers).
// Reference: the kernels' references (packages/tensor/src/reference/conv.ts).

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
        @builtin(local_invocation_index) lid: u32) {
  kernel_main(wid.y * nwg.x + wid.x, lid);
}

fn rows(v: vec4<f32>, i: u32, stride: u32) {
  acc0 = fma(vec4<f32>(bw[i]), v, acc0);
  if (ROWS >= 4u) {
    acc1 = fma(vec4<f32>(bw[i + stride]), v, acc1);
    acc2 = fma(vec4<f32>(bw[i + 2u * stride]), v, acc2);
    acc3 = fma(vec4<f32>(bw[i + 3u * stride]), v, acc3);
  }
  if (ROWS >= 8u) {
    acc4 = fma(vec4<f32>(bw[i + 4u * stride]), v, acc4);
    acc5 = fma(vec4<f32>(bw[i + 5u * stride]), v, acc5);
    acc6 = fma(vec4<f32>(bw[i + 6u * stride]), v, acc6);
    acc7 = fma(vec4<f32>(bw[i + 7u * stride]), v, acc7);
  }
  if (ROWS >= 16u) {
    acc8 = fma(vec4<f32>(bw[i + 8u * stride]), v, acc8);
    acc9 = fma(vec4<f32>(bw[i + 9u * stride]), v, acc9);
    acc10 = fma(vec4<f32>(bw[i + 10u * stride]), v, acc10);
    acc11 = fma(vec4<f32>(bw[i + 11u * stride]), v, acc11);
    acc12 = fma(vec4<f32>(bw[i + 12u * stride]), v, acc12);
    acc13 = fma(vec4<f32>(bw[i + 13u * stride]), v, acc13);
    acc14 = fma(vec4<f32>(bw[i + 14u * stride]), v, acc14);
    acc15 = fma(vec4<f32>(bw[i + 15u * stride]), v, acc15);
  }
}
