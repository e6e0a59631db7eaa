/**
 * What SongUNet and DhariwalUNet share: the training-time random stream handed to every
 * UNetBlock (dropout), and class labels with label dropout.
 */
import { ge, mul, rand, type Tensor } from '@pfgmpp/tensor';
import { NnError } from './errors.ts';
import { Module } from './module.ts';
import { StreamCounter } from './random.ts';
import { UNetBlock } from './unet-block.ts';

/** Rows of `labels` [B, n] zeroed with probability p (label dropout, training only). */
export function dropLabels(labels: Tensor, p: number, rng: StreamCounter): Tensor {
  const B = labels.shape[0] as number;
  const keepMask = ge(rand([B, 1], { seed: rng.seed, stream: rng.next() }), p);
  return mul(labels, keepMask);
}

/** Constructor keywords both U-Nets take (names as in the official `_init_kwargs`). */
export interface UNetConfig {
  img_resolution: number;
  in_channels: number;
  out_channels: number;
  label_dim?: number;
  augment_dim?: number;
  model_channels?: number;
  channel_mult?: readonly number[];
  channel_mult_emb?: number;
  num_blocks?: number;
  attn_resolutions?: readonly number[];
  dropout?: number;
  label_dropout?: number;
}

export abstract class UNetBase extends Module {
  readonly imgResolution: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly labelDim: number;
  readonly augmentDim: number;
  readonly labelDropout: number;
  private rngValue = new StreamCounter();

  /** `levels` resolutions, each half the previous: img_resolution must survive the halvings. */
  constructor(c: UNetConfig, levels: number) {
    super();
    if (c.img_resolution % 2 ** (levels - 1) !== 0) {
      throw new NnError(`img_resolution ${c.img_resolution} is not divisible by 2^${levels - 1}`);
    }
    this.imgResolution = c.img_resolution;
    this.inChannels = c.in_channels;
    this.outChannels = c.out_channels;
    this.labelDim = c.label_dim ?? 0;
    this.augmentDim = c.augment_dim ?? 0;
    this.labelDropout = c.label_dropout ?? 0;
  }

  /** The stream dropout and label dropout draw from; setting it reaches every block. */
  get rng(): StreamCounter {
    return this.rngValue;
  }

  set rng(r: StreamCounter) {
    this.rngValue = r;
    for (const m of this.modules()) if (m instanceof UNetBlock) m.rng = r;
  }

  /** Call at the end of a subclass constructor, once the blocks exist. */
  protected shareRng(): void {
    this.rng = this.rngValue;
  }

  /** The class labels map_label sees: required when label_dim > 0, rows dropped in training. */
  protected labelsFor(classLabels: Tensor | null): Tensor {
    if (!classLabels) {
      throw new NnError(`${this.constructor.name}: label_dim ${this.labelDim} needs class labels`);
    }
    return this.training && this.labelDropout
      ? dropLabels(classLabels, this.labelDropout, this.rngValue)
      : classLabels;
  }
}
