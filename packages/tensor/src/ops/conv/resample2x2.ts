/**
 * Row resample2x2: EDM's resampling with the filter [1, 1], a depthwise 2x2 conv at stride 2
 * without padding (pass y: down, width a multiple of 4) and its transpose (pass dx: up, the
 * input's width even, no output padding), with resample2x2.wgsl. No weight gradient (EDM's
 * resampling filters are constants); the other rows take it.
 */
import { K } from '../../kernels.ts';
import { Tensor } from '../../tensor.ts';
import { workgroupsFor } from '../util.ts';
import type { ConvGeometry } from './geometry.ts';
import type { ConvRow } from './row.ts';

function depthwise2x2(g: ConvGeometry): boolean {
  return (
    g.KH === 2 &&
    g.KW === 2 &&
    g.stride[0] === 2 &&
    g.stride[1] === 2 &&
    g.padding[0] === 0 &&
    g.padding[1] === 0 &&
    g.groups === g.cin &&
    g.cin === g.cout
  );
}

/** down: x [N, C, H, W] -> [N, C, floor(H/2), W/2]; up: x [N, C, H, W] -> [N, C, 2H, 2W]. */
function resample(x: Tensor, w: Tensor, bias: Tensor | null, up: boolean): Tensor {
  const [N, C, H, W] = x.shape as unknown as [number, number, number, number];
  const gpu = x.gpu;
  const rows = up ? H : Math.floor(H / 2);
  const y = Tensor.empty(gpu, up ? [N, C, 2 * H, 2 * W] : [N, C, rows, W / 2]);
  const halfW = up ? W / 2 : W / 4;
  const pairs = N * C * rows * halfW;
  gpu.dispatch(
    up ? K.resampleUp : K.resampleDown,
    {},
    [x.buffer, w.buffer, bias ? bias.buffer : gpu.dummy, y.buffer],
    { pairs, half_w: halfW, rows, c: C, in_h: H, has_bias: bias ? 1 : 0 },
    workgroupsFor(pairs),
  );
  return y;
}

export const resample2x2Row: ConvRow = {
  name: 'resample2x2',
  shaders: ['resample2x2.wgsl'],
  about:
    'depthwise 2x2 stride 2 without padding (EDM resampling [1, 1]): resample2x2.wgsl:down (y, width a multiple of 4), :up (dx, even width, no output padding)',
  y: {
    epilogue: false,
    fits: (g) => depthwise2x2(g) && g.W % 4 === 0,
    run: (_g, a) => resample(a.x, a.w, a.bias, false),
  },
  dx: {
    fits: (g) => depthwise2x2(g) && g.OW % 2 === 0 && g.H === 2 * g.OH && g.W === 2 * g.OW,
    run: (_g, a) => resample(a.dy, a.w, a.bias, true),
  },
};
