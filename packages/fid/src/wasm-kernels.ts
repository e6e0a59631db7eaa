/**
 * The two float64 inner loops of the fast trace square root (fast-linalg.ts), as a WebAssembly
 * module with 128-bit SIMD (f64x2), written out here byte by byte (no toolchain, 1 KB). Measured
 * on the 2-vCPU VM: the matrix-product kernel runs at 20-23 GFLOP/s, the best register-blocked
 * plain-JS kernel at 4-5 (V8 neither vectorises nor fuses). Both kernels read and write only
 * the module's memory, which the caller sizes and fills (a new memory per call: nothing stays).
 *
 * `gemm4(ap, bp, c, ldc, kc, blocks)`: C[4, 4 * blocks] += Ap Bp, Ap packed [kc][4] (four rows
 * of A, interleaved), Bp packed [blocks][kc][4] (four columns of B per block); ldc in bytes.
 * `symvLower(a, lda, x, y, m)`: y = A x for the symmetric m x m matrix A (m even) whose lower
 * triangle (row i, columns 0..i) is stored row-major at a with row stride lda bytes; one pass
 * over the triangle, two rows at a time, each row used twice (dot product into y[i], axpy into
 * y[0..i)). Two rows per pass, not one, double its speed: a single row's dot product waits on
 * the latency of its one accumulator.
 * Addresses are byte offsets into the memory.
 */

const leb = (v: number): number[] => {
  const out: number[] = [];
  do {
    const b = v & 0x7f;
    v >>>= 7;
    out.push(v ? b | 0x80 : b);
  } while (v);
  return out;
};
const sleb = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const name = (s: string): number[] => [...leb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

// The instructions used, named as in the text format (WAT).
const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
const get = (i: number) => [0x20, ...leb(i)];
const set = (i: number) => [0x21, ...leb(i)];
const tee = (i: number) => [0x22, ...leb(i)];
const i32 = (v: number) => [0x41, ...sleb(v)];
const block = [0x02, 0x40];
const loop = [0x03, 0x40];
const end = [0x0b];
const br = (depth: number) => [0x0c, depth];
const brIf = (depth: number) => [0x0d, depth];
const i32Add = [0x6a];
const i32Mul = [0x6c];
const i32Eqz = [0x45];
const i32GeU = [0x4f];
const f64LoadAt = (offset: number) => [0x2b, 3, ...leb(offset)];
const f64StoreAt = (offset: number) => [0x39, 3, ...leb(offset)];
const f64Load = f64LoadAt(0);
const f64Store = f64StoreAt(0);
const f64Add = [0xa0];
const f64Mul = [0xa2];
const simd = (op: number, ...imm: number[]) => [0xfd, ...leb(op), ...imm];
const v128Load = (offset: number) => simd(0x00, 0, ...leb(offset)); // align hint 1: any address
const v128Store = (offset: number) => simd(0x0b, 0, ...leb(offset));
const f64x2LoadSplat = (offset: number) => simd(0x0a, 0, ...leb(offset));
const f64x2Splat = simd(0x14);
const f64x2Lane = (lane: number) => simd(0x21, lane);
const f64x2Add = simd(0xf0);
const f64x2Mul = simd(0xf2);
const v128Zero = simd(0x0c, ...new Array<number>(16).fill(0));

interface Func {
  params: number;
  /** Local declarations after the (i32) parameters: [count, type]. */
  locals: [number, number][];
  body: number[][];
}

function gemm4(): Func {
  const [ap, bp, c, ldc, kc, blocks] = [0, 1, 2, 3, 4, 5];
  const [k, pa] = [6, 7];
  const acc = (r: number, half: number) => 8 + 2 * r + half; // C[r][2 half .. 2 half + 1]
  const [b01, b23, a] = [16, 17, 18];
  const body: number[][] = [block, loop, get(blocks), i32Eqz, brIf(1)];
  for (let r = 0; r < 8; r++) body.push(v128Zero, set(8 + r));
  body.push(get(ap), set(pa), get(kc), set(k), loop);
  // One step of k: a column of four A values times a row of four B values.
  body.push(get(bp), v128Load(0), set(b01), get(bp), v128Load(16), set(b23));
  for (let r = 0; r < 4; r++) {
    body.push(get(pa), f64x2LoadSplat(8 * r), set(a));
    for (const [half, b] of [
      [0, b01],
      [1, b23],
    ] as const)
      body.push(get(acc(r, half)), get(a), get(b), f64x2Mul, f64x2Add, set(acc(r, half)));
  }
  body.push(get(pa), i32(32), i32Add, set(pa), get(bp), i32(32), i32Add, set(bp));
  body.push(get(k), i32(-1), i32Add, tee(k), brIf(0), end);
  // C[r][0..3] += the accumulators; then the next block of four columns.
  for (let r = 0; r < 4; r++) {
    const row = [get(c), get(ldc), i32(r), i32Mul, i32Add];
    for (const half of [0, 1]) {
      body.push(...row, ...row, v128Load(16 * half), get(acc(r, half)), f64x2Add);
      body.push(v128Store(16 * half));
    }
  }
  body.push(get(c), i32(32), i32Add, set(c), get(blocks), i32(-1), i32Add, set(blocks));
  body.push(br(0), end, end);
  return {
    params: 6,
    locals: [
      [2, I32],
      [11, V128],
    ],
    body,
  };
}

function symvLower(): Func {
  const [a, lda, x, y, m] = [0, 1, 2, 3, 4];
  const [i, row0, row1, j, jend] = [5, 6, 7, 8, 9];
  const [xi0, xi1, a10] = [10, 11, 12];
  const [xv0, xv1, acc0, acc1, av0, av1, xj] = [13, 14, 15, 16, 17, 18, 19];
  const elem = (base: number, index: number) => [get(base), get(index), i32(8), i32Mul, i32Add];
  const hsum = (v: number) => [get(v), f64x2Lane(0), get(v), f64x2Lane(1), f64Add];
  const body: number[][] = [get(a), set(row0), block, loop, get(i), get(m), i32GeU, brIf(1)];
  // Rows i and i + 1 (i even): xi0 = x[i], xi1 = x[i + 1].
  body.push(get(row0), get(lda), i32Add, set(row1));
  body.push(...elem(x, i), f64Load, tee(xi0), f64x2Splat, set(xv0));
  body.push(...elem(x, i), f64LoadAt(8), tee(xi1), f64x2Splat, set(xv1));
  body.push(v128Zero, tee(acc0), set(acc1), i32(0), set(j), get(i), i32(8), i32Mul, set(jend));
  body.push(block, loop, get(j), get(jend), i32GeU, brIf(1));
  // acc0 += A[i][j..j+1] x[j..j+1]; acc1 += A[i+1][j..j+1] x[j..j+1];
  // y[j..j+1] += A[i][j..j+1] x[i] + A[i+1][j..j+1] x[i+1]
  body.push(get(row0), get(j), i32Add, v128Load(0), set(av0));
  body.push(get(row1), get(j), i32Add, v128Load(0), set(av1));
  body.push(get(x), get(j), i32Add, v128Load(0), set(xj));
  body.push(get(acc0), get(av0), get(xj), f64x2Mul, f64x2Add, set(acc0));
  body.push(get(acc1), get(av1), get(xj), f64x2Mul, f64x2Add, set(acc1));
  body.push(get(y), get(j), i32Add, get(y), get(j), i32Add, v128Load(0));
  body.push(get(av0), get(xv0), f64x2Mul, f64x2Add, get(av1), get(xv1), f64x2Mul, f64x2Add);
  body.push(v128Store(0), get(j), i32(16), i32Add, set(j), br(0), end, end);
  // The 2 x 2 diagonal block; rows below add to y[i], y[i + 1] later.
  body.push(get(row1), get(j), i32Add, f64Load, set(a10));
  body.push(...elem(y, i), ...hsum(acc0), ...elem(row0, i), f64Load, get(xi0), f64Mul, f64Add);
  body.push(get(a10), get(xi1), f64Mul, f64Add, f64Store);
  body.push(...elem(y, i), ...hsum(acc1), get(a10), get(xi0), f64Mul, f64Add);
  body.push(...elem(row1, i), f64LoadAt(8), get(xi1), f64Mul, f64Add, f64StoreAt(8));
  body.push(
    get(i),
    i32(2),
    i32Add,
    set(i),
    get(row1),
    get(lda),
    i32Add,
    set(row0),
    br(0),
    end,
    end,
  );
  return {
    params: 5,
    locals: [
      [5, I32],
      [3, F64],
      [7, V128],
    ],
    body,
  };
}

const FUNCS: [string, Func][] = [
  ['gemm4', gemm4()],
  ['symvLower', symvLower()],
];

/** The module: memory imported as env.mem, the kernels exported by name. */
export function kernelModuleBytes(): Uint8Array<ArrayBuffer> {
  const types = FUNCS.map(([, f]) => [0x60, ...vec(new Array(f.params).fill([I32])), 0]);
  const codes = FUNCS.map(([, f]) => {
    const code = [
      ...vec(f.locals.map(([count, t]) => [...leb(count), t])),
      ...f.body.flat(),
      ...end,
    ];
    return [...leb(code.length), ...code];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x00, 0x00]])),
    ...section(3, vec(FUNCS.map((_, i) => leb(i)))),
    ...section(7, vec(FUNCS.map(([n], i) => [...name(n), 0x00, ...leb(i)]))),
    ...section(10, vec(codes)),
  ]);
}

export interface Kernels {
  /** The whole memory as float64 (element e is at byte 8e). */
  heap: Float64Array;
  gemm4(ap: number, bp: number, c: number, ldc: number, kc: number, blocks: number): void;
  symvLower(a: number, lda: number, x: number, y: number, m: number): void;
}

let compiled: WebAssembly.Module | null | undefined;

/**
 * The kernels over a fresh memory of at least `elements` float64 values, or null where this
 * engine has no WebAssembly SIMD or no memory that large (the caller then takes the plain-JS
 * path).
 */
export function loadKernels(elements: number): Kernels | null {
  if (compiled === undefined) {
    const bytes = kernelModuleBytes();
    compiled =
      typeof WebAssembly === 'object' && WebAssembly.validate(bytes)
        ? new WebAssembly.Module(bytes)
        : null;
  }
  if (compiled === null) return null;
  const pages = Math.ceil((elements * 8) / 65536);
  if (pages > 65536) return null; // over 4 GiB: past 32-bit addresses (n > ~13000)
  let mem: WebAssembly.Memory;
  try {
    mem = new WebAssembly.Memory({ initial: pages });
  } catch {
    return null; // the engine would not give that much
  }
  const e = new WebAssembly.Instance(compiled, { env: { mem } }).exports;
  return {
    heap: new Float64Array(mem.buffer),
    gemm4: e.gemm4 as Kernels['gemm4'],
    symvLower: e.symvLower as Kernels['symvLower'],
  };
}
