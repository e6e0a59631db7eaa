/**
 * EDM's primitive layers (SPEC 5.2): Linear, Conv2d with up/down resampling, GroupNorm and the
 * noise-level embeddings. Parameter names and shapes equal `training/networks.py`.
 */
import {
  add,
  broadcastTo,
  type Conv2dEpilogue,
  concat,
  conv2d,
  convTranspose2d,
  cos,
  groupNorm,
  keep,
  matmul,
  mul,
  reshape,
  sin,
  type Tensor,
  tensor,
} from '@pfgmpp/tensor';
import { NnError } from './errors.ts';
import { fanInit, type InitKwargs } from './init.ts';
import { addFlops, Module, type Slot } from './module.ts';

const dim = (t: Tensor, i: number) => t.shape[i] as number;

export class Linear extends Module {
  readonly weight: Slot;
  readonly bias: Slot | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
    init: InitKwargs = {},
  ) {
    super();
    const mode = init.mode ?? 'kaiming_normal';
    this.weight = this.param(
      'weight',
      [outFeatures, inFeatures],
      fanInit(mode, inFeatures, outFeatures, init.weight ?? 1),
    );
    this.bias = bias
      ? this.param('bias', [outFeatures], fanInit(mode, inFeatures, outFeatures, init.bias ?? 0))
      : null;
  }

  /** x [B, in] -> x W^T + b [B, out]. */
  forward(x: Tensor): Tensor {
    if (x.rank !== 2 || dim(x, 1) !== this.inFeatures) {
      throw new NnError(`Linear(${this.inFeatures}): input [${x.shape.join(', ')}]`);
    }
    addFlops(2 * x.size * this.outFeatures);
    const y = matmul(x, this.weight.tensor, { transB: true });
    return this.bias ? add(y, reshape(this.bias.tensor, [1, this.outFeatures])) : y;
  }
}

export interface Conv2dConfig {
  inChannels: number;
  outChannels: number;
  /** 0 makes a weightless resampler. */
  kernel: number;
  bias?: boolean;
  up?: boolean;
  down?: boolean;
  resampleFilter?: readonly number[];
  fusedResample?: boolean;
  init?: InitKwargs;
}

/** outer(f, f) / sum(f)^2, the [1, 1, L, L] `resample_filter` buffer. */
export function resampleKernel(f: readonly number[]): Float32Array {
  const s = f.reduce((a, b) => a + b, 0);
  const out = new Float32Array(f.length * f.length);
  f.forEach((a, i) => {
    f.forEach((b, j) => {
      out[i * f.length + j] = (a * b) / (s * s);
    });
  });
  return out;
}

export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly up: boolean;
  readonly down: boolean;
  readonly fusedResample: boolean;
  readonly weight: Slot | null;
  readonly bias: Slot | null;
  readonly resampleFilter: Slot | null;
  /** Depthwise copies of the filter, keyed by channels and gain; rebuilt when the buffer changes. */
  private tiled = new Map<string, { source: Tensor; t: Tensor }>();

  constructor(c: Conv2dConfig) {
    super();
    const { inChannels: cin, outChannels: cout, kernel: k } = c;
    if (!(Number.isInteger(k) && k >= 0))
      throw new NnError(`Conv2d: kernel must be >= 0, got ${k}`);
    if (c.up && c.down) throw new NnError('Conv2d: up and down are exclusive');
    this.inChannels = cin;
    this.outChannels = cout;
    this.kernel = k;
    this.up = c.up ?? false;
    this.down = c.down ?? false;
    this.fusedResample = c.fusedResample ?? false;
    const mode = c.init?.mode ?? 'kaiming_normal';
    const fanIn = cin * k * k;
    const fanOut = cout * k * k;
    this.weight = k
      ? this.param('weight', [cout, cin, k, k], fanInit(mode, fanIn, fanOut, c.init?.weight ?? 1))
      : null;
    this.bias =
      k && (c.bias ?? true)
        ? this.param('bias', [cout], fanInit(mode, fanIn, fanOut, c.init?.bias ?? 0))
        : null;
    const f = c.resampleFilter ?? [1, 1];
    this.resampleFilter =
      this.up || this.down
        ? this.buffer('resample_filter', [1, 1, f.length, f.length], {
            kind: 'data',
            values: resampleKernel(f),
          })
        : null;
  }

  /** The filter as a depthwise kernel [C, 1, L, L] times `gain`. */
  private depthwise(C: number, gain: number): Tensor {
    const f = (this.resampleFilter as Slot).tensor;
    const key = `${C}:${gain}`;
    const hit = this.tiled.get(key);
    if (hit && hit.source === f && !hit.t.disposed) return hit.t;
    hit?.t.dispose();
    const L = f.shape[3] as number;
    const b = broadcastTo(f, [C, 1, L, L]);
    const t = keep(gain === 1 ? b : mul(b, gain));
    if (t !== b) b.dispose();
    this.tiled.set(key, { source: f, t });
    return t;
  }

  /**
   * x [N, Cin, H, W] -> [N, Cout, H', W']. `epilogue` (shift [N, Cout], residual, scale) is
   * applied to the output as conv2d's fused epilogue: y = ((conv + bias) + shift + residual) *
   * scale.
   */
  forward(x: Tensor, epilogue: Conv2dEpilogue = {}): Tensor {
    if (x.rank !== 4 || dim(x, 1) !== this.inChannels) {
      throw new NnError(
        `Conv2d(${this.inChannels}->${this.outChannels}): input [${x.shape.join(', ')}]`,
      );
    }
    const w = this.weight?.tensor ?? null;
    const b = this.bias?.tensor ?? null;
    const L = this.resampleFilter ? (this.resampleFilter.shape[3] as number) : 0;
    const wPad = w ? Math.floor(this.kernel / 2) : 0;
    const fPad = this.resampleFilter ? Math.floor((L - 1) / 2) : 0;
    const cin = this.inChannels;
    const cout = this.outChannels;
    if (this.fusedResample && this.up && w) {
      // EDM's padding (2H output). PFGM++'s older code pads the transposed conv by
      // wPad + fPad and the conv by 0, which gives 2H - 4 for a 3x3 kernel; no network uses
      // this branch, and we follow EDM's correct behaviour.
      const u = this.upsample(x, Math.max(fPad - wPad, 0));
      const y = this.conv(u, w, b, Math.max(wPad - fPad, 0), epilogue);
      u.dispose();
      return y;
    }
    if (this.fusedResample && this.down && w) {
      const h = this.conv(x, w, null, wPad + fPad);
      const y = conv2d(h, this.depthwise(cout, 1), b, { stride: 2, groups: cout, ...epilogue });
      addFlops(2 * y.size * L * L);
      h.dispose();
      return y;
    }
    let h = x;
    if (this.up) h = this.upsample(h, fPad);
    if (this.down) {
      const k = this.depthwise(cin, 1);
      const d = conv2d(h, k, null, { stride: 2, padding: fPad, groups: cin });
      addFlops(2 * d.size * L * L);
      if (h !== x) h.dispose();
      h = d;
    }
    if (w) {
      const y = this.conv(h, w, b, wPad, epilogue);
      if (h !== x) h.dispose();
      return y;
    }
    let y = h === x ? reshape(x, x.shape) : h;
    // Weightless (a resampler or the identity): the epilogue as separate ops.
    const [N, C] = y.shape as [number, number];
    if (epilogue.shift) y = add(y, reshape(epilogue.shift, [N, C, 1, 1]));
    if (epilogue.residual) y = add(y, epilogue.residual);
    if ((epilogue.scale ?? 1) !== 1) y = mul(y, epilogue.scale as number);
    return y;
  }

  private upsample(x: Tensor, padding: number): Tensor {
    const cin = this.inChannels;
    const L = (this.resampleFilter as Slot).shape[3] as number;
    addFlops(2 * x.size * L * L);
    return convTranspose2d(x, this.depthwise(cin, 4), null, { stride: 2, padding, groups: cin });
  }

  private conv(
    x: Tensor,
    w: Tensor,
    b: Tensor | null,
    padding: number,
    epilogue: Conv2dEpilogue = {},
  ): Tensor {
    const y = conv2d(x, w, b, { padding, ...epilogue });
    addFlops(2 * y.size * this.inChannels * this.kernel * this.kernel);
    return y;
  }
}

export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly weight: Slot;
  readonly bias: Slot;

  constructor(
    readonly numChannels: number,
    numGroups = 32,
    minChannelsPerGroup = 4,
    readonly eps = 1e-5,
  ) {
    super();
    this.numGroups = Math.min(numGroups, Math.floor(numChannels / minChannelsPerGroup));
    if (this.numGroups < 1 || numChannels % this.numGroups !== 0) {
      throw new NnError(`GroupNorm: ${numChannels} channels cannot form ${this.numGroups} groups`);
    }
    this.weight = this.param('weight', [numChannels], { kind: 'const', value: 1 });
    this.bias = this.param('bias', [numChannels], { kind: 'const', value: 0 });
  }

  /** GroupNorm of x [N, C, H, W], then SiLU when `silu` (one fused kernel). */
  forward(x: Tensor, silu = false): Tensor {
    return groupNorm(x, this.weight.tensor, this.bias.tensor, {
      groups: this.numGroups,
      eps: this.eps,
      silu,
    });
  }
}

/** [cos(x*w) | sin(x*w)] for x [B] and frequencies w [n/2]; `swap` gives [sin | cos]. */
function sinusoids(x: Tensor, freqs: Tensor, swap: boolean): Tensor {
  if (x.rank !== 1)
    throw new NnError(`embedding: noise labels must be [B], got [${x.shape.join(', ')}]`);
  const n2 = freqs.size;
  const a = mul(reshape(x, [dim(x, 0), 1]), reshape(freqs, [1, n2]));
  const c = cos(a);
  const s = sin(a);
  a.dispose();
  return concat(swap ? [s, c] : [c, s], 1);
}

/** Transformer-style embedding of noise labels: w_k = (1/max_positions)^(k/(n/2 - endpoint)). */
export class PositionalEmbedding extends Module {
  private freqs: Tensor | null = null;

  constructor(
    readonly numChannels: number,
    readonly maxPositions = 10000,
    readonly endpoint = false,
  ) {
    super();
    if (numChannels % 2 !== 0)
      throw new NnError(`PositionalEmbedding: odd channel count ${numChannels}`);
  }

  /** The frequencies as PyTorch computes them in float32. */
  frequencies(): Float32Array {
    const half = this.numChannels / 2;
    const denom = half - (this.endpoint ? 1 : 0);
    const base = Math.fround(1 / this.maxPositions);
    return Float32Array.from({ length: half }, (_, k) => base ** Math.fround(k / denom));
  }

  forward(x: Tensor, swap = false): Tensor {
    if (!this.freqs || this.freqs.disposed) this.freqs = keep(tensor(this.frequencies()));
    return sinusoids(x, this.freqs, swap);
  }
}

/** Random Fourier features: `freqs` [n/2] = N(0,1)*scale at construction (a saved buffer). */
export class FourierEmbedding extends Module {
  readonly freqs: Slot;

  constructor(
    readonly numChannels: number,
    readonly scale = 16,
  ) {
    super();
    if (numChannels % 2 !== 0)
      throw new NnError(`FourierEmbedding: odd channel count ${numChannels}`);
    this.freqs = this.buffer('freqs', [numChannels / 2], { kind: 'normal', std: scale });
  }

  forward(x: Tensor, swap = false): Tensor {
    const w = mul(this.freqs.tensor, 2 * Math.PI);
    const y = sinusoids(x, w, swap);
    w.dispose();
    return y;
  }
}
