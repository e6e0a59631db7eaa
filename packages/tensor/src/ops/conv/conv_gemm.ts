/**
 * Row conv_gemm: any convolution as an explicit im2col and one long 1x1. conv_im2col.wgsl
 * lays the input of each correlation out as a [channels x taps, pixels] matrix for a chunk of
 * images (zero padding written in), and conv_gemm.wgsl multiplies it by the packed weights and
 * scatters each pixel to its place, so every shape runs at the speed of the
 * vec4, subgroup-broadcast 1x1 loop (lib/gemm_rows32.wgsl): 1x7 and 7x1, 5x5, strided and odd-sized planes
 * (Inception's), which the row kernels of conv.wgsl handle at a fraction of it on CPU
 * rasterizers. Pass dx runs one such correlation per output phase. Needs subgroups of at least
 * 8. The matrix is built in chunks of images of at most CHUNK_BYTES.
 */
import type { Gpu } from '../../gpu.ts';
import { K } from '../../kernels.ts';
import { Tensor } from '../../tensor.ts';
import { workgroupsFor } from '../util.ts';
import { conv1x1Rows } from './conv1x1.ts';
import {
  type ConvGeometry,
  type Correlation,
  type CorrelationOperands,
  forwardByCorrelation,
  inputGradByCorrelation,
} from './geometry.ts';
import type { ConvRow } from './row.ts';
import { hasSubgroups8, LANES, packCorrelation } from './shared.ts';

/** The largest im2col matrix built at once (bytes): a few images of Inception's stem. */
const CHUNK_BYTES = 32 * 2 ** 20;

/** Runs one correlation (conv_pack, then per chunk of images conv_im2col and conv1x1). */
function correlate(c: Correlation, o: CorrelationOperands): void {
  const gpu = o.x.gpu;
  const [N, cTotal, h, w] = o.x.shape as unknown as [number, number, number, number];
  const [, yC, yH, yW] = o.y.shape as unknown as [number, number, number, number];
  const k = o.cg * c.kh * c.kw;
  const rows = conv1x1Rows(o.mg);
  const mTiles = Math.ceil(o.mg / rows);
  const tiles = o.groups * mTiles;
  const plane = c.oh * c.ow;
  const perImage = o.groups * Math.max(k, 1) * Math.ceil(plane / 4) * 16;
  const chunk = Math.max(1, Math.min(N, Math.floor(CHUNK_BYTES / perImage)));
  const packed = packCorrelation(c, o, rows);
  for (let n0 = 0; n0 < N; n0 += chunk) {
    const images = Math.min(chunk, N - n0);
    const count = images * plane;
    const q4 = Math.ceil(count / 4);
    let cols: Tensor | null = null;
    if (k > 0) {
      cols = Tensor.empty(gpu, [o.groups * k * q4 * 4]);
      const rows = images * c.oh;
      gpu.dispatch(
        K.convIm2col,
        {},
        [o.x.buffer, cols.buffer],
        {
          count,
          q4,
          k,
          cg: o.cg,
          c_total: cTotal,
          h,
          w,
          kh: c.kh,
          kw: c.kw,
          oh: c.oh,
          ow: c.ow,
          sh: c.stride[0],
          sw: c.stride[1],
          top: c.origin[0],
          left: c.origin[1],
          n0,
          groups: o.groups,
          rows,
        },
        workgroupsFor(o.groups * k * rows),
      );
    }
    const work = gpu.workCounter();
    gpu.dispatch(
      { ...K.convGemm, workgroupSize: LANES },
      { ROWS: rows },
      [
        cols ? cols.buffer : gpu.dummy,
        packed ? packed.buffer : gpu.dummy,
        o.bias ? o.bias.buffer : gpu.dummy,
        o.y.buffer,
        work.buffer,
      ],
      {
        quads: q4,
        cg: k,
        mg: o.mg,
        m_tiles: mTiles,
        slot: work.slot,
        y_c: yC,
        has_bias: o.bias ? 1 : 0,
        tiles,
        count,
        oh: c.oh,
        ow: c.ow,
        y_h: yH,
        y_w: yW,
        osy: c.outStride[0],
        osx: c.outStride[1],
        y_off: n0 * yC * yH * yW + c.phase[0] * yW + c.phase[1],
      },
      tiles * Math.ceil(q4 / LANES),
    );
    cols?.dispose();
  }
  packed?.dispose();
}

/**
 * Whether a correlation with `mg` output and `cg` input channels per group and `taps` taps fits:
 * tiles of at least 5 of 8 channels busy (fewer: the row kernels waste less), and the packed
 * weights and one image's matrix within a storage binding.
 */
function fitsChannels(g: ConvGeometry, gpu: Gpu, cg: number, mg: number, pixels: number): boolean {
  const k = cg * g.KH * g.KW;
  const rows = conv1x1Rows(mg);
  const packed = g.groups * Math.ceil(mg / rows) * rows * k * 4;
  const cols = g.groups * k * Math.ceil(pixels / 4) * 16;
  const limit = gpu.device.limits.maxStorageBufferBindingSize;
  return hasSubgroups8(gpu) && mg >= 5 && packed <= limit && cols <= limit;
}

export const convGemmRow: ConvRow = {
  name: 'conv_gemm',
  shaders: ['conv_im2col.wgsl', 'conv_gemm.wgsl', 'lib/gemm_rows32.wgsl'],
  about:
    'any kernel, stride, padding and groups, subgroups >= 8: conv_im2col.wgsl (the input as a [channels x taps, pixels] matrix, chunks of images) then conv_gemm.wgsl (y; dx one correlation per output phase)',
  y: {
    epilogue: false,
    fits: (g, gpu) => fitsChannels(g, gpu, g.cg, g.mg, g.OH * g.OW),
    run: (g, a) => forwardByCorrelation(g, a, correlate),
  },
  dx: {
    fits: (g, gpu) => fitsChannels(g, gpu, g.mg, g.cg, g.H * g.W),
    run: (g, a) => inputGradByCorrelation(g, a, correlate),
  },
};
