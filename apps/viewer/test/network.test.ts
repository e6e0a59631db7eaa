/**
 * The page's loader on the PFGM++ training states written by the official training loop
 * (test/fixtures/official): what it reports about each network, and weights identical to the
 * official state dict of the same network (test/fixtures/nn/NAME.pt).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { npzJson, readCheckpoint, readNpz } from '@pfgmpp/io';
import { getDevice } from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNetworkBytes } from '../src/network.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures');
const INDEX = JSON.parse(readFileSync(join(FIXTURES, 'official/index.json'), 'utf8')) as Record<
  string,
  { file: string; param_count: number; D: number | null; precond: string }
>;

interface Config {
  constructor_kwargs: Record<string, unknown>;
}

describe.skipIf(GPU_SKIP_REASON)('viewer loader on official training states', () => {
  beforeAll(async () => {
    await getDevice();
  });

  for (const [name, entry] of Object.entries(INDEX)) {
    it(name, async () => {
      const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'official', entry.file)));
      const { net, info } = loadNetworkBytes(bytes, 'training-state-000123.pt');
      const nn = (f: string) => new Uint8Array(readFileSync(join(FIXTURES, 'nn', f)));
      const kw = (npzJson(readNpz(nn(`${name}.npz`)), 'config') as Config).constructor_kwargs;
      // EDMPrecond's D; VEPrecond keeps the pfgmpp/D keywords of PFGM++'s training loop.
      const D = entry.D ?? (kw.pfgmpp === true ? kw.D : Number.POSITIVE_INFINITY);
      expect(info).toEqual({
        fileName: 'training-state-000123.pt',
        className: entry.precond,
        architecture: kw.model_type,
        resolution: kw.img_resolution,
        channels: kw.img_channels,
        labelDim: kw.label_dim,
        D,
        parameters: entry.param_count,
        format: 'training-state (torch-zip)',
      });
      const ref = readCheckpoint(nn(`${name}.pt`)).tensors;
      const got = await net.stateDict();
      expect([...got.keys()]).toEqual([...ref.keys()]);
      for (const [k, t] of ref) {
        const g = got.get(k);
        expect(g?.shape, k).toEqual(t.shape);
        expect(
          g?.data.every((v, i) => Object.is(v, t.data[i])),
          `${k} equals the official weights`,
        ).toBe(true);
      }
      net.dispose();
    });
  }
});
