// gemm_rows32.wgsl: library (placed before the kernel) with the inner loop of conv1x1.wgsl and
// conv_gemm.wgsl: ROWS (8, 16 or 32) rows of a weight matrix times one lane's column of four
// pixels, summed over cg input lines.
//
// The including kernel declares `override ROWS: u32`, `x: array<vec4<f32>>` (the input lines, a
// vec4 of four pixels per line) and `bw: array<vec4<f32>>` (weights packed K-major by
// conv_pack.wgsl: per tile of ROWS rows, line c's ROWS weights as ROWS / 4 vec4).
// accumulate(xc, x_step, wi, cg, sid): for line c < cg the lane reads x[xc + c*x_step]; lane b
//   (< ROWS / 4) of each block of 8 loads the weights of rows 4b .. 4b + 3 from bw[wi + ...]
//   and subgroupBroadcast hands them round (lavapipe only broadcasts loads at constant
//   addresses: any other load is a bounds-checked load per lane). Returns the ROWS sums (rows
//   past ROWS are zero). Four lines per loop trip, each accumulator taking its four products in
//   a row, so an accumulator spilled to the stack (32 vec4 per lane against lavapipe's 32 vector
//   registers) is loaded and stored once per four lines; lines past cg read zeros (values and
//   weights both, so that an Inf or NaN of the next tile cannot leak in).
// Needs subgroups of at least 8 and every lane of the subgroup (uniform control flow).
// Reference: through the kernels' references (conv2dRef, convTranspose2dRef).

// Four input lines' values of a quad (zeros past the last line).
struct Quads { v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32> }

// acc + k.x * q.v0 + k.y * q.v1 + k.z * q.v2 + k.w * q.v3, in line order.
fn mac4(acc: vec4<f32>, k: vec4<f32>, q: Quads) -> vec4<f32> {
  let s = fma(vec4<f32>(k.y), q.v1, fma(vec4<f32>(k.x), q.v0, acc));
  return fma(vec4<f32>(k.w), q.v3, fma(vec4<f32>(k.z), q.v2, s));
}

fn accumulate(xc0: u32, x_step: u32, wi0: u32, cg: u32, sid: u32) -> array<vec4<f32>, 32> {
  let per_c = ROWS / 4u;
  var xc = xc0;
  var wi = wi0 + (sid & 7u) % per_c;
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  var a4 = vec4<f32>(0.0);
  var a5 = vec4<f32>(0.0);
  var a6 = vec4<f32>(0.0);
  var a7 = vec4<f32>(0.0);
  var a8 = vec4<f32>(0.0);
  var a9 = vec4<f32>(0.0);
  var a10 = vec4<f32>(0.0);
  var a11 = vec4<f32>(0.0);
  var a12 = vec4<f32>(0.0);
  var a13 = vec4<f32>(0.0);
  var a14 = vec4<f32>(0.0);
  var a15 = vec4<f32>(0.0);
  var a16 = vec4<f32>(0.0);
  var a17 = vec4<f32>(0.0);
  var a18 = vec4<f32>(0.0);
  var a19 = vec4<f32>(0.0);
  var a20 = vec4<f32>(0.0);
  var a21 = vec4<f32>(0.0);
  var a22 = vec4<f32>(0.0);
  var a23 = vec4<f32>(0.0);
  var a24 = vec4<f32>(0.0);
  var a25 = vec4<f32>(0.0);
  var a26 = vec4<f32>(0.0);
  var a27 = vec4<f32>(0.0);
  var a28 = vec4<f32>(0.0);
  var a29 = vec4<f32>(0.0);
  var a30 = vec4<f32>(0.0);
  var a31 = vec4<f32>(0.0);
  for (var c = 0u; c < cg; c += 4u) {
    // Channels c .. c + 3; those past cg read zeros (values and weights both, so that an
    // Inf or NaN of the next tile cannot leak in).
    let ok1 = c + 1u < cg;
    let ok2 = c + 2u < cg;
    let ok3 = c + 3u < cg;
    let z = vec4<f32>(0.0);
    let q = Quads(x[xc], select(z, x[xc + x_step], ok1), select(z, x[xc + 2u * x_step], ok2),
      select(z, x[xc + 3u * x_step], ok3));
    let w0 = bw[wi];
    let w1 = select(z, bw[wi + per_c], ok1);
    let w2 = select(z, bw[wi + 2u * per_c], ok2);
    let w3 = select(z, bw[wi + 3u * per_c], ok3);
    // Row 4b + i of the tile is component i of lane b's vectors: k_i gathers it per channel.
    let kx = vec4<f32>(w0.x, w1.x, w2.x, w3.x);
    let ky = vec4<f32>(w0.y, w1.y, w2.y, w3.y);
    let kz = vec4<f32>(w0.z, w1.z, w2.z, w3.z);
    let kw = vec4<f32>(w0.w, w1.w, w2.w, w3.w);
    a0 = mac4(a0, subgroupBroadcast(kx, 0u), q);
    a1 = mac4(a1, subgroupBroadcast(ky, 0u), q);
    a2 = mac4(a2, subgroupBroadcast(kz, 0u), q);
    a3 = mac4(a3, subgroupBroadcast(kw, 0u), q);
    a4 = mac4(a4, subgroupBroadcast(kx, 1u), q);
    a5 = mac4(a5, subgroupBroadcast(ky, 1u), q);
    a6 = mac4(a6, subgroupBroadcast(kz, 1u), q);
    a7 = mac4(a7, subgroupBroadcast(kw, 1u), q);
    if (ROWS >= 16u) {
      a8 = mac4(a8, subgroupBroadcast(kx, 2u), q);
      a9 = mac4(a9, subgroupBroadcast(ky, 2u), q);
      a10 = mac4(a10, subgroupBroadcast(kz, 2u), q);
      a11 = mac4(a11, subgroupBroadcast(kw, 2u), q);
      a12 = mac4(a12, subgroupBroadcast(kx, 3u), q);
      a13 = mac4(a13, subgroupBroadcast(ky, 3u), q);
      a14 = mac4(a14, subgroupBroadcast(kz, 3u), q);
      a15 = mac4(a15, subgroupBroadcast(kw, 3u), q);
    }
    if (ROWS == 32u) {
      a16 = mac4(a16, subgroupBroadcast(kx, 4u), q);
      a17 = mac4(a17, subgroupBroadcast(ky, 4u), q);
      a18 = mac4(a18, subgroupBroadcast(kz, 4u), q);
      a19 = mac4(a19, subgroupBroadcast(kw, 4u), q);
      a20 = mac4(a20, subgroupBroadcast(kx, 5u), q);
      a21 = mac4(a21, subgroupBroadcast(ky, 5u), q);
      a22 = mac4(a22, subgroupBroadcast(kz, 5u), q);
      a23 = mac4(a23, subgroupBroadcast(kw, 5u), q);
      a24 = mac4(a24, subgroupBroadcast(kx, 6u), q);
      a25 = mac4(a25, subgroupBroadcast(ky, 6u), q);
      a26 = mac4(a26, subgroupBroadcast(kz, 6u), q);
      a27 = mac4(a27, subgroupBroadcast(kw, 6u), q);
      a28 = mac4(a28, subgroupBroadcast(kx, 7u), q);
      a29 = mac4(a29, subgroupBroadcast(ky, 7u), q);
      a30 = mac4(a30, subgroupBroadcast(kz, 7u), q);
      a31 = mac4(a31, subgroupBroadcast(kw, 7u), q);
    }
    xc += 4u * x_step;
    wi += 4u * per_c;
  }
  return array<vec4<f32>, 32>(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13,
    a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31);
}
