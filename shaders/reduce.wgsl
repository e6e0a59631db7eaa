// reduce.wgsl: reduction of the middle axis of a contiguous [outer, K, inner] view.
//
// Bindings: 0 x: array<f32> (read) [outer, K, inner], 1 y: array<f32> (read_write)
//   [outer, chunks, inner], 2 p: Params (uniform).
// Invocation (o, c, i) reduces x[o, c*chunk_len .. min(K, (c+1)*chunk_len), i] and writes
//   y[o, c, i] * scale. Neighbouring invocations take neighbouring i, so their loads are
//   adjacent. A large K is split into chunks and reduced again by a second pass (the host
//   plans the passes), which keeps every invocation's loop short and the sums accurate.
// OP: 0 sum, 1 max, 2 min. max/min propagate NaN (as PyTorch).
// main4: the same for inner == 1 with K and chunk_len multiples of 4 (a reduction along the
//   contiguous axis): the chunk is read as vec4 (on lavapipe a lane's vec4 load costs 1.6-2
//   scalar ones) into four partial results combined at the end.
// mid4: main for inner a multiple of 4 (e.g. the chunk sums of a weight gradient): invocation
//   (o, c, i4) reduces the four adjacent columns 4*i4 .. 4*i4 + 3 as one vec4, in the same order
//   as main (so the same results), with a quarter of the loads.
// Geometry: 1-D over outer*chunks*inner, folded into 2-D past 65,535 workgroups.
// Reference: packages/tensor/src/reference/reduce.ts.

override OP: u32 = 0u;
override WG: u32 = 64u;

struct Params { outer: u32, k: u32, inner: u32, chunk_len: u32, chunks: u32, scale: f32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

// A quiet NaN; a private variable because constant expressions may not produce NaN.
var<private> nan_bits: u32 = 0x7fc00000u;

fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.outer * p.chunks * p.inner) { return; }
  let i = t % p.inner;
  let c = (t / p.inner) % p.chunks;
  let o = t / (p.inner * p.chunks);
  let k0 = c * p.chunk_len;
  let k1 = min(p.k, k0 + p.chunk_len);
  var base = (o * p.k + k0) * p.inner + i;
  var acc = x[base];
  var nan = is_nan(acc);
  for (var k = k0 + 1u; k < k1; k++) {
    base += p.inner;
    let v = x[base];
    switch OP {
      case 0u: { acc += v; }
      case 1u: { nan = nan || is_nan(v); acc = max(acc, v); }
      default: { nan = nan || is_nan(v); acc = min(acc, v); }
    }
  }
  if (OP != 0u && nan) { acc = bitcast<f32>(nan_bits); }
  y[t] = acc * p.scale;
}

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  if (t >= p.outer * p.chunks) { return; }
  let c = t % p.chunks;
  let o = t / p.chunks;
  let k0 = c * p.chunk_len;
  let k1 = min(p.k, k0 + p.chunk_len);
  var i = (o * p.k + k0) / 4u;
  let end = (o * p.k + k1) / 4u;
  var acc = x4[i];
  var nan = any(is_nan4(acc));
  for (i++; i < end; i++) {
    let v = x4[i];
    switch OP {
      case 0u: { acc += v; }
      case 1u: { nan = nan || any(is_nan4(v)); acc = max(acc, v); }
      default: { nan = nan || any(is_nan4(v)); acc = min(acc, v); }
    }
  }
  var r: f32;
  switch OP {
    case 0u: { r = (acc.x + acc.y) + (acc.z + acc.w); }
    case 1u: { r = max(max(acc.x, acc.y), max(acc.z, acc.w)); }
    default: { r = min(min(acc.x, acc.y), min(acc.z, acc.w)); }
  }
  if (OP != 0u && nan) { r = bitcast<f32>(nan_bits); }
  y[t] = r * p.scale;
}

fn is_nan4(v: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}

@compute @workgroup_size(WG)
fn mid4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * WG + lid;
  let inner4 = p.inner / 4u;
  if (t >= p.outer * p.chunks * inner4) { return; }
  let i4 = t % inner4;
  let c = (t / inner4) % p.chunks;
  let o = t / (inner4 * p.chunks);
  let k0 = c * p.chunk_len;
  let k1 = min(p.k, k0 + p.chunk_len);
  var base = (o * p.k + k0) * inner4 + i4;
  var acc = x4[base];
  var nan = is_nan4(acc);
  for (var k = k0 + 1u; k < k1; k++) {
    base += inner4;
    let v = x4[base];
    switch OP {
      case 0u: { acc += v; }
      case 1u: { nan = nan | is_nan4(v); acc = max(acc, v); }
      default: { nan = nan | is_nan4(v); acc = min(acc, v); }
    }
  }
  if (OP != 0u) { acc = select(acc, vec4<f32>(bitcast<f32>(nan_bits)), nan); }
  y4[t] = acc * p.scale;
}
