// grid_sample.wgsl: per-image affine resampling with bilinear interpolation and zero padding, the
// composition F.affine_grid(theta, align_corners=False) + F.grid_sample(mode='bilinear',
// padding_mode='zeros', align_corners=False) of PyTorch (EDM augmentation, SPEC 7.7 step 3).
//
// Bindings: 0 x: array<f32> (read) [N, C, H, W], 1 a: array<f32> (read) [N, 6], 2 y: array<f32>
//   (read_write) [N, C, OH, OW], 3 p: Params (uniform).
// The host folds theta, the normalised output grid ((2o+1)/OW - 1) and the unnormalisation
// ((g + 1) * W - 1) / 2 into one pixel-space map per image, computed in float64 and rounded once:
//   sx = a0*ox + a1*oy + a2,  sy = a3*ox + a4*oy + a5   (source pixel centres at integers).
// Bilinear: x0 = floor(sx), fx = sx - x0, and likewise for y; each of the four neighbours
// contributes its weight times x[.] when inside [0, W-1] x [0, H-1], else 0 (zero padding).
// A NaN pixel inside the footprint spreads; NaN coordinates fail the bounds test but leave NaN
// weights, so the sample is NaN.
// Geometry: 1-D over N*C*OH*OW, folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/augment.ts (affineGridSampleRef).

override WG: u32 = 64u;

struct Params { n: u32, c: u32, h: u32, w: u32, oh: u32, ow: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// x[plane, iy, ix] when inside the image, else 0.
fn tap(base: u32, iy: f32, ix: f32) -> f32 {
  if (!(ix >= 0.0 && ix <= f32(p.w - 1u) && iy >= 0.0 && iy <= f32(p.h - 1u))) { return 0.0; }
  return x[base + u32(iy) * p.w + u32(ix)];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.n) { return; }
  let ox = f32(t % p.ow);
  let oy = f32((t / p.ow) % p.oh);
  let plane = t / (p.ow * p.oh);
  let m = 6u * (plane / p.c);
  let sx = a[m] * ox + a[m + 1u] * oy + a[m + 2u];
  let sy = a[m + 3u] * ox + a[m + 4u] * oy + a[m + 5u];
  let x0 = floor(sx);
  let y0 = floor(sy);
  let fx = sx - x0;
  let fy = sy - y0;
  let base = plane * p.h * p.w;
  let top = (1.0 - fx) * tap(base, y0, x0) + fx * tap(base, y0, x0 + 1.0);
  let bot = (1.0 - fx) * tap(base, y0 + 1.0, x0) + fx * tap(base, y0 + 1.0, x0 + 1.0);
  y[t] = (1.0 - fy) * top + fy * bot;
}
