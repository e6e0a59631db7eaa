// Probe `fma_peak` (apps/bench/src/ceiling.ts): the best multiply-add rate with operands in
// registers. 16 independent f32 accumulators (four vec4) so no update waits on the one before;
// the body is unrolled 8x so the loop's own cost (counter, branch, and lavapipe's blend of every
// loop-carried value with the execution mask) is paid once per 8 updates. The trip count comes
// from a buffer, so the loop cannot be folded away.
override WG: u32 = 64u;

struct Params {
  trips: u32, // updates per accumulator, a multiple of 8
  a: f32, // multiplier, |a| < 1 so the recurrence converges
  b: f32,
}

@group(0) @binding(0) var<storage, read> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = params.trips;
  let a = vec4<f32>(params.a);
  let b = vec4<f32>(params.b);
  // Accumulator k = 4j + c starts at k / 4 + (gid & 7) / 32: exact in f32, 8 distinct
  // invocation classes, so the CPU check needs only 8 x 16 recurrences.
  let base = f32(gid.x & 7u) * 0.03125;
  var acc0 = vec4<f32>(0.0, 0.25, 0.5, 0.75) + base;
  var acc1 = acc0 + 1.0;
  var acc2 = acc0 + 2.0;
  var acc3 = acc0 + 3.0;
  for (var i = 0u; i < t; i += 8u) {
    acc0 = fma(acc0, a, b);
    acc1 = fma(acc1, a, b);
    acc2 = fma(acc2, a, b);
    acc3 = fma(acc3, a, b);
    acc0 = fma(acc0, a, b);
    acc1 = fma(acc1, a, b);
    acc2 = fma(acc2, a, b);
    acc3 = fma(acc3, a, b);
    acc0 = fma(acc0, a, b);
    acc1 = fma(acc1, a, b);
    acc2 = fma(acc2, a, b);
    acc3 = fma(acc3, a, b);
    acc0 = fma(acc0, a, b);
    acc1 = fma(acc1, a, b);
    acc2 = fma(acc2, a, b);
    acc3 = fma(acc3, a, b);
    acc0 = fma(acc0, a, b);
    acc1 = fma(acc1, a, b);
    acc2 = fma(acc2, a, b);
    acc3 = fma(acc3, a, b);
    acc0 = fma(acc0, a, b);
    acc1 = fma(acc1, a, b);
    acc2 = fma(acc2, a, b);
    acc3 = fma(acc3, a, b);
    acc0 = fma(acc0, a, b);
    acc1 = fma(acc1, a, b);
    acc2 = fma(acc2, a, b);
    acc3 = fma(acc3, a, b);
    acc0 = fma(acc0, a, b);
    acc1 = fma(acc1, a, b);
    acc2 = fma(acc2, a, b);
    acc3 = fma(acc3, a, b);
  }
  let s = ((acc0 + acc1) + acc2) + acc3;
  out[gid.x] = ((s.x + s.y) + s.z) + s.w;
}
