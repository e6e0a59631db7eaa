// conv_wgrad.wgsl: weight gradient of a 2-D convolution, as partial sums over chunks of the
// reduction (images x rows); the host sums the chunks with reduce.wgsl.
// Needs a library in front: conv_rows_sg.wgsl (subgroups) or conv_rows_plain.wgsl, which
// holds the entry point, the accumulators acc0..acc15 and rows().
//
// Bindings: 0 bw: array<f32> (read) [N, a_c, a_h, a_w], the operand on the output-pixel grid
//   (conv2d: the output gradient; conv_transpose2d: the input); 1 b: array<f32> (read)
//   [N, b_c, hp, wp], the zero-padded operand read through the kernel window (conv2d: x;
//   conv_transpose2d: the output gradient); 2 out: array<f32> (read_write)
//   [chunks, phases, groups*ag, bg*kh*kw]; 3 work: array<atomic<u32>> (read_write), the
//   dispatch's counter at p.slot (used by conv_rows_sg.wgsl's entry point); 4 p: Params
//   (uniform).
// out[ch, ph, g*ag + a, (c*kh + i)*kw + j] = sum over rows (n, oy) of chunk ch and ox < a_w
//   with ox % phases == ph of
//   bw[n, g*ag + a, oy, ox] * b[n, g*bg + c, oy*sh + i + row_off, ox*sw + j + col_off]
//   (x_off = row_off*wp + col_off).
// Work split: a workgroup owns ROWS channels a of one group (the same for all lanes: see rows()
//   for how they reach the lanes) and WG lanes; each lane owns 4 entries (c, i, j) and
//   accumulates ROWS x 4 sums in vec4 registers while walking the pixels. With SLIDE (sw == 1)
//   a lane's entries are 4 consecutive j of one (c, i): successive pixels shift a vec4 window,
//   one per-lane load per pixel (entries j >= kw are computed and dropped). Otherwise the 4
//   entries are consecutive flattened (c, i, j), 4 loads per pixel, and when they fill less
//   than half a workgroup the spare lanes take interleaved pixel phases. No barriers, no
//   division in the pixel loop.
// Geometry: workgroups (wgs of them) = chunks * groups * a_tiles * lane_groups, folded into 2-D
//   past 65,535; with subgroups, a virtual grid of that size (conv_rows_sg.wgsl). Lanes past
//   the last item (or phase) compute a copy of it and store nothing.
// Reference: packages/tensor/src/reference/conv.ts (through the finite-difference gradients of
//   conv2dRef and convTranspose2dRef).

override WG: u32 = 64u;
// Channels a per workgroup: 1, 4, 8 or 16.
override ROWS: u32 = 16u;
// 1 when the column stride is 1: a lane's entries are 4 consecutive j (sliding window).
override SLIDE: u32 = 1u;

struct Params {
  rows_total: u32, a_h: u32, a_w: u32, a_c: u32,
  ag: u32, a_tiles: u32, bg: u32, b_c: u32,
  hp: u32, wp: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, x_off: u32, items: u32,
  lane_groups: u32, rows_per_chunk: u32, kwq: u32, tiles: u32,
  e_total: u32, chunks: u32, ipw: u32, phases: u32,
  wgs: u32, slot: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> bw: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> work: array<atomic<u32>>;
@group(0) @binding(4) var<uniform> p: Params;

// Writes row r (channel a0 + r of the group): the lane's 4 entries from e0 on, those that
// exist (with SLIDE: j = jq*4 + t < kw).
fn store(r: u32, s: vec4<f32>, base_row: u32, a0: u32, e0: u32, jq: u32) {
  if (a0 + r >= p.ag) { return; }
  let base = (base_row + r) * p.e_total + e0;
  for (var t = 0u; t < 4u; t++) {
    var ok: bool;
    if (SLIDE == 1u) {
      ok = jq * 4u + t < p.kw;
    } else {
      ok = e0 + t < p.e_total;
    }
    if (ok) { out[base + t] = s[t]; }
  }
}

// Offset in one image of b of entry f = (c*kh + i)*kw + j of group g, relative to the pixel.
fn entry_offset(f: u32, g: u32, plane: u32) -> u32 {
  let taps = p.kh * p.kw;
  return (g * p.bg + f / taps) * plane + ((f / p.kw) % p.kh) * p.wp + f % p.kw + p.x_off;
}

fn kernel_main(wgi: u32, lid: u32) {
  let t = wgi / p.lane_groups;
  let chunk = t / p.tiles;
  if (chunk >= p.chunks) { return; } // whole workgroups of the folded padding
  // Lanes: ipw items x phases pixel phases (phases > 1 only without SLIDE, when the items
  // fill less than half a workgroup). ipw is a multiple of the subgroup size, so the lanes of
  // a subgroup share their pixels (as rows() needs).
  let phase = min(lid / p.ipw, p.phases - 1u);
  let e_raw = (wgi % p.lane_groups) * p.ipw + lid % p.ipw; // this lane's item
  let e = min(e_raw, p.items - 1u);
  let tg = t % p.tiles; // g * a_tiles + tile
  let g = tg / p.a_tiles;
  let a0 = (tg % p.a_tiles) * ROWS;
  let plane = p.hp * p.wp;
  let hw = p.a_h * p.a_w;
  // Offsets of the lane's entries inside one image of b, relative to the pixel's corner.
  var o0: u32;
  var o1: u32;
  var o2: u32;
  var o3: u32;
  var e0: u32;
  var jq = 0u;
  if (SLIDE == 1u) {
    jq = e % p.kwq;
    let i = (e / p.kwq) % p.kh;
    let c = e / (p.kwq * p.kh);
    o0 = (g * p.bg + c) * plane + i * p.wp + jq * 4u + p.x_off;
    e0 = (c * p.kh + i) * p.kw + jq * 4u;
  } else {
    e0 = e * 4u;
    let last = p.e_total - 1u;
    o0 = entry_offset(min(e0, last), g, plane);
    o1 = entry_offset(min(e0 + 1u, last), g, plane);
    o2 = entry_offset(min(e0 + 2u, last), g, plane);
    o3 = entry_offset(min(e0 + 3u, last), g, plane);
  }
  let row0 = chunk * p.rows_per_chunk;
  let row1 = min(p.rows_total, row0 + p.rows_per_chunk);
  for (var row = row0; row < row1; row++) {
    let n = row / p.a_h;
    let oy = row % p.a_h;
    let ai = (n * p.a_c + g * p.ag + a0) * hw + oy * p.a_w;
    let bi = n * p.b_c * plane + oy * p.sh * p.wp;
    if (SLIDE == 1u) {
      var xb = bi + o0;
      var v = vec4<f32>(b[xb], b[xb + 1u], b[xb + 2u], b[xb + 3u]);
      for (var ox = 0u; ox < p.a_w; ox++) {
        rows(v, ai + ox, hw);
        v = vec4<f32>(v.yzw, b[xb + 4u]);
        xb += 1u;
      }
    } else {
      // Pixels phase, phase + phases, ...: a_w / phases of them for every phase (phases
      // divides a_w), so the trip count is uniform.
      var xb = bi + phase * p.sw;
      var ia = ai + phase;
      let step = p.phases * p.sw;
      for (var k = 0u; k < p.a_w / p.phases; k++) {
        let v = vec4<f32>(b[xb + o0], b[xb + o1], b[xb + o2], b[xb + o3]);
        rows(v, ia, hw);
        xb += step;
        ia += p.phases;
      }
    }
  }
  if (e_raw >= p.items || lid >= p.ipw * p.phases) { return; }
  let base_row = ((chunk * p.phases + phase) * (p.tiles / p.a_tiles) + g) * p.ag + a0;
  // Stored from a loop (one store site, not ROWS * 4): keeps the compiled shader small.
  let res = array<vec4<f32>, 16>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9,
    acc10, acc11, acc12, acc13, acc14, acc15);
  for (var r = 0u; r < ROWS; r++) {
    store(r, res[r], base_row, a0, e0, jq);
  }
}
