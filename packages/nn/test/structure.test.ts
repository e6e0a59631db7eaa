/**
 * Structure without weights: the official state-dict listings of CIFAR-10 DDPM++/NCSN++
 * (spec/*.tsv), parameter and buffer counts of every published recipe (SPEC 5.8), the
 * min_channels_per_group rule, and clear errors for configurations that cannot be built.
 * Construction touches no GPU, so the 296M-parameter ImageNet ADM is checked here too.
 */
import { readFileSync } from 'node:fs';
import { buildPrecond, GroupNorm, NnError, networkSpec, RECIPES } from '@pfgmpp/nn';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from './fixtures.ts';

function tsv(name: string): [string, number[], string][] {
  return readFileSync(FIXTURES + name, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [n, shape, kind] = l.split('\t');
      return [n as string, JSON.parse(shape as string) as number[], kind as string];
    });
}

function listing(className: string, kwargs: Parameters<typeof buildPrecond>[1]) {
  const net = buildPrecond(className, kwargs);
  return [...net.namedSlots()].map(([n, s]) => [n, [...s.shape], s.trainable ? 'P' : 'B']);
}

describe('state-dict listings of the specification', () => {
  it('CIFAR-10 DDPM++ unconditional with augment_dim 9 (425 tensors)', () => {
    const spec = networkSpec('ddpmpp', 'edm', {
      resolution: 32,
      channels: 3,
      augmentDim: 9,
      D: 128,
    });
    const ref = tsv('statedict-ddpmpp-cifar10-uncond.tsv');
    expect(ref.length).toBe(425);
    expect(listing(spec.className, spec.kwargs)).toEqual(ref);
  });

  it('CIFAR-10 NCSN++ conditional with augment_dim 9', () => {
    const spec = networkSpec('ncsnpp', 'edm', {
      resolution: 32,
      channels: 3,
      labelDim: 10,
      augmentDim: 9,
      D: 128,
    });
    expect(listing(spec.className, spec.kwargs)).toEqual(tsv('statedict-ncsnpp-cifar10-cond.tsv'));
  });
});

describe('parameter counts of SPEC 5.8', () => {
  const cases: [
    string,
    Parameters<typeof networkSpec>[2] & { arch: 'ddpmpp' | 'ncsnpp' | 'adm' },
    number,
    number,
  ][] = [
    [
      'ddpmpp CIFAR-10 uncond',
      { arch: 'ddpmpp', resolution: 32, channels: 3, augmentDim: 9 },
      55_733_891,
      32,
    ],
    [
      'ddpmpp CIFAR-10 uncond, no augment',
      { arch: 'ddpmpp', resolution: 32, channels: 3 },
      55_732_739,
      32,
    ],
    [
      'ddpmpp CIFAR-10 cond',
      { arch: 'ddpmpp', resolution: 32, channels: 3, augmentDim: 9, labelDim: 10 },
      55_735_299,
      32,
    ],
    [
      'ncsnpp CIFAR-10 uncond',
      { arch: 'ncsnpp', resolution: 32, channels: 3, augmentDim: 9 },
      56_397_827,
      288,
    ],
    [
      'ncsnpp CIFAR-10 cond',
      { arch: 'ncsnpp', resolution: 32, channels: 3, augmentDim: 9, labelDim: 10 },
      56_400_643,
      288,
    ],
    [
      'ddpmpp 64x64',
      { arch: 'ddpmpp', resolution: 64, channels: 3, augmentDim: 9, cres: [1, 2, 2, 2] },
      61_805_571,
      48,
    ],
    [
      'ncsnpp 64x64',
      { arch: 'ncsnpp', resolution: 64, channels: 3, augmentDim: 9, cres: [1, 2, 2, 2] },
      62_761_091,
      368,
    ],
    [
      'adm 64x64 cond 1000',
      { arch: 'adm', resolution: 64, channels: 3, labelDim: 1000 },
      295_899_267,
      48,
    ],
  ];
  for (const [what, o, params, buffers] of cases) {
    it(what, () => {
      const spec = networkSpec(o.arch, 'edm', o);
      const net = buildPrecond(spec.className, spec.kwargs);
      expect(net.parameterCount()).toBe(params);
      expect(net.bufferCount()).toBe(buffers);
    });
  }

  it('the recipes table builds', () => {
    for (const [name, r] of Object.entries(RECIPES)) {
      const spec = networkSpec(r.arch, 'edm', { ...r, channels: 3 });
      expect(buildPrecond(spec.className, spec.kwargs).parameterCount(), name).toBeGreaterThan(5e7);
    }
  });
});

describe('configuration rules and errors', () => {
  it('GroupNorm uses min(32, C // min_channels_per_group) groups', () => {
    expect(new GroupNorm(12).numGroups).toBe(3);
    expect(new GroupNorm(64).numGroups).toBe(16);
    expect(new GroupNorm(256).numGroups).toBe(32);
    expect(new GroupNorm(48, 8, 2, 1e-6).numGroups).toBe(8);
    expect(() => new GroupNorm(3)).toThrow(NnError);
  });

  it('names the bad keyword', () => {
    const base = {
      img_resolution: 16,
      img_channels: 3,
      model_type: 'SongUNet' as const,
      model_channels: 8,
      channel_mult: [1, 2],
    };
    expect(() => buildPrecond('EDMPrecond', { ...base, encoder_type: 'weird' })).toThrow(
      /encoder_type must be one of standard, skip, residual/,
    );
    expect(() => buildPrecond('EDMPrecond', { ...base, model_type: 'Other' as never })).toThrow(
      /model_type/,
    );
    expect(() => buildPrecond('FooPrecond', base)).toThrow(/unknown network class FooPrecond/);
    expect(() => buildPrecond('EDMPrecond', { ...base, img_resolution: 15 })).toThrow(
      /not divisible/,
    );
    expect(() => networkSpec('unet' as never, 'edm', { resolution: 32, channels: 3 })).toThrow(
      /--arch must be one of ddpmpp, ncsnpp, adm/,
    );
    expect(() => networkSpec('ddpmpp', 'foo' as never, { resolution: 32, channels: 3 })).toThrow(
      /--precond must be one of vp, ve, edm/,
    );
  });

  it('forward before initialisation says what to do', () => {
    const net = buildPrecond('EDMPrecond', {
      img_resolution: 8,
      img_channels: 1,
      model_type: 'SongUNet',
      model_channels: 8,
      channel_mult: [1],
    });
    const [, slot] = [...net.namedParameters()][0] as [string, { tensor: unknown }];
    expect(() => slot.tensor).toThrow(/initialize\(\) or loadStateDict\(\)/);
  });
});
