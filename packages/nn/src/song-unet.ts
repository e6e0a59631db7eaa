/**
 * SongUNet (DDPM++ / NCSN++, SPEC 5.4): a mapping network for the noise level, labels and
 * augmentation labels, then an encoder/decoder of UNetBlocks keyed `{res}x{res}_<entry>` exactly
 * as the official ModuleDicts, so state dicts load by name.
 */
import { add, mul, reshape, silu, type Tensor } from '@pfgmpp/tensor';
import { NnError } from './errors.ts';
import type { InitKwargs } from './init.ts';
import { Conv2d, FourierEmbedding, GroupNorm, Linear, PositionalEmbedding } from './layers.ts';
import { type Module, ModuleDict } from './module.ts';
import type { StreamCounter } from './random.ts';
import { UNetBase, type UNetConfig } from './unet-base.ts';
import { UNetBlock, type UNetBlockConfig, withSkip } from './unet-block.ts';

/** The keyword arguments of the official constructor (names as in `_init_kwargs`). */
export interface SongUNetConfig extends UNetConfig {
  embedding_type?: 'positional' | 'fourier';
  channel_mult_noise?: number;
  encoder_type?: 'standard' | 'skip' | 'residual';
  decoder_type?: 'standard' | 'skip';
  resample_filter?: readonly number[];
}

/** What every U-Net offers the preconditioners. */
export interface UNet extends Module {
  readonly imgResolution: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly labelDim: number;
  readonly augmentDim: number;
  rng: StreamCounter;
  /** x [B, C, H, W], noise labels [B], labels [B, label_dim] or null, augment labels [B, aug] or null. */
  forward(
    x: Tensor,
    noiseLabels: Tensor,
    classLabels: Tensor | null,
    augmentLabels: Tensor | null,
  ): Tensor;
}

function oneOf<T extends string>(v: T, valid: readonly T[], what: string): T {
  if (!valid.includes(v))
    throw new NnError(`${what} must be one of ${valid.join(', ')}, got ${String(v)}`);
  return v;
}

export class SongUNet extends UNetBase implements UNet {
  readonly mapNoise: PositionalEmbedding | FourierEmbedding;
  readonly mapLabel: Linear | null;
  readonly mapAugment: Linear | null;
  readonly mapLayer0: Linear;
  readonly mapLayer1: Linear;
  readonly enc: ModuleDict;
  readonly dec: ModuleDict;

  constructor(readonly config: SongUNetConfig) {
    const mult = config.channel_mult ?? [1, 2, 2, 2];
    super(config, mult.length);
    const c = config;
    const mc = c.model_channels ?? 128;
    const E = mc * (c.channel_mult_emb ?? 4);
    const Nc = mc * (c.channel_mult_noise ?? 1);
    const numBlocks = c.num_blocks ?? 4;
    const attnRes = c.attn_resolutions ?? [16];
    const embedding = oneOf(
      c.embedding_type ?? 'positional',
      ['positional', 'fourier'],
      'embedding_type',
    );
    const encoderType = oneOf(
      c.encoder_type ?? 'standard',
      ['standard', 'skip', 'residual'],
      'encoder_type',
    );
    const decoderType = oneOf(c.decoder_type ?? 'standard', ['standard', 'skip'], 'decoder_type');
    const filter = c.resample_filter ?? [1, 1];

    const init: InitKwargs = { mode: 'xavier_uniform' };
    const initZero: InitKwargs = { mode: 'xavier_uniform', weight: 1e-5 };
    const initAttn: InitKwargs = { mode: 'xavier_uniform', weight: Math.sqrt(0.2) };
    const block = (o: Partial<UNetBlockConfig> & { inChannels: number; outChannels: number }) =>
      new UNetBlock({
        embChannels: E,
        numHeads: 1,
        dropout: c.dropout ?? 0.1,
        skipScale: Math.sqrt(0.5),
        eps: 1e-6,
        resampleFilter: filter,
        resampleProj: true,
        adaptiveScale: false,
        init,
        initZero,
        initAttn,
        ...o,
      });

    this.mapNoise = this.child(
      'map_noise',
      embedding === 'positional'
        ? new PositionalEmbedding(Nc, 10000, true)
        : new FourierEmbedding(Nc),
    );
    this.mapLabel = this.labelDim
      ? this.child('map_label', new Linear(this.labelDim, Nc, true, init))
      : null;
    this.mapAugment = this.augmentDim
      ? this.child('map_augment', new Linear(this.augmentDim, Nc, false, init))
      : null;
    this.mapLayer0 = this.child('map_layer0', new Linear(Nc, E, true, init));
    this.mapLayer1 = this.child('map_layer1', new Linear(E, E, true, init));

    this.enc = this.child('enc', new ModuleDict());
    const addEnc = <M extends Module>(name: string, m: M): M => this.enc.add(name, m);
    let cout = c.in_channels;
    let caux = c.in_channels;
    const skips: number[] = [];
    mult.forEach((m, level) => {
      const res = c.img_resolution >> level;
      if (level === 0) {
        const cin = cout;
        cout = mc;
        addEnc(
          `${res}x${res}_conv`,
          new Conv2d({ inChannels: cin, outChannels: cout, kernel: 3, init }),
        );
        skips.push(cout);
      } else {
        addEnc(`${res}x${res}_down`, block({ inChannels: cout, outChannels: cout, down: true }));
        skips.push(cout);
        if (encoderType === 'skip') {
          addEnc(
            `${res}x${res}_aux_down`,
            new Conv2d({
              inChannels: caux,
              outChannels: caux,
              kernel: 0,
              down: true,
              resampleFilter: filter,
            }),
          );
          addEnc(
            `${res}x${res}_aux_skip`,
            new Conv2d({ inChannels: caux, outChannels: cout, kernel: 1, init }),
          );
        }
        if (encoderType === 'residual') {
          addEnc(
            `${res}x${res}_aux_residual`,
            new Conv2d({
              inChannels: caux,
              outChannels: cout,
              kernel: 3,
              down: true,
              resampleFilter: filter,
              fusedResample: true,
              init,
            }),
          );
          caux = cout;
        }
      }
      for (let i = 0; i < numBlocks; i++) {
        const cin = cout;
        cout = mc * m;
        addEnc(
          `${res}x${res}_block${i}`,
          block({ inChannels: cin, outChannels: cout, attention: attnRes.includes(res) }),
        );
        skips.push(cout);
      }
    });

    this.dec = this.child('dec', new ModuleDict());
    const addDec = <M extends Module>(name: string, m: M): M => this.dec.add(name, m);
    for (let level = mult.length - 1; level >= 0; level--) {
      const res = c.img_resolution >> level;
      if (level === mult.length - 1) {
        addDec(
          `${res}x${res}_in0`,
          block({ inChannels: cout, outChannels: cout, attention: true }),
        );
        addDec(`${res}x${res}_in1`, block({ inChannels: cout, outChannels: cout }));
      } else {
        addDec(`${res}x${res}_up`, block({ inChannels: cout, outChannels: cout, up: true }));
      }
      for (let i = 0; i <= numBlocks; i++) {
        const cin = cout + (skips.pop() as number);
        cout = mc * (mult[level] as number);
        const attention = i === numBlocks && attnRes.includes(res);
        addDec(`${res}x${res}_block${i}`, block({ inChannels: cin, outChannels: cout, attention }));
      }
      if (decoderType === 'skip' || level === 0) {
        if (decoderType === 'skip' && level < mult.length - 1) {
          addDec(
            `${res}x${res}_aux_up`,
            new Conv2d({
              inChannels: c.out_channels,
              outChannels: c.out_channels,
              kernel: 0,
              up: true,
              resampleFilter: filter,
            }),
          );
        }
        addDec(`${res}x${res}_aux_norm`, new GroupNorm(cout, 32, 4, 1e-6));
        addDec(
          `${res}x${res}_aux_conv`,
          new Conv2d({ inChannels: cout, outChannels: c.out_channels, kernel: 3, init: initZero }),
        );
      }
    }
    this.shareRng();
  }

  forward(
    x: Tensor,
    noiseLabels: Tensor,
    classLabels: Tensor | null,
    augmentLabels: Tensor | null,
  ): Tensor {
    let emb = this.mapNoise.forward(noiseLabels, true); // [sin | cos], as the official flip
    if (this.mapLabel) {
      const labels = this.labelsFor(classLabels);
      emb = add(emb, this.mapLabel.forward(mul(labels, Math.sqrt(this.labelDim))));
    }
    if (this.mapAugment && augmentLabels) emb = add(emb, this.mapAugment.forward(augmentLabels));
    emb = silu(this.mapLayer0.forward(emb));
    emb = silu(this.mapLayer1.forward(emb));

    const skips: Tensor[] = [];
    let aux = x;
    let h = x;
    for (const [name, block] of this.enc.entries) {
      if (name.includes('aux_down')) {
        aux = (block as Conv2d).forward(aux);
      } else if (name.includes('aux_skip')) {
        h = add(h, (block as Conv2d).forward(aux));
        skips[skips.length - 1] = h;
      } else if (name.includes('aux_residual')) {
        h = mul(add(h, (block as Conv2d).forward(aux)), Math.SQRT1_2);
        skips[skips.length - 1] = h;
        aux = h;
      } else {
        h = block instanceof UNetBlock ? block.forward(h, emb) : (block as Conv2d).forward(h);
        skips.push(h);
      }
    }

    let out: Tensor | null = null;
    let t: Tensor | null = null;
    for (const [name, block] of this.dec.entries) {
      if (name.includes('aux_up')) {
        out = (block as Conv2d).forward(out as Tensor);
      } else if (name.includes('aux_norm')) {
        t = (block as GroupNorm).forward(h, true); // silu(aux_norm(x)) feeds aux_conv
      } else if (name.includes('aux_conv')) {
        const y = (block as Conv2d).forward(t as Tensor);
        out = out ? add(y, out) : y;
      } else {
        const b = block as UNetBlock;
        if ((h.shape[1] as number) !== b.inChannels) h = withSkip(h, skips.pop() as Tensor);
        h = b.forward(h, emb);
      }
    }
    return reshape(out as Tensor, (out as Tensor).shape);
  }
}
