// resize.wgsl: bilinear resize of NCHW planes (align_corners = false), one output per invocation.
//
// Bindings: 0 x: array<f32> (read) [planes = N*C, H, W], 1 y: array<f32> (read_write)
//   [planes, OH, OW], 2 p: Params (uniform).
// Source coordinate of output pixel d along an axis of in -> out pixels (scale = in / out):
//   MODE 0, half-pixel (PyTorch F.interpolate bilinear, align_corners=False):
//     s = max((d + 0.5) * scale - 0.5, 0)
//   MODE 1, tf1 (TensorFlow 1 resize_bilinear without half-pixel centres, EDM's FID resize):
//     s = d * scale
//   i0 = min(floor(s), in - 1), i1 = min(i0 + 1, in - 1), f = s - i0, and
//   y = (1-fy)*((1-fx)*x[i0y,i0x] + fx*x[i0y,i1x]) + fy*((1-fx)*x[i1y,i0x] + fx*x[i1y,i1x]).
//   The scales come from the host in f32 (as both frameworks compute them in float).
// Geometry: 1-D over planes*OH*OW, folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/pool.ts (resizeBilinearRef).

override MODE: u32 = 0u;
override WG: u32 = 64u;

struct Params { n: u32, h: u32, w: u32, oh: u32, ow: u32, scale_h: f32, scale_w: f32, _p0: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn source(d: u32, scale: f32) -> f32 {
  if (MODE == 0u) { return max((f32(d) + 0.5) * scale - 0.5, 0.0); }
  return f32(d) * scale;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.n) { return; }
  let ox = t % p.ow;
  let oy = (t / p.ow) % p.oh;
  let q = t / (p.ow * p.oh);
  let sy = source(oy, p.scale_h);
  let sx = source(ox, p.scale_w);
  let y0 = min(u32(floor(sy)), p.h - 1u);
  let x0 = min(u32(floor(sx)), p.w - 1u);
  let y1 = min(y0 + 1u, p.h - 1u);
  let x1 = min(x0 + 1u, p.w - 1u);
  let fy = sy - f32(y0);
  let fx = sx - f32(x0);
  let plane = q * p.h * p.w;
  let r0 = plane + y0 * p.w;
  let r1 = plane + y1 * p.w;
  let top = (1.0 - fx) * x[r0 + x0] + fx * x[r0 + x1];
  let bot = (1.0 - fx) * x[r1 + x0] + fx * x[r1 + x1];
  y[t] = (1.0 - fy) * top + fy * bot;
}
