// groupnorm_coef.wgsl: the small middle step of GroupNorm's backward (groupnorm_bwd.wgsl), from
// the per-plane sums s1 = sum_hw dz and s2 = sum_hw dz * xhat ([N, C] each) to
//   ab[0, n*G + g] = (1/k) sum_{c in g} w[c] s1[n, c],  ab[1, n*G + g] = likewise with s2,
//   db[c] = sum_n s1[n, c],  dw[c] = sum_n s2[n, c]
// (k = C/G * H*W). One dispatch: invocations 0 .. N*G - 1 own a group row, the next C own a
// channel. It replaces a dozen tiny reductions, multiplies and copies per GroupNorm.
//
// Bindings: 0 s1 [N*C], 1 s2 [N*C], 2 w [C] (read); 3 ab [2, N*G], 4 db [C], 5 dw [C]
//   (read_write); 6 p (uniform).
// Geometry: 1-D over N*G + C invocations, folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/norm.ts (groupNormCoefRef).

override WG: u32 = 64u;

struct Params { n: u32, c: u32, g: u32, cg: u32, inv_k: f32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> s1: array<f32>;
@group(0) @binding(1) var<storage, read> s2: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> ab: array<f32>;
@group(0) @binding(4) var<storage, read_write> db: array<f32>;
@group(0) @binding(5) var<storage, read_write> dw: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  let rows = p.n * p.g;
  if (t < rows) {
    let n = t / p.g;
    let c0 = (t % p.g) * p.cg;
    var a = 0.0;
    var b = 0.0;
    for (var j = 0u; j < p.cg; j++) {
      let wc = w[c0 + j];
      a += wc * s1[n * p.c + c0 + j];
      b += wc * s2[n * p.c + c0 + j];
    }
    ab[t] = a * p.inv_k;
    ab[rows + t] = b * p.inv_k;
    return;
  }
  let c = t - rows;
  if (c >= p.c) { return; }
  var sb = 0.0;
  var sw = 0.0;
  for (var n = 0u; n < p.n; n++) {
    sb += s1[n * p.c + c];
    sw += s2[n * p.c + c];
  }
  db[c] = sb;
  dw[c] = sw;
}
