/**
 * 2-D convolution in NCHW with PyTorch semantics: conv2d (cross-correlation) and
 * convTranspose2d, with stride, zero padding, output padding and groups (dilation 1).
 *
 * Each op validates its arguments, computes the geometry once (in conv2d's terms: see
 * geometry.ts) and runs its passes through the rows of the kernel table (table.ts) that the
 * device's kernel choices pick: conv2d's forward is pass y, its input gradient pass dx, its
 * weight gradient pass dw; convTranspose2d's forward is pass dx, its input gradient pass y,
 * its weight gradient pass dw with x and dy swapped.
 */
import { needsGrad, record, save } from '../../autograd.ts';
import { TensorError } from '../../errors.ts';
import { Tensor } from '../../tensor.ts';
import { type ConvPair, convPair } from '../../reference/conv.ts';
import { add, full, mul } from '../elementwise.ts';
import { sum } from '../reduce.ts';
import { shapeStr } from '../util.ts';
import {
  type ConvGeometry,
  convGeometry,
  type Epilogue,
  NO_EPILOGUE,
  type Two,
  type WeightGrad,
} from './geometry.ts';
import { forwardPass, inputGradPass, weightGradPass } from './table.ts';

export interface Conv2dOptions {
  /** Step between output pixels, in input pixels (default 1). */
  stride?: ConvPair;
  /** Zeros added on each side of the input (default 0). */
  padding?: ConvPair;
  /** Input and output channels split into this many independent groups (default 1). */
  groups?: number;
}

/**
 * conv2d's fused epilogue: y = ((conv + bias) + shift[n, co] + residual) * scale, in that order,
 * as the unfused ops would compute it (EDM's UNetBlock adds the embedding after conv0, and adds
 * the skip and scales after conv1). Rows that have it apply it in their store (the 3x3
 * same-size kernel); the others get the separate ops.
 */
export interface Conv2dEpilogue {
  /** [N, Cout]: added per image and output channel, after the bias. */
  shift?: Tensor | null;
  /** The output's shape: added after the shift. */
  residual?: Tensor | null;
  /** Multiplies the sum (default 1). */
  scale?: number;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/columns at the bottom/right of the output, each < stride (default 0). */
  outputPadding?: ConvPair;
}

function dims4(t: Tensor, what: string, op: string): [number, number, number, number] {
  if (t.rank !== 4) {
    throw new TensorError(`${op}: ${what} must be 4-D, got ${shapeStr(t.shape)}`);
  }
  return t.shape as unknown as [number, number, number, number];
}

function checkPair(v: Two, min: number, what: string, op: string): void {
  if (!v.every((d) => Number.isInteger(d) && d >= min)) {
    throw new TensorError(`${op}: ${what} must be integers >= ${min}, got [${v.join(', ')}]`);
  }
}

function checkCommon(
  op: string,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  biasSize: number,
  options: Conv2dOptions,
): { stride: Two; padding: Two; groups: number } {
  const stride = convPair(options.stride, 1);
  const padding = convPair(options.padding, 0);
  const groups = options.groups ?? 1;
  checkPair(stride, 1, 'stride', op);
  checkPair(padding, 0, 'padding', op);
  if (!Number.isInteger(groups) || groups < 1) {
    throw new TensorError(`${op}: groups must be an integer >= 1, got ${groups}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== biasSize)) {
    throw new TensorError(`${op}: bias must be [${biasSize}], got ${shapeStr(bias.shape)}`);
  }
  for (const t of bias ? [w, bias] : [w]) {
    if (t.gpu !== x.gpu) throw new TensorError(`${op}: tensors live on different GPU devices`);
  }
  return { stride, padding, groups };
}

/** The epilogue as separate ops, for the rows that lack it (no autograd; consumes y). */
function applyEpilogue(y: Tensor, epi: Epilogue): Tensor {
  const [N, C] = y.shape as unknown as [number, number];
  let out = y;
  const step = (next: Tensor) => {
    out.dispose();
    out = next;
  };
  if (epi.shift) {
    const s = epi.shift.view([N, C, 1, 1], false);
    step(add(out, s));
    s.dispose();
  }
  if (epi.residual) step(add(out, epi.residual));
  if (epi.scale !== 1) step(mul(out, epi.scale));
  return out;
}

const empty = (g: ConvGeometry) => g.N * g.OH * g.OW === 0 || g.cout === 0 || g.cin === 0;

/** Pass y without autograd: [N, cout, OH, OW], the epilogue applied. */
function forward(g: ConvGeometry, x: Tensor, w: Tensor, bias: Tensor | null, epi: Epilogue) {
  if (g.N * g.OH * g.OW * g.cout === 0) return Tensor.empty(x.gpu, [g.N, g.cout, g.OH, g.OW]);
  if (g.cin === 0)
    return applyEpilogue(
      bias ? biasPlanes(bias, g.N, g.OH, g.OW) : full([g.N, g.cout, g.OH, g.OW], 0, x.gpu),
      epi,
    );
  const { y, fused } = forwardPass(g, { x, w, bias, epi });
  return fused || epi === NO_EPILOGUE ? y : applyEpilogue(y, epi);
}

/** Pass dx without autograd: [N, cin, H, W] (convTranspose2d's forward). */
function inputGrad(g: ConvGeometry, dy: Tensor, w: Tensor, bias: Tensor | null): Tensor {
  if (g.N * g.H * g.W * g.cin === 0) return Tensor.empty(dy.gpu, [g.N, g.cin, g.H, g.W]);
  if (g.cout === 0) {
    return bias ? biasPlanes(bias, g.N, g.H, g.W) : full([g.N, g.cin, g.H, g.W], 0, dy.gpu);
  }
  return inputGradPass(g, { dy, w, bias });
}

/** Pass dw without autograd: [cout, cg, KH, KW] and, when asked and computed, dy's sums. */
function weightGrad(g: ConvGeometry, dy: Tensor, x: Tensor, sums: boolean): WeightGrad {
  if (empty(g)) {
    return {
      gw: full([g.cout, g.cg, g.KH, g.KW], 0, dy.gpu),
      sums: sums ? full([g.cout], 0, dy.gpu) : null,
    };
  }
  return weightGradPass(g, { dy, x, sums });
}

/** bias [C] broadcast to [N, C, H, W] (a convolution over no channels). */
function biasPlanes(bias: Tensor, N: number, H: number, W: number): Tensor {
  const C = bias.shape[0] as number;
  const b = bias.view([1, C, 1, 1], false);
  const out = add(full([N, C, H, W], 0, bias.gpu), b);
  b.dispose();
  return out;
}

/** Validates conv2d's epilogue options against the output [N, Cout, OH, OW]. */
function checkEpilogue(x: Tensor, g: ConvGeometry, o: Conv2dEpilogue): Epilogue {
  const shift = o.shift ?? null;
  const residual = o.residual ?? null;
  const scale = o.scale ?? 1;
  if (!shift && !residual && scale === 1) return NO_EPILOGUE;
  if (shift && (shift.rank !== 2 || shift.shape[0] !== g.N || shift.shape[1] !== g.cout)) {
    throw new TensorError(
      `conv2d: shift must be [${g.N}, ${g.cout}], got ${shapeStr(shift.shape)}`,
    );
  }
  const out = [g.N, g.cout, g.OH, g.OW];
  if (residual && shapeStr(residual.shape) !== shapeStr(out)) {
    throw new TensorError(
      `conv2d: residual must have the output's shape ${shapeStr(out)}, got ${shapeStr(residual.shape)}`,
    );
  }
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new TensorError(`conv2d: scale must be a finite number, got ${scale}`);
  }
  for (const t of [shift, residual]) {
    if (t && t.gpu !== x.gpu)
      throw new TensorError('conv2d: tensors live on different GPU devices');
  }
  return { shift, residual, scale };
}

/**
 * PyTorch's F.conv2d: x [N, Cin, H, W], w [Cout, Cin/groups, KH, KW], bias [Cout] or null;
 * returns [N, Cout, floor((H + 2ph - KH)/sh) + 1, floor((W + 2pw - KW)/sw) + 1].
 * NaN and Inf in x reach exactly the outputs whose window holds them. The zero padding is
 * multiplied like data (as PyTorch's im2col path), so a NaN weight also turns the outputs
 * whose tap falls on padding into NaN. `options.shift`, `residual` and `scale` add the fused
 * epilogue ((conv + bias) + shift[n, c] + residual) * scale (Conv2dEpilogue), differentiable in
 * shift and residual.
 */
export function conv2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null = null,
  options: Conv2dOptions & Conv2dEpilogue = {},
): Tensor {
  const op = 'conv2d';
  const [N, Cin, H, W] = dims4(x, 'x', op);
  const [Cout, cg, KH, KW] = dims4(w, 'w', op);
  const { stride, padding, groups } = checkCommon(op, x, w, bias, Cout, options);
  if (cg * groups !== Cin || Cout % groups !== 0) {
    throw new TensorError(
      `conv2d: x ${shapeStr(x.shape)} and w ${shapeStr(w.shape)} do not fit groups=${groups} ` +
        `(need Cin = w.shape[1] * groups and Cout divisible by groups)`,
    );
  }
  if (H + 2 * padding[0] < KH || W + 2 * padding[1] < KW || KH < 1 || KW < 1) {
    throw new TensorError(
      `conv2d: kernel ${KH}x${KW} is larger than the padded input ${H + 2 * padding[0]}x${W + 2 * padding[1]}`,
    );
  }
  const g = convGeometry(N, Cin, H, W, Cout, KH, KW, stride, padding, groups);
  const epi = checkEpilogue(x, g, options);
  const y = forward(g, x, w, bias, epi);
  const inputs = [x, w, bias, epi.shift, epi.residual].filter((t): t is Tensor => t !== null);
  if (needsGrad(inputs)) {
    const xs = save(x);
    const ws = save(w);
    const wantX = x.requiresGrad;
    const wantW = w.requiresGrad;
    const wantB = bias?.requiresGrad ?? false;
    const wantShift = epi.shift?.requiresGrad ?? false;
    const wantRes = epi.residual?.requiresGrad ?? false;
    const scale = epi.scale;
    record(
      y,
      inputs,
      (gOut) => {
        // Every term of the epilogue's sum gets the output gradient times the scale.
        const gy = scale === 1 ? gOut : mul(gOut, scale);
        const gx = wantX ? inputGrad(g, gy, ws, null) : null;
        // The bias gradient comes with the weight gradient's kernel where it has one (no pass of
        // its own over gy); with a shift it sums the shift's gradient instead.
        const sums = wantB && !wantShift;
        const dw = wantW ? weightGrad(g, gy, xs, sums) : null;
        // The shift's gradient sums over the pixels; the bias's then only over the images.
        const gShift = wantShift ? sum(gy, [2, 3]) : null;
        const gb = wantB ? (gShift ? sum(gShift, [0]) : (dw?.sums ?? sum(gy, [0, 2, 3]))) : null;
        if (dw?.sums && !wantB) dw.sums.dispose();
        const gRes = wantRes ? gy : null;
        if (gy !== gOut && !gRes) gy.dispose();
        const all = [gx, dw?.gw ?? null, bias ? gb : undefined, epi.shift ? gShift : undefined];
        if (epi.residual) all.push(gRes);
        return all.filter((t) => t !== undefined);
      },
      [xs, ws],
    );
  }
  return y;
}

/**
 * PyTorch's F.conv_transpose2d: x [N, Cin, H, W], w [Cin, Cout/groups, KH, KW], bias [Cout]
 * or null; returns [N, Cout, (H-1)*sh - 2ph + KH + oph, (W-1)*sw - 2pw + KW + opw]. The
 * gradient of conv2d with respect to its input.
 */
export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null = null,
  options: ConvTranspose2dOptions = {},
): Tensor {
  const op = 'convTranspose2d';
  const [N, Cin, H, W] = dims4(x, 'x', op);
  const [wIn, mg, KH, KW] = dims4(w, 'w', op);
  const groups0 = options.groups ?? 1;
  const { stride, padding, groups } = checkCommon(op, x, w, bias, mg * groups0, options);
  const outputPadding = convPair(options.outputPadding, 0);
  checkPair(outputPadding, 0, 'outputPadding', op);
  if (wIn !== Cin || Cin % groups !== 0) {
    throw new TensorError(
      `convTranspose2d: x ${shapeStr(x.shape)} and w ${shapeStr(w.shape)} do not fit ` +
        `groups=${groups} (need w.shape[0] = Cin, divisible by groups)`,
    );
  }
  if (outputPadding[0] >= stride[0] || outputPadding[1] >= stride[1]) {
    throw new TensorError(
      `convTranspose2d: outputPadding [${outputPadding.join(', ')}] must be smaller than stride [${stride.join(', ')}]`,
    );
  }
  const OH = (H - 1) * stride[0] - 2 * padding[0] + KH + outputPadding[0];
  const OW = (W - 1) * stride[1] - 2 * padding[1] + KW + outputPadding[1];
  if (OH < 1 || OW < 1 || KH < 1 || KW < 1) {
    throw new TensorError(`convTranspose2d: the output would be ${OH}x${OW}`);
  }
  // As conv2d: its output is this op's input, its input this op's output.
  const g = convGeometry(N, mg * groups, OH, OW, Cin, KH, KW, stride, padding, groups);
  const y = inputGrad(g, x, w, bias);
  const inputs = bias ? [x, w, bias] : [x, w];
  if (needsGrad(inputs)) {
    const xs = save(x);
    const ws = save(w);
    const wantX = x.requiresGrad;
    const wantW = w.requiresGrad;
    const wantB = bias?.requiresGrad ?? false;
    record(
      y,
      inputs,
      (gy) => {
        const gx = wantX ? forward(g, gy, ws, null, NO_EPILOGUE) : null;
        const gw = wantW ? weightGrad(g, xs, gy, false).gw : null;
        const gb = wantB ? sum(gy, [0, 2, 3]) : null;
        return [gx, gw, gb];
      },
      [xs, ws],
    );
  }
  return y;
}
