/**
 * Training plumbing: Adam against torch.optim.Adam (recorded), EMA against its float64 reference, the official initialisation's
 * statistics, strict state-dict loading, train/eval mode (dropout), and a smoke test in which
 * 30 Adam steps on a tiny DDPM++ and a fixed batch drive the EDM loss down.
 */
import {
  Adam,
  buildPrecond,
  emaBeta,
  Linear,
  NnError,
  type Precond,
  type PrecondKwargs,
  StreamCounter,
  updateEma,
} from '@pfgmpp/nn';
import {
  add,
  backward,
  mean,
  mul,
  noGrad,
  reciprocal,
  scope,
  scopeAsync,
  square,
  sub,
  type Tensor,
  tensor,
} from '@pfgmpp/tensor/node';
import { expectClose, GPU_SKIP_REASON, seeded, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { Npz, ptStateDict } from './fixtures.ts';

const TINY: PrecondKwargs = {
  img_resolution: 8,
  img_channels: 1,
  model_type: 'SongUNet',
  model_channels: 16,
  channel_mult: [1, 2],
  num_blocks: 1,
  attn_resolutions: [4],
  dropout: 0,
};

describe('EMA schedule (SPEC 7.2)', () => {
  it('copies on the first step, ramps up, then holds the half-life', () => {
    expect(emaBeta({ batch: 512, nimg: 0, halfLifeKimg: 500 })).toBe(0);
    // 10 kimg seen: h = min(500k, 500) images -> beta = 0.5^(512/500)
    expect(emaBeta({ batch: 512, nimg: 10_000, halfLifeKimg: 500 })).toBeCloseTo(
      0.5 ** (512 / 500),
      15,
    );
    expect(emaBeta({ batch: 512, nimg: 1e9, halfLifeKimg: 500 })).toBeCloseTo(
      0.5 ** (512 / 500_000),
      15,
    );
    expect(emaBeta({ batch: 512, nimg: 0, halfLifeKimg: 500, rampup: null })).toBeCloseTo(
      0.5 ** (512 / 500_000),
      15,
    );
  });
});

describe.skipIf(GPU_SKIP_REASON)('optimizer, EMA, modes and loading', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('Adam equals torch.optim.Adam over three steps (recorded), sanitising NaN and Inf first', async () => {
    // test/fixtures/nn/adam_torch.npz: torch.optim.Adam after torch.nan_to_num, as the official
    // training loop runs them (tools/reference/make_adam_fixture.py).
    const torch = new Npz('adam_torch.npz');
    const lin = new Linear(3, 2, true);
    lin.loadStateDict(
      new Map([
        ['weight', { shape: [2, 3], data: torch.f32('weight0') }],
        ['bias', { shape: [2], data: torch.f32('bias0') }],
      ]),
    );
    const adam = new Adam(lin);
    const gw = torch.f32('grad.weight');
    const gb = torch.f32('grad.bias');
    const lrs = torch.f32('lr');
    for (let step = 1; step <= 3; step++) {
      lin.weight.tensor.grad = tensor(gw.subarray(6 * (step - 1), 6 * step), [2, 3]);
      (lin.bias?.tensor as Tensor).grad = tensor(gb.subarray(2 * (step - 1), 2 * step), [2]);
      adam.step(lrs[step - 1] as number);
      expect(lin.weight.tensor.grad).toBeNull();
      const st = await adam.state();
      // float32 on both sides; the update's rounding differs in the last bits (sqrt, division).
      const tol = { atol: 1e-7, rtol: 1e-6 };
      for (const name of ['weight', 'bias']) {
        const param = name === 'weight' ? lin.weight.tensor : (lin.bias?.tensor as Tensor);
        const at = `step ${step} ${name}`;
        expectClose(await param.read(), torch.f32(`step${step}.${name}`), tol, at);
        for (const moment of ['exp_avg', 'exp_avg_sq'])
          expectClose(
            st.get(`${name}.${moment}`)?.data ?? [],
            torch.f32(`step${step}.${name}.${moment}`),
            tol,
            `${at} ${moment}`,
          );
      }
    }
    expect(adam.stepCount).toBe(3);
    adam.dispose();
    lin.dispose();
  });

  it('updateEma blends parameters and leaves buffers alone', async () => {
    const a = buildPrecond('EDMPrecond', TINY).initialize(1);
    const b = buildPrecond('EDMPrecond', TINY).initialize(2);
    const [name, pa] = [...a.namedParameters()][0] as [string, { tensor: Tensor }];
    const pb = new Map(b.namedParameters()).get(name) as { tensor: Tensor };
    const [va, vb] = [await pa.tensor.read(), await pb.tensor.read()];
    updateEma(a, b, 0.25);
    const want = va.map((x, i) => 0.25 * x + 0.75 * (vb[i] as number));
    expectClose(await pa.tensor.read(), want, { atol: 1e-7, rtol: 1e-6 }, name);
    updateEma(a, b, 0);
    expectClose(await pa.tensor.read(), vb, { atol: 0, rtol: 0 }, 'beta 0 copies');
    a.dispose();
    b.dispose();
  });

  it('initialisation has the official statistics (zeros, ones, scales)', async () => {
    for (const name of ['edm_ddpmpp_uncond', 'edm_ncsnpp_uncond', 'edm_adm_uncond']) {
      const npz = new Npz(`${name}.npz`);
      const cfg = npz.json<{ precond_class: string; constructor_kwargs: PrecondKwargs }>('config');
      const net = buildPrecond(cfg.precond_class, cfg.constructor_kwargs).initialize(5);
      const ref = ptStateDict(name);
      for (const [n, slot] of net.namedSlots()) {
        const want = ref.get(n)?.data as Float32Array;
        const got = await slot.tensor.read();
        if (want.every((v) => v === 0))
          expect(
            got.every((v) => v === 0),
            `${name} ${n} zeros`,
          ).toBe(true);
        else if (want.every((v) => v === 1))
          expect(
            got.every((v) => v === 1),
            `${name} ${n} ones`,
          ).toBe(true);
        else if (n.endsWith('resample_filter')) expect([...got]).toEqual([...want]);
        else if (want.length >= 256) {
          const rms = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
          const ratio = rms(got) / rms(want);
          expect(ratio, `${name} ${n} rms ratio`).toBeGreaterThan(0.85);
          expect(ratio, `${name} ${n} rms ratio`).toBeLessThan(1.15);
        }
      }
      net.dispose();
    }
  });

  it('strict loading names missing, unexpected and mis-shaped tensors; non-strict loads the rest', async () => {
    const net = buildPrecond('EDMPrecond', TINY);
    const sd = new Map(
      [...net.namedSlots()].map(([n, s]) => [
        n,
        { shape: s.shape, data: new Float32Array(s.size).fill(0.5) },
      ]),
    );
    sd.delete('model.map_layer0.bias');
    sd.set('model.extra.weight', { shape: [1], data: new Float32Array(1) });
    sd.set('model.map_layer1.weight', { shape: [3, 3], data: new Float32Array(9) });
    let message = '';
    try {
      net.loadStateDict(sd);
    } catch (e) {
      expect(e).toBeInstanceOf(NnError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/1 missing: model\.map_layer0\.bias/);
    expect(message).toMatch(/1 unexpected: model\.extra\.weight/);
    expect(message).toMatch(/model\.map_layer1\.weight \(network \[64, 64\], file \[3, 3\]\)/);
    // Constant buffers (here a resample filter) may be missing when asked: they are rebuilt.
    const constants = new Map(
      [...net.namedSlots()].map(([n, s]) => [
        n,
        { shape: s.shape, data: new Float32Array(s.size) },
      ]),
    );
    const filter = [...constants.keys()].find((k) => k.endsWith('resample_filter')) as string;
    constants.delete(filter);
    expect(() => net.loadStateDict(constants)).toThrow(/1 missing: .*resample_filter/);
    net.loadStateDict(constants, { allowMissingConstants: true });
    const report = net.loadStateDict(sd, { strict: false });
    expect(report.missing).toEqual(['model.map_layer0.bias']);
    expect(net.materialised).toBe(true);
    expect(
      (await new Map(net.namedSlots()).get('model.map_layer0.weight')?.tensor.read())?.[0],
    ).toBe(0.5);
    net.dispose();
  });

  it('dropout acts in training mode only and replays from its stream', async () => {
    const net = buildPrecond('EDMPrecond', { ...TINY, dropout: 0.5 }).initialize(3);
    // Undo the 1e-5 init of the residual and output convolutions so dropout shows in D(x).
    for (const [n, s] of net.namedSlots()) {
      if (/(conv1|aux_conv|proj)\.weight$/.test(n)) s.set(mul(s.tensor, 1e5));
    }
    const x = Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i));
    const run = (seed: number) =>
      scopeAsync(async () =>
        noGrad(() => net.forward(tensor(x, [2, 1, 8, 8]), tensor([0.5, 2]))).read(),
      );
    net.eval();
    const e1 = await run(0);
    const e2 = await run(0);
    expect([...e1]).toEqual([...e2]);
    net.train();
    net.model.rng = new StreamCounter(11);
    const t1 = await run(0);
    net.model.rng = new StreamCounter(11);
    const t2 = await run(0);
    expect([...t1]).toEqual([...t2]);
    const diff = Math.max(...t1.map((v, i) => Math.abs(v - (e1[i] as number))));
    expect(diff).toBeGreaterThan(1e-3);
    net.dispose();
  });

  it('30 Adam steps on a fixed batch drive the EDM loss down', async () => {
    const net = buildPrecond('EDMPrecond', TINY).initialize(0).train() as Precond;
    const adam = new Adam(net);
    const rng = seeded(42);
    const B = 8;
    const images = Float32Array.from({ length: B * 64 }, (_, i) => {
      const [b, p] = [Math.floor(i / 64), i % 64];
      return Math.sin((p % 8) * 0.7 + b) * Math.cos(Math.floor(p / 8) * 0.5); // smooth images in [-1, 1]
    });
    const noise = Float32Array.from({ length: B * 64 }, () => {
      const u = Math.max(rng(), 1e-12);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
    });
    const sigmas = Float32Array.from({ length: B }, (_, i) =>
      Math.exp(-1.2 + 1.2 * ((i / (B - 1)) * 2 - 1)),
    );
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      const loss = await scopeAsync(async () => {
        const y = tensor(images, [B, 1, 8, 8]);
        const s = tensor(sigmas, [B, 1, 1, 1]);
        const n = mul(tensor(noise, [B, 1, 8, 8]), s);
        const D = net.forward(add(y, n), tensor(sigmas));
        const weight = scope(() => {
          const s2 = square(s);
          return mul(add(s2, 0.25), reciprocal(mul(s2, 0.25))); // (sigma^2 + sd^2) / (sigma sd)^2
        });
        const l = mean(mul(weight, square(sub(D, y))));
        backward(l);
        return l.item();
      });
      adam.step(2e-3);
      losses.push(loss);
    }
    const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(last, `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`).toBeLessThan(0.6 * first);
    adam.dispose();
    net.dispose();
  });
});
