/**
 * Whole preconditioned networks against the official ones (test/fixtures/nn, tiny 16x16 nets):
 * state-dict layout, parameter/buffer counts, attention heads, D(x) and dL/dx for every
 * fixture, the raw U-Net output F on the official c_in*x and c_noise, and every parameter
 * gradient of the `*_rand` nets (official init makes U-Net outputs ~0, so those carry the
 * arithmetic). Weights come from the `.pt` files through the state-dict names.
 *
 * Tolerance 1e-4 of max|ref| (reference README): a U-Net chains ~40 float32 layers with
 * different summation orders than PyTorch's; the fixtures' own float32-vs-float64 spread on F is
 * 1e-6, and a wrong layer or layout shows up as O(1) relative error.
 */
import {
  buildPrecond,
  countFlops,
  networkSpec,
  type Precond,
  type PrecondKwargs,
  UNetBlock,
} from '@pfgmpp/nn';
import {
  backward,
  noGrad,
  randn,
  scope,
  scopeAsync,
  type Tensor,
  tensor,
} from '@pfgmpp/tensor/node';
import { expectCloseToScale, GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureBytes, Npz, ptStateDict } from './fixtures.ts';

interface NetConfig {
  precond_class: string;
  constructor_kwargs: PrecondKwargs;
  attributes: Record<string, unknown>;
  state_dict: [string, number[], string][];
  attention_heads: Record<string, number>;
  param_count: number;
  buffer_count: number;
}

const INDEX = JSON.parse(new TextDecoder().decode(fixtureBytes('index.json'))) as Record<
  string,
  { param_count: number; buffer_count: number; precond: string }
>;
const NAMES = Object.keys(INDEX).sort();
const NET_RTOL = 1e-4;

function load(name: string): { net: Precond; npz: Npz; cfg: NetConfig } {
  const npz = new Npz(`${name}.npz`);
  const cfg = npz.json<NetConfig>('config');
  const net = buildPrecond(cfg.precond_class, cfg.constructor_kwargs).eval();
  return { net, npz, cfg };
}

describe('network structure (no GPU needed)', () => {
  for (const name of NAMES) {
    it(`${name}: state-dict names, shapes, counts and heads`, () => {
      const { net, cfg } = load(name);
      const ours = [...net.namedSlots()].map(([n, s]) => [n, [...s.shape]]);
      expect(ours).toEqual(cfg.state_dict.map(([n, shape]) => [n, shape]));
      expect(net.parameterCount()).toBe(INDEX[name]?.param_count);
      expect(net.bufferCount()).toBe(INDEX[name]?.buffer_count);
      const heads: Record<string, number> = {};
      for (const [n, m] of namedBlocks(net)) if (m.numHeads) heads[n] = m.numHeads;
      expect(heads).toEqual(cfg.attention_heads);
      for (const k of ['sigma_min', 'sigma_max', 'D', 'N', 'pfgmpp', 'label_dim'] as const) {
        if (k in cfg.attributes) {
          const v = cfg.attributes[k];
          expect(net.attributes()[k], k).toEqual(v === 'inf' ? Number.POSITIVE_INFINITY : v);
        }
      }
    });
  }
});

/** UNetBlocks by their name relative to the U-Net ('enc.8x8_block0'). */
function namedBlocks(net: Precond): [string, UNetBlock][] {
  const out: [string, UNetBlock][] = [];
  for (const part of ['enc', 'dec'] as const) {
    const dict = (net.model as unknown as Record<string, { entries: Map<string, unknown> }>)[part];
    for (const [n, m] of dict?.entries ?? [])
      if (m instanceof UNetBlock) out.push([`${part}.${n}`, m]);
  }
  return out;
}

describe.skipIf(GPU_SKIP_REASON)('networks against the official outputs', () => {
  beforeAll(async () => {
    await testGpu();
  });

  for (const name of NAMES) {
    it(name, async () => {
      const { net, npz, cfg } = load(name);
      net.loadStateDict(ptStateDict(name));
      const B = 3;
      const C = cfg.constructor_kwargs.img_channels;
      const R = cfg.constructor_kwargs.img_resolution;
      const got = await scopeAsync(async () => {
        const x = tensor(npz.f32('x'), [B, C, R, R]).requireGrad();
        const sigma = tensor(npz.f32('sigma'), [B]);
        const labels = npz.has('class_labels') ? tensor(npz.f32('class_labels'), [B, 10]) : null;
        const aug = npz.has('augment_labels') ? tensor(npz.f32('augment_labels'), [B, 9]) : null;
        const D = net.forward(x, sigma, labels, aug);
        backward(D, tensor(npz.f32('G'), [B, C, R, R]));
        const out = new Map<string, Float32Array>([
          ['D_x', await D.read()],
          ['grad.x', await (x.grad as Tensor).read()],
        ]);
        for (const [n, s] of net.namedParameters()) {
          if (s.tensor.grad) out.set(`grad.param.${n}`, await s.tensor.grad.read());
          s.tensor.grad?.dispose();
          s.tensor.grad = null;
        }
        // The preconditioner's c_noise and the raw U-Net on the official inputs.
        const c = net.coefficients(tensor(npz.f32('sigma'), [B, 1, 1, 1]));
        out.set('model_in.noise_labels', await c.cNoise.read());
        const F = net.model.forward(
          tensor(npz.f32('model_in.x'), [B, C, R, R]),
          tensor(npz.f32('model_in.noise_labels'), [B]),
          labels,
          aug,
        );
        out.set('model_out', await F.read());
        return out;
      });
      expectCloseToScale(got.get('D_x') as Float32Array, npz.f32('D_x'), NET_RTOL, `${name} D_x`);
      expectCloseToScale(
        got.get('grad.x') as Float32Array,
        npz.f32('grad.x'),
        NET_RTOL,
        `${name} grad.x`,
      );
      expectCloseToScale(
        got.get('model_in.noise_labels') as Float32Array,
        npz.f32('model_in.noise_labels'),
        1e-6,
        `${name} c_noise`,
      );
      // F of the official-init nets is ~3e-5 or exactly 0: compare against the scale of D_x
      // instead (the absolute error that matters once F is multiplied by c_out).
      const F = npz.f32('model_out');
      const refScale = Math.max(...F.map(Math.abs));
      if (name.endsWith('_rand')) {
        expectCloseToScale(got.get('model_out') as Float32Array, F, NET_RTOL, `${name} model_out`);
      } else {
        expectCloseToScale(
          got.get('model_out') as Float32Array,
          F,
          0,
          `${name} model_out`,
          1e-7 + refScale * NET_RTOL,
        );
      }
      const gradKeys = [...npz.arrays.keys()].filter((k) => k.startsWith('grad.param.'));
      if (name.endsWith('_rand'))
        expect(gradKeys.length).toBe(
          net.parameterCount() > 0 ? [...net.namedParameters()].length : 0,
        );
      for (const k of gradKeys) {
        const ours = got.get(k);
        if (!ours) throw new Error(`${name}: no gradient for ${k}`);
        expectCloseToScale(ours, npz.f32(k), NET_RTOL, `${name} ${k}`);
      }
      net.dispose();
    });
  }

  it('counts the forward FLOPs of SPEC 5.8 (CIFAR-10 DDPM++ 42.38, NCSN++ 42.79 GFLOP)', async () => {
    for (const [arch, gflop] of [
      ['ddpmpp', 42.38],
      ['ncsnpp', 42.79],
    ] as const) {
      const spec = networkSpec(arch, 'edm', { resolution: 32, channels: 3, augmentDim: 9, D: 128 });
      const net = buildPrecond(spec.className, spec.kwargs).initialize(0).eval();
      const x = randn([1, 3, 32, 32], { seed: 1 });
      const flops = countFlops(() => scope(() => void noGrad(() => net.forward(x, 1.0))));
      expect(Math.round(flops / 1e7) / 100).toBe(gflop);
      await x.gpu.sync();
      x.dispose();
      net.dispose();
    }
  });
});
