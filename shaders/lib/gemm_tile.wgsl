// gemm_tile.wgsl: library (placed before the kernel) with the entry point of the
// workgroup-tiled GEMM kernels for GPUs (matmul_tiled.wgsl, conv_tiled.wgsl,
// conv_tiled_wgrad.wgsl): C[bt] = A[bt] B[bt] over the range of k the kernel gives each bt.
//
// The including kernel declares `p: Params` with the fields m, n, tiles_m, tiles_n and wgs, and
// the functions
//   k_range(bt) -> vec2<u32>        the [begin, end) of k that work item bt sums over
//   a_value(bt, m, k, k_end) -> f32   A's element, 0 outside (m >= p.m or k >= k_end)
//   b_value(bt, k, n, k_end) -> f32   B's element, 0 outside (n >= p.n or k >= k_end)
//   store_c(bt, m, n, v)            called once per element of C (m < p.m, n < p.n)
// Tiles: a workgroup of WX x WY invocations owns a BM x BN block of C (BM = TM*WY,
//   BN = TN*WX) and walks k in steps of BK: the A and B blocks of a step are staged in
//   workgroup memory (k-major rows of BM + 1 and BN + 1 words; each invocation loads
//   BM*BK/WG values of A and BN*BK/WG of B), then each
//   invocation accumulates TM x TN outputs in registers. Invocation (tx, ty) owns rows
//   ty + i*WY and columns tx + j*WX, so the lanes of a subgroup read consecutive words of
//   workgroup memory (no bank conflicts) and store consecutive columns of C.
// Loads: A_MFAST = 0 reads A k-fast (neighbouring invocations, neighbouring k: A stored with
//   k contiguous), 1 m-fast; B_KFAST = 0 reads B n-fast, 1 k-fast. The host picks the order
//   that matches the operands' storage, so global loads coalesce.
// Overrides: TM <= 8, TM x TN <= 64 (the accumulator arrays), WG = WX*WY, and BM*BK and BN*BK multiples
//   of WG (every invocation loads the same number of values). The host instantiates a few tile
//   shapes as separate kernel rows and lets the tuner choose per adapter.
// Geometry: p.wgs workgroups = tiles_m * tiles_n * items, folded into 2-D past 65,535;
//   workgroups past p.wgs return at once (uniformly, before any barrier).
// Reference: the kernels' references (matmulRef, conv2dRef, convTranspose2dRef).

override TM: u32 = 4u;
override TN: u32 = 4u;
override WX: u32 = 16u;
override WY: u32 = 16u;
override BK: u32 = 8u;
override WG: u32 = 256u;
override A_MFAST: u32 = 0u;
override B_KFAST: u32 = 0u;
override BM: u32 = TM * WY;
override BN: u32 = TN * WX;
// Rows of the staged blocks are one word longer than the tile: an invocation's loads that go
// k-fast store a column of the block, and with a pitch of BM (a multiple of 32) every lane of a
// subgroup would hit the same bank.
override A_PITCH: u32 = BM + 1u;
override B_PITCH: u32 = BN + 1u;
override A_TILE: u32 = A_PITCH * BK;
override B_TILE: u32 = B_PITCH * BK;

const MAX_ACC: u32 = 64u;

var<workgroup> tile_a: array<f32, A_TILE>;
var<workgroup> tile_b: array<f32, B_TILE>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let wgi = wid.y * nwg.x + wid.x;
  if (wgi >= p.wgs) { return; }
  let tn = wgi % p.tiles_n;
  let rest = wgi / p.tiles_n;
  let tm = rest % p.tiles_m;
  let bt = rest / p.tiles_m;
  let m0 = tm * BM;
  let n0 = tn * BN;
  let tx = lid % WX;
  let ty = lid / WX;
  let range = k_range(bt);
  var acc: array<f32, MAX_ACC>;
  for (var k0 = range.x; k0 < range.y; k0 += BK) {
    for (var l = lid; l < BM * BK; l += WG) {
      var m = l / BK;
      var kk = l % BK;
      if (A_MFAST == 1u) {
        m = l % BM;
        kk = l / BM;
      }
      tile_a[kk * A_PITCH + m] = a_value(bt, m0 + m, k0 + kk, range.y);
    }
    for (var l = lid; l < BN * BK; l += WG) {
      var n = l % BN;
      var kk = l / BN;
      if (B_KFAST == 1u) {
        n = l / BK;
        kk = l % BK;
      }
      tile_b[kk * B_PITCH + n] = b_value(bt, k0 + kk, n0 + n, range.y);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var av: array<f32, 8>;
      for (var i = 0u; i < TM; i++) { av[i] = tile_a[kk * A_PITCH + ty + i * WY]; }
      for (var j = 0u; j < TN; j++) {
        let bv = tile_b[kk * B_PITCH + tx + j * WX];
        for (var i = 0u; i < TM; i++) { acc[i * TN + j] = fma(av[i], bv, acc[i * TN + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < TM; i++) {
    let m = m0 + ty + i * WY;
    for (var j = 0u; j < TN; j++) {
      let n = n0 + tx + j * WX;
      if (m < p.m && n < p.n) { store_c(bt, m, n, acc[i * TN + j]); }
    }
  }
}
