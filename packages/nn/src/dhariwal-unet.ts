/**
 * DhariwalUNet (ADM, SPEC 5.5): adaptive-scale blocks, attention heads = channels / 64 (so none
 * below 64 channels, as the original), zero-initialised output and residual convolutions.
 */
import { add, silu, type Tensor } from '@pfgmpp/tensor';
import type { InitKwargs } from './init.ts';
import { Conv2d, GroupNorm, Linear, PositionalEmbedding } from './layers.ts';
import { ModuleDict } from './module.ts';
import type { UNet } from './song-unet.ts';
import { UNetBase, type UNetConfig } from './unet-base.ts';
import { UNetBlock, type UNetBlockConfig, withSkip } from './unet-block.ts';

export type DhariwalUNetConfig = UNetConfig;

export class DhariwalUNet extends UNetBase implements UNet {
  readonly mapNoise: PositionalEmbedding;
  readonly mapAugment: Linear | null;
  readonly mapLayer0: Linear;
  readonly mapLayer1: Linear;
  readonly mapLabel: Linear | null;
  readonly enc: ModuleDict;
  readonly dec: ModuleDict;
  readonly outNorm: GroupNorm;
  readonly outConv: Conv2d;

  constructor(readonly config: DhariwalUNetConfig) {
    const mult = config.channel_mult ?? [1, 2, 3, 4];
    super(config, mult.length);
    const c = config;
    const mc = c.model_channels ?? 192;
    const E = mc * (c.channel_mult_emb ?? 4);
    const numBlocks = c.num_blocks ?? 3;
    const attnRes = c.attn_resolutions ?? [32, 16, 8];
    // U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases; zeros for the residual ends.
    const init: InitKwargs = {
      mode: 'kaiming_uniform',
      weight: Math.sqrt(1 / 3),
      bias: Math.sqrt(1 / 3),
    };
    const initZero: InitKwargs = { mode: 'kaiming_uniform', weight: 0, bias: 0 };
    const block = (o: Partial<UNetBlockConfig> & { inChannels: number; outChannels: number }) =>
      new UNetBlock({
        embChannels: E,
        channelsPerHead: 64,
        dropout: c.dropout ?? 0.1,
        init,
        initZero,
        ...o,
      });

    this.mapNoise = this.child('map_noise', new PositionalEmbedding(mc));
    this.mapAugment = this.augmentDim
      ? this.child('map_augment', new Linear(this.augmentDim, mc, false, initZero))
      : null;
    this.mapLayer0 = this.child('map_layer0', new Linear(mc, E, true, init));
    this.mapLayer1 = this.child('map_layer1', new Linear(E, E, true, init));
    this.mapLabel = this.labelDim
      ? this.child(
          'map_label',
          new Linear(this.labelDim, E, false, {
            mode: 'kaiming_normal',
            weight: Math.sqrt(this.labelDim),
          }),
        )
      : null;

    this.enc = this.child('enc', new ModuleDict());
    let cout = c.in_channels;
    const skips: number[] = [];
    mult.forEach((m, level) => {
      const res = c.img_resolution >> level;
      if (level === 0) {
        const cin = cout;
        cout = mc * m;
        this.enc.add(
          `${res}x${res}_conv`,
          new Conv2d({ inChannels: cin, outChannels: cout, kernel: 3, init }),
        );
      } else {
        this.enc.add(
          `${res}x${res}_down`,
          block({ inChannels: cout, outChannels: cout, down: true }),
        );
      }
      skips.push(cout);
      for (let i = 0; i < numBlocks; i++) {
        const cin = cout;
        cout = mc * m;
        this.enc.add(
          `${res}x${res}_block${i}`,
          block({ inChannels: cin, outChannels: cout, attention: attnRes.includes(res) }),
        );
        skips.push(cout);
      }
    });

    this.dec = this.child('dec', new ModuleDict());
    for (let level = mult.length - 1; level >= 0; level--) {
      const res = c.img_resolution >> level;
      if (level === mult.length - 1) {
        this.dec.add(
          `${res}x${res}_in0`,
          block({ inChannels: cout, outChannels: cout, attention: true }),
        );
        this.dec.add(`${res}x${res}_in1`, block({ inChannels: cout, outChannels: cout }));
      } else {
        this.dec.add(`${res}x${res}_up`, block({ inChannels: cout, outChannels: cout, up: true }));
      }
      for (let i = 0; i <= numBlocks; i++) {
        const cin = cout + (skips.pop() as number);
        cout = mc * (mult[level] as number);
        this.dec.add(
          `${res}x${res}_block${i}`,
          block({ inChannels: cin, outChannels: cout, attention: attnRes.includes(res) }),
        );
      }
    }
    this.outNorm = this.child('out_norm', new GroupNorm(cout));
    this.outConv = this.child(
      'out_conv',
      new Conv2d({ inChannels: cout, outChannels: c.out_channels, kernel: 3, init: initZero }),
    );
    this.shareRng();
  }

  forward(
    x: Tensor,
    noiseLabels: Tensor,
    classLabels: Tensor | null,
    augmentLabels: Tensor | null,
  ): Tensor {
    let emb = this.mapNoise.forward(noiseLabels);
    if (this.mapAugment && augmentLabels) emb = add(emb, this.mapAugment.forward(augmentLabels));
    emb = silu(this.mapLayer0.forward(emb));
    emb = this.mapLayer1.forward(emb);
    if (this.mapLabel) {
      emb = add(emb, this.mapLabel.forward(this.labelsFor(classLabels)));
    }
    emb = silu(emb);
    const skips: Tensor[] = [];
    let h = x;
    for (const block of this.enc.entries.values()) {
      h = block instanceof UNetBlock ? block.forward(h, emb) : (block as Conv2d).forward(h);
      skips.push(h);
    }
    for (const block of this.dec.entries.values()) {
      const b = block as UNetBlock;
      if ((h.shape[1] as number) !== b.inChannels) h = withSkip(h, skips.pop() as Tensor);
      h = b.forward(h, emb);
    }
    return this.outConv.forward(this.outNorm.forward(h, true));
  }
}
