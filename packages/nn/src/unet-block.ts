/**
 * EDM's UNetBlock (SPEC 5.3): GroupNorm-SiLU-conv twice with the embedding injected between,
 * an optional skip projection, and optional self-attention with the interleaved qkv layout.
 */
import {
  add,
  attentionQKV,
  concat,
  dropout,
  mul,
  reshape,
  silu,
  slice,
  type Tensor,
} from '@pfgmpp/tensor';
import { NnError } from './errors.ts';
import type { InitKwargs } from './init.ts';
import { Conv2d, GroupNorm, Linear } from './layers.ts';
import { addFlops, Module } from './module.ts';
import type { StreamCounter } from './random.ts';

export interface UNetBlockConfig {
  inChannels: number;
  outChannels: number;
  embChannels: number;
  up?: boolean;
  down?: boolean;
  attention?: boolean;
  /** Heads when attention is on; default outChannels / channelsPerHead. */
  numHeads?: number;
  channelsPerHead?: number;
  dropout?: number;
  skipScale?: number;
  eps?: number;
  resampleFilter?: readonly number[];
  resampleProj?: boolean;
  adaptiveScale?: boolean;
  init?: InitKwargs;
  initZero?: InitKwargs;
  initAttn?: InitKwargs;
}

export class UNetBlock extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly numHeads: number;
  readonly dropout: number;
  readonly skipScale: number;
  readonly adaptiveScale: boolean;
  readonly norm0: GroupNorm;
  readonly conv0: Conv2d;
  readonly affine: Linear;
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly skip: Conv2d | null;
  readonly norm2: GroupNorm | null = null;
  readonly qkv: Conv2d | null = null;
  readonly proj: Conv2d | null = null;
  /** Dropout masks come from here in training mode (set by the owning network). */
  rng: StreamCounter | null = null;

  constructor(c: UNetBlockConfig) {
    super();
    const cin = c.inChannels;
    const cout = c.outChannels;
    const eps = c.eps ?? 1e-5;
    const init = c.init ?? {};
    const initZero = c.initZero ?? { weight: 0 };
    const filter = c.resampleFilter ?? [1, 1];
    this.inChannels = cin;
    this.outChannels = cout;
    this.numHeads = !c.attention ? 0 : (c.numHeads ?? Math.floor(cout / (c.channelsPerHead ?? 64)));
    this.dropout = c.dropout ?? 0;
    this.skipScale = c.skipScale ?? 1;
    this.adaptiveScale = c.adaptiveScale ?? true;
    if (this.numHeads && cout % this.numHeads !== 0) {
      throw new NnError(`UNetBlock: ${cout} channels do not split into ${this.numHeads} heads`);
    }
    this.norm0 = this.child('norm0', new GroupNorm(cin, 32, 4, eps));
    this.conv0 = this.child(
      'conv0',
      new Conv2d({
        inChannels: cin,
        outChannels: cout,
        kernel: 3,
        up: c.up,
        down: c.down,
        resampleFilter: filter,
        init,
      }),
    );
    this.affine = this.child(
      'affine',
      new Linear(c.embChannels, cout * (this.adaptiveScale ? 2 : 1), true, init),
    );
    this.norm1 = this.child('norm1', new GroupNorm(cout, 32, 4, eps));
    this.conv1 = this.child(
      'conv1',
      new Conv2d({ inChannels: cout, outChannels: cout, kernel: 3, init: initZero }),
    );
    this.skip = null;
    if (cout !== cin || c.up || c.down) {
      const kernel = c.resampleProj || cout !== cin ? 1 : 0;
      this.skip = this.child(
        'skip',
        new Conv2d({
          inChannels: cin,
          outChannels: cout,
          kernel,
          up: c.up,
          down: c.down,
          resampleFilter: filter,
          init,
        }),
      );
    }
    if (this.numHeads) {
      this.norm2 = this.child('norm2', new GroupNorm(cout, 32, 4, eps));
      this.qkv = this.child(
        'qkv',
        new Conv2d({
          inChannels: cout,
          outChannels: cout * 3,
          kernel: 1,
          init: c.initAttn ?? init,
        }),
      );
      this.proj = this.child(
        'proj',
        new Conv2d({ inChannels: cout, outChannels: cout, kernel: 1, init: initZero }),
      );
    }
  }

  /** x [B, Cin, H, W], emb [B, E] -> [B, Cout, H', W']. */
  forward(x: Tensor, emb: Tensor): Tensor {
    const B = x.shape[0] as number;
    const cout = this.outChannels;
    const params = this.affine.forward(emb); // [B, cout] or, adaptive, [B, 2 * cout]
    let h: Tensor;
    if (this.adaptiveScale) {
      h = this.conv0.forward(this.norm0.forward(x, true));
      const p = reshape(params, [B, this.affine.outFeatures, 1, 1]);
      const scale = slice(p, [0, 0, 0, 0], [B, cout, 1, 1]);
      const shift = slice(p, [0, cout, 0, 0], [B, cout, 1, 1]);
      // silu(shift + norm1(h) * (scale + 1))
      h = silu(add(shift, mul(this.norm1.forward(h), add(scale, 1))));
    } else {
      // norm1(conv0(...) + params): the addition is conv0's epilogue (no pass of its own).
      h = this.conv0.forward(this.norm0.forward(x, true), { shift: params });
      h = this.norm1.forward(h, true);
    }
    if (this.training && this.dropout > 0) {
      if (!this.rng) throw new NnError('UNetBlock: dropout in training mode needs a random stream');
      h = dropout(h, this.dropout, { seed: this.rng.seed, stream: this.rng.next() });
    }
    // (conv1(h) + skip) * skip_scale, the sum and scale as conv1's epilogue.
    const residual = this.skip ? this.skip.forward(x) : x;
    h = this.conv1.forward(h, { residual, scale: this.skipScale });
    if (!this.numHeads) return h;
    return this.attend(h);
  }

  /** Self-attention over the H*W positions, qkv interleaved per channel (SPEC 5.2). */
  private attend(x: Tensor): Tensor {
    const [B, C, H, W] = x.shape as [number, number, number, number];
    const heads = this.numHeads;
    const ch = C / heads;
    const L = H * W;
    const qkv = (this.qkv as Conv2d).forward((this.norm2 as GroupNorm).forward(x));
    // [B, 3C, H, W] in memory order is [B*heads, ch, 3, L]: channel j is q/k/v for j mod 3.
    const a = attentionQKV(reshape(qkv, [B * heads, ch, 3, L]));
    addFlops(2 * 2 * B * heads * ch * L * L);
    return (this.proj as Conv2d).forward(reshape(a, [B, C, H, W]), {
      residual: x,
      scale: this.skipScale,
    });
  }
}

/** Joins the decoder input with a popped skip connection (x first), as the official code. */
export function withSkip(x: Tensor, skip: Tensor): Tensor {
  return concat([x, skip], 1);
}
