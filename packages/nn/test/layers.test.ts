/**
 * Every single-layer case of the reference layers.npz (official PyTorch outputs and gradients
 * for L = sum(out * G)): Linear, Conv2d with every resampling mode, GroupNorm, the embeddings,
 * AttentionOp and UNetBlock. Weights are loaded by state-dict name.
 *
 * Tolerance: max|ours - ref| <= rtol * max|ref| (the reference README's metric). Layers use
 * 1e-5: float32 on both sides, different summation orders, and the fixtures' own float32 vs
 * float64 spread is <= 5e-7, so 1e-5 leaves room for accumulation order but would catch any wrong
 * tap, padding or scale. The embeddings evaluate cos/sin of float32 arguments up to ~731 (positional)
 * and ~450 rad (Fourier); their f32-vs-f64 spread is 4.4e-6 and 1.5e-5, so they get 2e-5 and 5e-5.
 */
import {
  Conv2d,
  FourierEmbedding,
  GroupNorm,
  Linear,
  type Module,
  PositionalEmbedding,
  UNetBlock,
} from '@pfgmpp/nn';
import {
  backward,
  concat,
  mul,
  reshape,
  scope,
  scopeAsync,
  type Tensor,
  tensor,
  transpose,
  attention,
  zeros,
} from '@pfgmpp/tensor/node';
import { expectCloseToScale, GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { Npz } from './fixtures.ts';

interface CaseConfig {
  class_name: string;
  kwargs: Record<string, unknown>;
  inputs: Record<string, number[]>;
  output_shape: number[];
  parameter_names: string[];
  state_dict_names: string[];
}

const npz = new Npz('layers.npz');
const CASES = npz.json<{ cases: string[] }>('index').cases;
const LAYER_RTOL = 1e-5;

// biome-ignore lint: layers take tensors (and optional flags)
type Layer = Module & { forward: (...xs: any[]) => Tensor };

function build(c: CaseConfig): Layer {
  // biome-ignore lint: the kwargs are whatever the official constructor took
  const k = c.kwargs as any;
  switch (c.class_name) {
    case 'Linear':
      return new Linear(k.in_features, k.out_features, k.bias ?? true);
    case 'Conv2d':
      return new Conv2d({
        inChannels: k.in_channels,
        outChannels: k.out_channels,
        kernel: k.kernel,
        bias: k.bias,
        up: k.up,
        down: k.down,
        resampleFilter: k.resample_filter,
        fusedResample: k.fused_resample,
      });
    case 'GroupNorm':
      return new GroupNorm(k.num_channels, k.num_groups, k.min_channels_per_group, k.eps);
    case 'PositionalEmbedding':
      return new PositionalEmbedding(k.num_channels, k.max_positions, k.endpoint);
    case 'FourierEmbedding':
      return new FourierEmbedding(k.num_channels, k.scale);
    case 'UNetBlock':
      return new UNetBlock({
        inChannels: k.in_channels,
        outChannels: k.out_channels,
        embChannels: k.emb_channels,
        up: k.up,
        down: k.down,
        attention: k.attention,
        numHeads: k.num_heads,
        channelsPerHead: k.channels_per_head,
        dropout: k.dropout,
        skipScale: k.skip_scale,
        eps: k.eps,
        resampleFilter: k.resample_filter,
        resampleProj: k.resample_proj,
        adaptiveScale: k.adaptive_scale,
      });
  }
  throw new Error(`no builder for ${c.class_name}`);
}

function tolFor(c: CaseConfig): number {
  if (c.class_name === 'PositionalEmbedding') return 2e-5;
  if (c.class_name === 'FourierEmbedding') return 5e-5;
  return LAYER_RTOL;
}

/** The PFGM++ fused-up cases whose output is 2H - 4 (we follow EDM: see the `_edm` cases). */
const PFGMPP_FUSED_UP = ['conv3x3_up_fused_f11', 'conv3x3_up_fused_f1331'];

describe.skipIf(GPU_SKIP_REASON)('layers.npz', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('lists every case we run', () => {
    expect(CASES.length).toBe(39);
  });

  for (const name of CASES.filter((n) => n !== 'attention_op' && !PFGMPP_FUSED_UP.includes(n))) {
    it(name, async () => {
      const c = npz.json<CaseConfig>(`${name}.config`);
      const m = build(c).eval();
      expect([...m.namedSlots()].map(([n]) => n)).toEqual(c.state_dict_names);
      expect([...m.namedParameters()].map(([n]) => n)).toEqual(c.parameter_names);
      m.loadStateDict(npz.stateDict(`${name}.param.`));
      const inputNames = Object.keys(c.inputs).sort((a, b) => (a === 'x' ? -1 : b === 'x' ? 1 : 0));
      const results = await scopeAsync(async () => {
        const inputs = inputNames.map((n) =>
          tensor(npz.f32(`${name}.${n}`), c.inputs[n]).requireGrad(),
        );
        const out = m.forward(...inputs);
        expect([...out.shape]).toEqual(c.output_shape);
        backward(out, tensor(npz.f32(`${name}.G`), c.output_shape));
        const got = new Map<string, Float32Array>([['out', await out.read()]]);
        for (const [i, n] of inputNames.entries()) {
          const g = inputs[i]?.grad;
          if (g) got.set(`grad.${n}`, await g.read());
        }
        for (const [n, s] of m.namedParameters()) {
          if (s.tensor.grad) got.set(`grad.${n}`, await s.tensor.grad.read());
          s.tensor.grad?.dispose();
          s.tensor.grad = null;
        }
        return got;
      });
      const rtol = tolFor(c);
      let checked = 0;
      for (const key of [...npz.arrays.keys()].filter((k) => k.startsWith(`${name}.`))) {
        const what = key.slice(name.length + 1);
        if (what !== 'out' && !what.startsWith('grad.')) continue;
        const ours = results.get(what);
        if (!ours) throw new Error(`${name}: we produced no ${what}`);
        expectCloseToScale(ours, npz.f32(key), rtol, `${name} ${what}`);
        checked++;
      }
      expect(checked).toBe(1 + inputNames.length + c.parameter_names.length);
      m.dispose();
    });
  }

  it('fused up-sampling follows EDM (2H), not the PFGM++ variant (2H - 4)', async () => {
    for (const name of PFGMPP_FUSED_UP) {
      const c = npz.json<CaseConfig>(`${name}.config`);
      const edm = npz.json<CaseConfig>(`${name}_edm.config`);
      const m = build(c).eval();
      m.loadStateDict(npz.stateDict(`${name}.param.`));
      const shape = scope(() => m.forward(tensor(npz.f32(`${name}.x`), c.inputs.x)).shape);
      expect([...shape]).toEqual(edm.output_shape);
      expect(c.output_shape[2]).toBe((edm.output_shape[2] as number) - 4);
      m.dispose();
    }
  });

  it('attention_op: softmax weights and their gradients', async () => {
    // tensor's attention(q, k, v) computes sum_j w[n,i,j] v[n,c,j]. With v the identity over
    // L = 16 positions it returns w transposed. q and k get 8 zero channels to reach C = 16,
    // and q is scaled by sqrt(16/8) so that the 1/sqrt(C) inside matches AttentionOp's 1/sqrt(8).
    const [N, C, L] = [3, 8, 16];
    const got = await scopeAsync(async () => {
      const q = tensor(npz.f32('attention_op.q'), [N, C, L]).requireGrad();
      const k = tensor(npz.f32('attention_op.k'), [N, C, L]).requireGrad();
      const pad = zeros([N, L - C, L]);
      const eye = new Float32Array(N * L * L);
      for (let n = 0; n < N; n++) for (let j = 0; j < L; j++) eye[n * L * L + j * L + j] = 1;
      const a = attention(
        concat([mul(q, Math.sqrt(L / C)), pad], 1),
        concat([k, pad], 1),
        tensor(eye, [N, L, L]),
      );
      const w = transpose(reshape(a, [N, L, L]), 1, 2); // [N, Q, K]
      backward(w, tensor(npz.f32('attention_op.G'), [N, L, L]));
      return [await w.read(), await (q.grad as Tensor).read(), await (k.grad as Tensor).read()];
    });
    expectCloseToScale(got[0] as Float32Array, npz.f32('attention_op.out'), LAYER_RTOL, 'w');
    expectCloseToScale(
      got[1] as Float32Array,
      npz.f32('attention_op.grad.q'),
      LAYER_RTOL,
      'grad q',
    );
    expectCloseToScale(
      got[2] as Float32Array,
      npz.f32('attention_op.grad.k'),
      LAYER_RTOL,
      'grad k',
    );
  });
});
