// conv.wgsl: 2-D cross-correlation as an implicit GEMM, the forward kernel behind conv2d,
// convTranspose2d (one dispatch per output phase) and both input gradients.
// Needs a library in front: conv_rows_sg.wgsl (subgroups) or conv_rows_plain.wgsl, which
// holds the entry point, the accumulators acc0..acc15 and rows().
//
// Bindings: 0 x: array<f32> (read) [N, c_total, hp, wp], the zero-padded input;
//   1 bw: array<f32> (read) [groups, m_tiles, cg*kh*kw, ROWS], weights packed by
//   conv_pack.wgsl (K-major per tile of ROWS output channels; channels past mg are zeros);
//   2 bias: array<f32> (read) [y_c] (read only if has_bias); 3 y: array<f32> (read_write)
//   [N, y_c, y_h, y_w]; 4 work: array<atomic<u32>> (read_write), the dispatch's counter at
//   p.slot (used by conv_rows_sg.wgsl's entry point); 5 p: Params (uniform).
// For output pixel (oy, ox) < (oh, ow) of image n and channel m < mg of group g:
//   y[n, g*mg + m, oy*osy + py, ox*osx + px] = bias + sum_{c < cg, i < kh, j < kw}
//     w[g, m, c, i, j] * x[n, g*cg + c, oy*sh + i + row_off, ox*sw + j + col_off]
//   (y_off = py*y_w + px, x_off = row_off*wp + col_off). Output phases (osy, osx > 1) are how
//   a strided transposed conv runs without multiplying inserted zeros.
// Work split: a workgroup owns ROWS output channels of one group (their weights are the same
//   for all lanes: rows() in the library hands them out) and WG quads of 4 horizontally
//   adjacent output pixels; an invocation accumulates ROWS x 4 outputs in vec4 registers. No
//   shared memory, no barriers, no division in the K loop: c, i, j advance running offsets.
//   On lavapipe every load whose address is not a constant is a bounds-checked scalar load per
//   lane, and its cost grows with the number of values loaded, so the kernel minimises values
//   loaded per multiply-add: with SLIDE (sw == 1) the 4 + kw - 1 inputs of one kernel row are
//   loaded once and shifted through a vec4 window (a 3-wide row: 6 values, not 12), and with
//   subgroups each lane loads 2 of a tap's 16 weights. KFIX = 3 (1) unrolls a 3x3 (1x1)
//   kernel, so that each accumulator is updated as one chain per input channel instead of
//   being stored back after every tap (1.8x faster at 3x3, 2.5x at 1x1). Unrolled variants take
//   seconds to compile on lavapipe: the host uses KFIX = 3 with ROWS = 8 and KFIX = 1 with
//   ROWS = 16 (see planTiles in packages/tensor/src/ops/conv.ts).
//   Lanes past the last quad compute a copy of it and store nothing (subgroup operations need
//   every lane). Reads for pixels past ow (the last quad of a row) may land anywhere in x; they
//   only feed accumulators that are never stored.
// Geometry: workgroups (wgs of them) = groups * m_tiles * lane_groups, folded into 2-D past
//   65,535; with subgroups, a virtual grid of that size (conv_rows_sg.wgsl).
// Reference: packages/tensor/src/reference/conv.ts (conv2dRef, convTranspose2dRef).

override WG: u32 = 64u;
// Output channels per workgroup: 1, 4, 8 or 16.
override ROWS: u32 = 16u;
// 1 when the input column stride is 1 (sliding window over a kernel row).
override SLIDE: u32 = 1u;
// 0: kernel size from the uniforms; n > 0: an n x n kernel known when compiling (unrolled).
override KFIX: u32 = 0u;

struct Params {
  quads: u32, q: u32, oh: u32, ow: u32,
  c_total: u32, hp: u32, wp: u32, cg: u32,
  mg: u32, m_tiles: u32, lane_groups: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, x_off: u32,
  y_c: u32, y_h: u32, y_w: u32, osy: u32,
  osx: u32, y_off: u32, has_bias: u32, tiles: u32,
  wgs: u32, slot: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> bw: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> work: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> p: Params;

// Writes row r of the tile (channel m0 + r) for the quad starting at output column ox0.
fn store(r: u32, a: vec4<f32>, g: u32, m0: u32, n: u32, oy: u32, ox0: u32) {
  let m = m0 + r;
  if (m >= p.mg) { return; }
  let co = g * p.mg + m;
  var b = 0.0;
  if (p.has_bias != 0u) { b = bias[co]; }
  let base = ((n * p.y_c + co) * p.y_h + oy * p.osy) * p.y_w + p.y_off;
  for (var j = 0u; j < 4u; j++) {
    let ox = ox0 + j;
    if (ox < p.ow) { y[base + ox * p.osx] = a[j] + b; }
  }
}

// The taps of one kernel row starting at x[xr], weights from bw[wi] on (ROWS apart).
fn kernel_row(xr: u32, wi: u32, kw: u32) {
  if (SLIDE == 1u) {
    var v = vec4<f32>(x[xr], x[xr + 1u], x[xr + 2u], x[xr + 3u]);
    rows(v, wi, 1u);
    for (var j = 1u; j < kw; j++) {
      v = vec4<f32>(v.yzw, x[xr + j + 3u]);
      rows(v, wi + j * ROWS, 1u);
    }
  } else {
    let sw = p.sw;
    for (var j = 0u; j < kw; j++) {
      let xj = xr + j;
      let v = vec4<f32>(x[xj], x[xj + sw], x[xj + 2u * sw], x[xj + 3u * sw]);
      rows(v, wi + j * ROWS, 1u);
    }
  }
}

fn kernel_main(wgi: u32, lid: u32) {
  let tg = wgi / p.lane_groups; // g * m_tiles + tile
  if (tg >= p.tiles) { return; } // whole workgroups of the folded padding
  let u0 = (wgi % p.lane_groups) * WG + lid; // this invocation's quad
  let u = min(u0, p.quads - 1u);
  let g = tg / p.m_tiles;
  let m0 = (tg % p.m_tiles) * ROWS;
  let q = u % p.q;
  let row = u / p.q;
  let oy = row % p.oh;
  let n = row / p.oh;
  let ox0 = q * 4u;
  var kh = p.kh;
  var kw = p.kw;
  if (KFIX != 0u) {
    kh = KFIX;
    kw = KFIX;
  }
  let plane = p.hp * p.wp;
  var xc = (n * p.c_total + g * p.cg) * plane + oy * p.sh * p.wp + ox0 * p.sw + p.x_off;
  let row_w = kw * ROWS;
  var wi = tg * p.cg * kh * row_w;
  for (var c = 0u; c < p.cg; c++) {
    if (KFIX == 3u) {
      kernel_row(xc, wi, 3u);
      kernel_row(xc + p.wp, wi + row_w, 3u);
      kernel_row(xc + 2u * p.wp, wi + 2u * row_w, 3u);
      wi += 3u * row_w;
    } else {
      var xr = xc;
      for (var i = 0u; i < kh; i++) {
        kernel_row(xr, wi, kw);
        xr += p.wp;
        wi += row_w;
      }
    }
    xc += plane;
  }
  if (u0 >= p.quads) { return; }
  // Stored from a loop (one store site, not ROWS * 4): keeps the compiled shader small.
  let res = array<vec4<f32>, 16>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9,
    acc10, acc11, acc12, acc13, acc14, acc15);
  for (var r = 0u; r < ROWS; r++) {
    store(r, res[r], g, m0, n, oy, ox0);
  }
}
