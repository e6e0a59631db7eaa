/**
 * `denoise` and `generate` straight from the PFGM++ training states written by the official
 * training loop (test/fixtures/official): the network is built from the pickle's class and
 * constructor keywords and runs the EMA weights. Each must give what the same network gives
 * from the reference weights (test/fixtures/nn/NAME.pt in a snapshot of ours, built from the
 * official constructor keywords): identical numbers, and D(x; sigma) as the official forward
 * pass recorded it (NAME.npz; the `_rand` nets' perturbed weights make every layer count).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JsonObject, readNpy, toFloat32, writeNpy } from '@pfgmpp/io';
import { writeCheckpointFile, writeFileAtomic } from '@pfgmpp/io/node';
import { expectCloseToScale, GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { OFFICIAL_INDEX, OFFICIAL_NAMES, officialFile, reference } from './official.ts';
import { cli } from './run-cli.ts';

/** As packages/nn's network tests: 1e-4 of max|D_x| (float32, other summation orders). */
const NET_RTOL = 1e-4;
const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-official-nets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const npy = (path: string) => toFloat32(readNpy(new Uint8Array(readFileSync(path))));

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

describe.skipIf(GPU_SKIP_REASON)('denoise and generate with official training states', () => {
  for (const name of OFFICIAL_NAMES) {
    it(name, async () => {
      const { config, arrays, weights } = reference(name);
      const kw = config.constructor_kwargs;
      const ours = join(dir, `${name}.safetensors`);
      await writeCheckpointFile(ours, {
        kind: 'network-snapshot',
        className: config.precond_class,
        initKwargs: kw as JsonObject,
        ema: new Map([...weights].map(([n, t]) => [n, { shape: t.shape, data: t.data }])),
        step: 0,
      });
      const inputs: string[] = [];
      for (const [key, option] of [
        ['x', '--x'],
        ['sigma', '--sigma'],
        ['class_labels', '--labels'],
        ['augment_labels', '--augment-labels'],
      ] as const) {
        const a = arrays.get(key);
        if (!a) continue;
        const path = join(dir, `${name}.${key}.npy`);
        await writeFileAtomic(path, writeNpy({ ...a, dtype: 'float32', data: toFloat32(a) }));
        inputs.push(option, path);
      }

      const denoised: Float32Array[] = [];
      const samples: Float32Array[] = [];
      for (const [k, network] of [officialFile(name), ours].entries()) {
        const d = join(dir, `${name}.d${k}.npy`);
        const r = await cli('denoise', '--network', network, ...inputs, '--out', d);
        expect(r.code, r.err).toBe(0);
        denoised.push(npy(d));
        const s = join(dir, `${name}.s${k}.npy`);
        const g = await cli(
          'generate',
          '--network',
          network,
          '--seeds',
          '0-1',
          '--steps',
          '2',
          '--save-npy',
          s,
        );
        expect(g.code, g.err).toBe(0);
        // EDMPrecond's D, or the pfgmpp/D keywords PFGM++'s training passes every network.
        const D = OFFICIAL_INDEX[name]?.D ?? (kw.pfgmpp === true ? kw.D : 'inf');
        expect(g.out).toContain(`(D = ${D}, `);
        samples.push(npy(s));
      }
      const [fromFile, fromRef] = denoised as [Float32Array, Float32Array];
      expect(sameBits(fromFile, fromRef), 'denoise: official file = reference weights').toBe(true);
      expectCloseToScale(fromFile, toFloat32(arrays.get('D_x') as never), NET_RTOL, `${name} D_x`);
      const [a, b] = samples as [Float32Array, Float32Array];
      expect(a.length).toBe(2 * 3 * 16 * 16);
      expect(a.every(Number.isFinite)).toBe(true);
      expect(sameBits(a, b), 'generate: official file = reference weights').toBe(true);
    });
  }
});
