/**
 * What train.py builds for `--arch` and `--precond` (SPEC 5.6), and the published recipes.
 * The result is the official (class name, `_init_kwargs`) pair, so checkpoints record the
 * architecture the same way the original does.
 */
import { NnError } from './errors.ts';
import type { PrecondKwargs } from './precond.ts';

export type Arch = 'ddpmpp' | 'ncsnpp' | 'adm';
export const ARCHS: readonly Arch[] = ['ddpmpp', 'ncsnpp', 'adm'];
export type PrecondChoice = 'vp' | 've' | 'edm';
export const PRECOND_CHOICES: readonly PrecondChoice[] = ['vp', 've', 'edm'];

export interface ArchOptions {
  resolution: number;
  channels: number;
  labelDim?: number;
  /** 9 when `--augment` > 0, else 0. */
  augmentDim?: number;
  /** `--cbase` (model_channels), `--cres` (channel_mult), `--nblock` (num_blocks). */
  cbase?: number;
  cres?: readonly number[];
  nblock?: number;
  dropout?: number;
  /** PFGM++: D finite makes a PFGM++ network; Infinity (or undefined) a diffusion one. */
  D?: number;
}

export interface NetworkSpec {
  className: 'EDMPrecond' | 'VEPrecond' | 'VPPrecond';
  kwargs: PrecondKwargs;
}

export function archKwargs(arch: Arch): Record<string, unknown> {
  switch (arch) {
    case 'ddpmpp':
      return {
        model_type: 'SongUNet',
        embedding_type: 'positional',
        encoder_type: 'standard',
        decoder_type: 'standard',
        channel_mult_noise: 1,
        resample_filter: [1, 1],
        model_channels: 128,
        channel_mult: [2, 2, 2],
      };
    case 'ncsnpp':
      return {
        model_type: 'SongUNet',
        embedding_type: 'fourier',
        encoder_type: 'residual',
        decoder_type: 'standard',
        channel_mult_noise: 2,
        resample_filter: [1, 3, 3, 1],
        model_channels: 128,
        channel_mult: [2, 2, 2],
      };
    case 'adm':
      return { model_type: 'DhariwalUNet', model_channels: 192, channel_mult: [1, 2, 3, 4] };
  }
  throw new NnError(`--arch must be one of ${ARCHS.join(', ')}, got ${String(arch)}`);
}

const CLASS: Record<PrecondChoice, NetworkSpec['className']> = {
  vp: 'VPPrecond',
  ve: 'VEPrecond',
  edm: 'EDMPrecond',
};

/** The network train.py constructs for these options. */
export function networkSpec(arch: Arch, precond: PrecondChoice, o: ArchOptions): NetworkSpec {
  const className = CLASS[precond];
  if (!className) {
    throw new NnError(
      `--precond must be one of ${PRECOND_CHOICES.join(', ')}, got ${String(precond)}`,
    );
  }
  const kwargs: PrecondKwargs = {
    img_resolution: o.resolution,
    img_channels: o.channels,
    label_dim: o.labelDim ?? 0,
    use_fp16: false,
    ...archKwargs(arch),
  };
  if (o.cbase !== undefined) kwargs.model_channels = o.cbase;
  if (o.cres !== undefined) kwargs.channel_mult = [...o.cres];
  if (o.nblock !== undefined) kwargs.num_blocks = o.nblock;
  kwargs.dropout = o.dropout ?? 0.13;
  if (o.augmentDim) kwargs.augment_dim = o.augmentDim;
  const D = o.D ?? Number.POSITIVE_INFINITY;
  if (precond !== 'vp') {
    kwargs.pfgmpp = Number.isFinite(D);
    kwargs.D = Number.isFinite(D) ? D : 128;
  }
  return { className, kwargs };
}

/** The published recipes' networks (SPEC 5.6, second table). */
export const RECIPES = {
  'cifar10-ddpmpp': {
    arch: 'ddpmpp',
    resolution: 32,
    cres: [2, 2, 2],
    dropout: 0.13,
    augmentDim: 9,
  },
  'cifar10-ncsnpp': {
    arch: 'ncsnpp',
    resolution: 32,
    cres: [2, 2, 2],
    dropout: 0.13,
    augmentDim: 9,
  },
  'ffhq64-ddpmpp': {
    arch: 'ddpmpp',
    resolution: 64,
    cres: [1, 2, 2, 2],
    dropout: 0.05,
    augmentDim: 9,
  },
  'ffhq64-ncsnpp': {
    arch: 'ncsnpp',
    resolution: 64,
    cres: [1, 2, 2, 2],
    dropout: 0.05,
    augmentDim: 9,
  },
  'afhqv2-64-ddpmpp': {
    arch: 'ddpmpp',
    resolution: 64,
    cres: [1, 2, 2, 2],
    dropout: 0.25,
    augmentDim: 9,
  },
  'imagenet64-adm': {
    arch: 'adm',
    resolution: 64,
    cres: [1, 2, 3, 4],
    dropout: 0.1,
    augmentDim: 0,
    labelDim: 1000,
  },
} as const satisfies Record<
  string,
  {
    arch: Arch;
    resolution: number;
    cres: readonly number[];
    dropout: number;
    augmentDim: number;
    labelDim?: number;
  }
>;
