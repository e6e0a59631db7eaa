// lib/philox.wgsl: Philox 4x32-10 and its uniform mapping, shared by random.wgsl and the
// kernels that draw the same stream inline (dropout.wgsl). The random and dropout tests check
// the numbers bit for bit against randomRef.
// Reference: packages/tensor/src/reference/random.ts (philox4x32, toUnit).

// High and low 32 bits of the 64-bit product a*b, from 16-bit halves (WGSL has no u64).
fn philox_mulhilo(a: u32, b: u32) -> vec2<u32> {
  let a_lo = a & 0xffffu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xffffu;
  let b_hi = b >> 16u;
  let ll = a_lo * b_lo;
  let lh = a_lo * b_hi;
  let hl = a_hi * b_lo;
  let hh = a_hi * b_hi;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, a * b);
}

fn philox4x32(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let p0 = philox_mulhilo(0xD2511F53u, c.x);
    let p1 = philox_mulhilo(0xCD9E8D57u, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

// ((v >> 8) + 0.5) * 2^-24: uniform in (0, 1), exact in f32.
fn philox_unit(v: vec4<u32>) -> vec4<f32> {
  return (vec4<f32>(v >> vec4<u32>(8u)) + 0.5) * (1.0 / 16777216.0);
}
