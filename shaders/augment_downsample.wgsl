// augment_downsample.wgsl: last resampling stage of EDM's augmentation pipeline (SPEC 7.7 step 4):
// 2x downsampling with the 12-tap sym6 wavelet low-pass (correlation order, stride 2, padding 5)
// and a 3-pixel crop on every side, one output pixel per invocation.
//
// Bindings: 0 x: array<f32> (read) [N, C, IH, IW] (IH, IW even, >= 14), 1 y: array<f32>
//   (read_write) [N, C, OH, OW] with OH = IH/2 - 6, OW = IW/2 - 6, 2 p: Params (uniform).
// Along one axis, stride-2 correlation with padding 5 gives d[j] = sum_k h[k] * x[2j + k - 5]
// for j in [0, IW/2 - 1); the crop keeps j = o + 3, so
//   y[o] = sum_{k=0..11} h[k] * x[2o + 1 + k],
// whose indices stay inside [1, IW - 2] (no padding is read after the crop). Both axes:
//   y[oy, ox] = sum_{ky, kx} h[ky] h[kx] x[2oy + 1 + ky, 2ox + 1 + kx]   (144 reads).
// Geometry: 1-D over N*C*OH*OW, folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/augment.ts (augmentDownsampleRef).

override WG: u32 = 64u;

struct Params { n: u32, ih: u32, iw: u32, oh: u32, ow: u32, _p0: u32, _p1: u32, _p2: u32 }

const SYM6 = array<f32, 12>(
  0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
  0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
  -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
);

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.n) { return; }
  let ox = t % p.ow;
  let oy = (t / p.ow) % p.oh;
  let plane = t / (p.ow * p.oh);
  let base = plane * p.ih * p.iw + (2u * oy + 1u) * p.iw + 2u * ox + 1u;
  var acc = 0.0;
  for (var ky = 0u; ky < 12u; ky++) {
    let row = base + ky * p.iw;
    var racc = 0.0;
    for (var kx = 0u; kx < 12u; kx++) {
      racc += SYM6[kx] * x[row + kx];
    }
    acc += SYM6[ky] * racc;
  }
  y[t] = acc;
}
