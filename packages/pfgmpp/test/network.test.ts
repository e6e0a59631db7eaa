/**
 * networkFromCheckpoint and the Node loadNetwork: official PFGM++ training states
 * (test/fixtures/official, written by the official training loop) and our safetensors snapshot
 * of the trainer's assets build the right network with the chosen tensors and the D rule
 * (PFGM++ networks carry `pfgmpp: true` and D; others are diffusion); a file whose tensors or
 * parts do not fit is an error that names it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Checkpoint, encodeCheckpoint, readCheckpoint, type TensorMap } from '@pfgmpp/io';
import type { Precond } from '@pfgmpp/nn';
import { GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { networkFromCheckpoint, tensorInputs } from '../src/index.ts';
import { loadNetwork } from '../src/node.ts';

const OFFICIAL = fileURLToPath(new URL('../../../test/fixtures/official/', import.meta.url));
const SNAPSHOT = fileURLToPath(
  new URL('../../../apps/trainer/assets/mnist16-pfgmpp-d128.safetensors', import.meta.url),
);

const INDEX = JSON.parse(readFileSync(`${OFFICIAL}index.json`, 'utf8')) as Record<
  string,
  { file: string; param_count: number; precond: string }
>;

/**
 * The D each official state samples with. PFGM++'s training loop passes pfgmpp/D to every
 * network, so its VE network counts as PFGM++; VP and iDDPM were trained without them.
 */
const SAMPLING_D: Record<string, number> = {
  edm_ddpmpp_uncond: 128,
  edm_ncsnpp_rand: 128,
  edm_adm_rand: 128,
  vp_ddpmpp_uncond: Number.POSITIVE_INFINITY,
  ve_ddpmpp_uncond: 128,
  iddpm_adm_uncond: Number.POSITIVE_INFINITY,
};

function official(name: string): Checkpoint {
  const file = (INDEX[name] as { file: string }).file;
  return readCheckpoint(new Uint8Array(readFileSync(OFFICIAL + file)), {
    fileName: file,
    optimizer: false,
  });
}

/** Every tensor of the network equals the file's, bit for bit. */
async function expectWeights(net: Precond, want: TensorMap): Promise<void> {
  const got = await net.stateDict();
  for (const [k, t] of want) {
    const g = got.get(k);
    expect(g?.shape, k).toEqual(t.shape);
    expect(
      g?.data.every((v, i) => Object.is(v, t.data[i])),
      k,
    ).toBe(true);
  }
}

describe('networkFromCheckpoint: files that do not fit name the file', () => {
  it('tensors of another network: every mismatch listed after the file name', () => {
    const ck = official('edm_ddpmpp_uncond');
    const other = official('edm_ncsnpp_rand').tensors;
    expect(() => networkFromCheckpoint({ ...ck, tensors: other })).toThrow(
      /^edm_ddpmpp_uncond\/training-state-000123\.pt: state dict does not match the network:\n.*unexpected: .*model\.map_label\.weight.*\n.*mis-shaped: model\.map_layer0\.weight \(network \[32, 8\], file \[32, 16\]\)/,
    );
  });

  it('a part the file lacks, weights without architecture, an unknown class', () => {
    const ck = official('vp_ddpmpp_uncond');
    expect(() => networkFromCheckpoint({ ...ck, ema: undefined }, { which: 'ema' })).toThrow(
      'vp_ddpmpp_uncond/training-state-000123.pt: the file has no ema network',
    );
    expect(() => networkFromCheckpoint({ ...ck, initKwargs: undefined }, { name: 'w.pt' })).toThrow(
      /^w\.pt: the file holds weights but not the network's architecture/,
    );
    expect(() => networkFromCheckpoint({ ...ck, className: 'nets.Unet' })).toThrow(
      /^vp_ddpmpp_uncond\/training-state-000123\.pt: unknown network class Unet; valid: /,
    );
  });

  it('loadNetwork names the path', async () => {
    await expect(loadNetwork(SNAPSHOT, 'net')).rejects.toThrow(
      `${SNAPSHOT}: the file has no net network`,
    );
  });
});

describe.skipIf(GPU_SKIP_REASON)('networkFromCheckpoint: network, tensors and D', () => {
  beforeAll(async () => {
    await testGpu();
  });

  for (const [name, entry] of Object.entries(INDEX)) {
    it(`official ${name}: ${entry.precond}, D = ${SAMPLING_D[name]}`, async () => {
      const ck = official(name);
      const { net, className, D } = networkFromCheckpoint(ck);
      try {
        expect(className).toBe(entry.precond);
        expect(D).toBe(SAMPLING_D[name]);
        expect(net.parameterCount()).toBe(entry.param_count);
        expect(net.training).toBe(false);
        await expectWeights(net, ck.tensors);
      } finally {
        net.dispose();
      }
    });
  }

  it('which: run is the EMA, net the training network', async () => {
    const ck = official('edm_ddpmpp_uncond');
    expect(ck.tensors).toBe(ck.ema);
    // The fixture's net and ema are equal; a negated copy tells them apart.
    const net: TensorMap = new Map(
      [...ck.tensors].map(([k, t]) => [k, { ...t, data: t.data.map((v) => -v) }]),
    );
    for (const [which, want] of [
      ['net', net],
      ['run', ck.tensors],
    ] as const) {
      const loaded = networkFromCheckpoint({ ...ck, net }, { which });
      try {
        await expectWeights(loaded.net, want);
      } finally {
        loaded.net.dispose();
      }
    }
  });

  it('our safetensors snapshot: PFGM++ D = 128; the same network marked diffusion: Infinity', async () => {
    const pfgmpp = await loadNetwork(SNAPSHOT);
    try {
      expect(pfgmpp.className).toBe('EDMPrecond');
      expect(pfgmpp.D).toBe(128);
      expect(pfgmpp.checkpoint.format).toBe('network-snapshot');
    } finally {
      pfgmpp.net.dispose();
    }
    // EDMPrecond stores D = 128 whatever it was trained as: the pfgmpp keyword decides.
    const ck = pfgmpp.checkpoint;
    const bytes = encodeCheckpoint({
      kind: 'network-snapshot',
      className: ck.className as string,
      initKwargs: { ...ck.initKwargs, pfgmpp: false },
      ema: tensorInputs(ck.tensors),
    });
    const diffusion = networkFromCheckpoint(readCheckpoint(bytes, { fileName: 'edm.safetensors' }));
    try {
      expect((diffusion.net as unknown as { D: number }).D).toBe(128);
      expect(diffusion.D).toBe(Number.POSITIVE_INFINITY);
    } finally {
      diffusion.net.dispose();
    }
  });
});
