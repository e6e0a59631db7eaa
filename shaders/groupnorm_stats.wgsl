// groupnorm_stats.wgsl: per-(image, group) mean and 1/sqrt(var + eps) for GroupNorm, in two
// dispatches that keep every invocation's loop short and the variance free of cancellation.
//
// Rows: x [N, C, H, W] seen as [rows = N*G, k = C/G*H*W]; a group's values are contiguous.
// partial / partial4: invocation t = row*chunks + c takes the values [c*chunk_len,
//   min(k, (c+1)*chunk_len)) of its row, computes their mean m and M2 = sum (v - m)^2 and
//   writes out[2t] = m, out[2t+1] = M2. One pass over the chunk (each value loaded once) with
//   sums of d = v - s shifted by the chunk's first value s: M2 = sum d^2 - (sum d)^2 / n
//   cancels only when |mean - s| >> std, which a sample of the data itself makes unlikely
//   (the "shifted data" variance algorithm). partial4 reads x as vec4 (k and chunk_len multiples of 4; p.k and
//   p.chunk_len then count vec4) - one per-lane load instead of four on CPU rasterizers.
//   Bindings: 0 x (read), 1 out: [rows, chunks, 2] (read_write), 2 p (uniform).
// merge: invocation per row merges its chunks with Chan et al.'s pairwise update
//   (delta = mb - ma, n = na + nb, m = ma + delta*nb/n, M2 = M2a + M2b + delta^2*na*nb/n) and
//   writes out[2*row] = mean, out[2*row+1] = inverseSqrt(M2/k + eps) (biased variance, as
//   torch.nn.functional.group_norm). Bindings: 0 partials (read), 1 stats [rows, 2], 2 p.
// Geometry: 1-D, folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/norm.ts (groupNormRef).

override WG: u32 = 64u;

struct Params { rows: u32, k: u32, chunk_len: u32, chunks: u32, eps: f32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.rows * p.chunks) { return; }
  let row = t / p.chunks;
  let c = t % p.chunks;
  let a = row * p.k + c * p.chunk_len;
  let b = row * p.k + min(p.k, (c + 1u) * p.chunk_len);
  let shift = x[a];
  var s = 0.0;
  var q = 0.0;
  for (var i = a; i < b; i++) { let d = x[i] - shift; s += d; q += d * d; }
  let n = f32(b - a);
  out[2u * t] = shift + s / n;
  out[2u * t + 1u] = max(q - s * s / n, 0.0);
}

// p.k and p.chunk_len count vec4 here; four running sums, one per component.
@compute @workgroup_size(WG)
fn partial4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.rows * p.chunks) { return; }
  let row = t / p.chunks;
  let c = t % p.chunks;
  let a = row * p.k + c * p.chunk_len;
  let b = row * p.k + min(p.k, (c + 1u) * p.chunk_len);
  let shift = x4[a].x;
  var s = vec4<f32>(0.0);
  var q = vec4<f32>(0.0);
  for (var i = a; i < b; i++) { let d = x4[i] - shift; s += d; q += d * d; }
  let n = f32(4u * (b - a));
  let st = s.x + s.y + s.z + s.w;
  out[2u * t] = shift + st / n;
  out[2u * t + 1u] = max(q.x + q.y + q.z + q.w - st * st / n, 0.0);
}

// Here p.k and p.chunk_len count elements (chunk sizes are needed for the merge weights).
@compute @workgroup_size(WG)
fn merge(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * WG + lid;
  if (row >= p.rows) { return; }
  let base = 2u * row * p.chunks;
  var n = f32(min(p.k, p.chunk_len));
  var m = x[base];
  var m2 = x[base + 1u];
  for (var c = 1u; c < p.chunks; c++) {
    let nb = f32(min(p.k, (c + 1u) * p.chunk_len) - c * p.chunk_len);
    let mb = x[base + 2u * c];
    let m2b = x[base + 2u * c + 1u];
    let tot = n + nb;
    let delta = mb - m;
    m += delta * (nb / tot);
    m2 += m2b + delta * delta * (n * nb / tot);
    n = tot;
  }
  out[2u * row] = m;
  out[2u * row + 1u] = inverseSqrt(m2 / f32(p.k) + p.eps);
}
