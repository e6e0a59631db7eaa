// augment_upsample.wgsl: first resampling stage of EDM's augmentation pipeline (SPEC 7.7 steps 1-2):
// optional per-image mirror, reflect padding by the batch margins, then 2x upsampling with the
// 12-tap sym6 wavelet low-pass. One output pixel per invocation, computed straight from the source.
//
// Bindings: 0 x: array<f32> (read) [N, C, H, W], 1 flips: array<f32> (read) [N, 2] (x-flip, y-flip
//   as 0 or 1), 2 y: array<f32> (read_write) [N, C, 2*HP, 2*WP] with HP = H + top + bottom and
//   WP = W + left + right, 3 p: Params (uniform).
// Padded image (reflect, margins <= size - 1 so one reflection suffices; the mirror acts first):
//   P[i, j] = x[fy(r(i - top, H)), fx(r(j - left, W))], r(s, n) = |s| folded back past n - 1:
//   r = -s for s < 0, 2(n-1) - s for s > n-1; fx(s) = W-1-s when the image's x-flip is set.
// Upsampling along one axis (zero-interleave z[2m] = P[m], z[odd] = 0, length 2*WP - 1, then a
// convolution with h = sym6 taps, padding 6, output length 2*WP):
//   u[o] = sum_{k=0..11} h[11-k] * z[o + k - 6],   z outside [0, 2*WP - 2] is 0,
// applied to both axes: y[o_y, o_x] = sum_{ky, kx} h[11-ky] h[11-kx] z2[o_y+ky-6, o_x+kx-6].
// Only the 6 taps per axis that land on even z indices contribute (36 reads per output).
// Geometry: 1-D over N*C*(2HP)*(2WP), folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/augment.ts (augmentUpsampleRef).

override WG: u32 = 64u;

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  top: u32, left: u32, hp: u32, wp: u32,
}

const SYM6 = array<f32, 12>(
  0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
  0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
  -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
);

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> flips: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// Source index along an axis of length n for padded index s (already shifted by the margin).
fn reflect_index(s: i32, n: i32, flip: bool) -> i32 {
  var r = s;
  if (r < 0) { r = -r; }
  if (r > n - 1) { r = 2 * (n - 1) - r; }
  if (flip) { r = n - 1 - r; }
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.n) { return; }
  let ow = 2u * p.wp;
  let oh = 2u * p.hp;
  let ox = i32(t % ow);
  let oy = i32((t / ow) % oh);
  let plane = t / (ow * oh);
  let img = plane / p.c;
  let flip_x = flips[2u * img] != 0.0;
  let flip_y = flips[2u * img + 1u] != 0.0;
  let base = plane * p.h * p.w;
  let h = i32(p.h);
  let w = i32(p.w);
  var acc = 0.0;
  for (var ky = 0; ky < 12; ky++) {
    let zy = oy + ky - 6;
    // Odd rows of the interleaved signal are zeros; so are rows past the last source row.
    if (zy < 0 || (zy & 1) != 0 || zy > 2 * i32(p.hp) - 2) { continue; }
    let sy = reflect_index(zy / 2 - i32(p.top), h, flip_y);
    let row = base + u32(sy) * p.w;
    var racc = 0.0;
    for (var kx = 0; kx < 12; kx++) {
      let zx = ox + kx - 6;
      if (zx < 0 || (zx & 1) != 0 || zx > 2 * i32(p.wp) - 2) { continue; }
      let sx = reflect_index(zx / 2 - i32(p.left), w, flip_x);
      racc += SYM6[11 - kx] * x[row + u32(sx)];
    }
    acc += SYM6[11 - ky] * racc;
  }
  y[t] = acc;
}
