/**
 * readCheckpoint on official files: PFGM++ training states written by the official training
 * loop (test/fixtures/official), the reference .pt state dicts, and torch-free stubs of
 * make_checkpoint_fixtures.py for what the genuine files do not cover (EDM snapshots and
 * training states, PFGM++'s .pkl, Adam moments, net/EMA/Adam values that all differ).
 */
import { describe, expect, it } from 'vitest';
import {
  adamState,
  type Checkpoint,
  CheckpointError,
  FormatError,
  loadTorch,
  loadTorchStateDict,
  npzJson,
  PyObject,
  readCheckpoint,
  readNpz,
  type TensorMap,
  TorchTensor,
} from '../src/index.ts';
import { fixture, fixtureJson, repoFixture } from './fixtures.ts';

type Listing = [string, number[], number][];
interface Expected {
  format: string;
  className: string;
  initKwargs: Record<string, unknown>;
  step?: number;
  datasetKwargs?: Record<string, unknown>;
  net?: Listing;
  ema?: Listing;
  optimizer?: {
    parameters: string[];
    state: [string, number, number[], number, number][];
    param_groups: Record<string, unknown>[];
  };
}
const expected = (fixtureJson('checkpoint_expected.json') as { files: Record<string, Expected> })
  .files;

/** The fixture values: ((i * 7 + seed * 13) % 29 - 14) / 16, squared for exp_avg_sq. */
function values(seed: number, n: number, square = false): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = (((i * 7 + seed * 13) % 29) - 14) / 16;
    out[i] = square ? v * v : v;
  }
  return out;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function expectTensors(map: TensorMap | undefined, listing: Listing, what: string) {
  expect(map, what).toBeDefined();
  expect([...map!.keys()], what).toEqual(listing.map((l) => l[0]));
  for (const [name, shape, seed] of listing) {
    const e = map!.get(name)!;
    expect([e.dtype, e.shape], `${what} ${name}`).toEqual(['float32', shape]);
    expect(e.data, `${what} ${name}`).toEqual(values(seed, size(shape)));
  }
}

const OFFICIAL = JSON.parse(new TextDecoder().decode(repoFixture('official/index.json'))) as Record<
  string,
  { file: string; param_count: number; D: number | null; precond: string }
>;

describe('readCheckpoint: PFGM++ training states written by the official training loop', () => {
  for (const [name, entry] of Object.entries(OFFICIAL)) {
    it(`${name}: net and EMA are the official state dict; step, fresh Adam, class, keywords`, () => {
      const ckpt = readCheckpoint(repoFixture(`official/${entry.file}`), {
        fileName: entry.file,
        require: ['net', 'ema', 'optimizer', 'initKwargs', 'step'],
      });
      expect([ckpt.format, ckpt.container, ckpt.className]).toEqual([
        'training-state',
        'torch-zip',
        entry.precond,
      ]);
      expect([ckpt.step, ckpt.kimg]).toEqual([123_456, 123]);
      const config = npzJson(readNpz(repoFixture(`nn/${name}.npz`)), 'config') as {
        constructor_kwargs: Record<string, unknown>;
        attributes: Record<string, unknown>;
      };
      expect(ckpt.initKwargs).toEqual(config.constructor_kwargs);
      const attributes = Object.fromEntries(
        Object.entries(config.attributes).map(([k, v]) => [k, v === 'inf' ? Infinity : v]),
      );
      expect(ckpt.attributes).toMatchObject(attributes);
      if (entry.D !== null) expect(ckpt.attributes?.D).toBe(entry.D);

      // Both networks hold the weights of the official state dict, in its order, bit for bit.
      const ref = loadTorchStateDict(repoFixture(`nn/${name}.pt`));
      for (const [part, map] of [
        ['net', ckpt.net],
        ['ema', ckpt.ema],
      ] as const) {
        expect([...(map as TensorMap).keys()], part).toEqual([...ref.keys()]);
        for (const [k, e] of ref) {
          const got = map?.get(k);
          expect(got?.shape, `${part} ${k}`).toEqual(e.shape);
          expect(got?.data, `${part} ${k}`).toEqual(e.data);
        }
      }
      expect(ckpt.tensors).toBe(ckpt.ema);

      // A fresh torch.optim.Adam: no moments yet; one group listing every parameter (no
      // buffers), in named_parameters order, by name.
      const opt = ckpt.optimizer!;
      expect(opt.tensors.size).toBe(0);
      expect(opt.paramGroups).toHaveLength(1);
      const { params, ...group } = opt.paramGroups[0] as { params: string[] };
      expect(group).toMatchObject({ lr: 0.001, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 });
      expect(params).toEqual([...ref.keys()].filter((k) => params.includes(k)));
      const count = params.reduce((n, k) => n + (ref.get(k)?.data.length ?? Number.NaN), 0);
      expect(count).toBe(entry.param_count);
    });
  }
});

describe('readCheckpoint: stubs of other official layouts (written without torch)', () => {
  for (const [file, want] of Object.entries(expected)) {
    it(`${file}: format, tensors, optimizer, init kwargs, step`, () => {
      const ckpt = readCheckpoint(fixture(file), { fileName: file });
      expect(ckpt.format).toBe(want.format);
      expect(ckpt.container).toBe(file.endsWith('.pt') ? 'torch-zip' : 'pickle');
      expect(ckpt.fileName).toBe(file);
      expect(ckpt.className).toBe(want.className);
      expect(ckpt.initKwargs).toEqual(want.initKwargs);
      expect(ckpt.step).toBe(want.step);
      if (want.net) expectTensors(ckpt.net, want.net, 'net');
      else expect(ckpt.net).toBeUndefined();
      if (want.ema) expectTensors(ckpt.ema, want.ema, 'ema');
      else expect(ckpt.ema).toBeUndefined();
      expect(ckpt.tensors).toBe(ckpt.ema ?? ckpt.net);
      if (want.datasetKwargs) expect(ckpt.datasetKwargs).toEqual(want.datasetKwargs);
      const opt = want.optimizer;
      if (!opt) {
        expect(ckpt.optimizer).toBeUndefined();
        return;
      }
      const names: string[] = [];
      for (const [name, step, shape, avg, sq] of opt.state) {
        names.push(`${name}.step`, `${name}.exp_avg`, `${name}.exp_avg_sq`);
        const t = ckpt.optimizer!.tensors;
        expect([t.get(`${name}.step`)!.shape, t.get(`${name}.step`)!.data[0]]).toEqual([[], step]);
        expect(t.get(`${name}.exp_avg`)!.shape).toEqual(shape);
        expect(t.get(`${name}.exp_avg`)!.data).toEqual(values(avg, size(shape)));
        expect(t.get(`${name}.exp_avg_sq`)!.data).toEqual(values(sq, size(shape), true));
      }
      expect([...ckpt.optimizer!.tensors.keys()]).toEqual(names);
      const groups = opt.param_groups.map((g) => ({
        ...g,
        params: (g.params as number[]).map((i) => opt.parameters[i]),
      }));
      expect(ckpt.optimizer!.paramGroups).toEqual(groups);
    });
  }

  it('keeps plain attributes, drops the embedded module source, tolerates old extra keys', () => {
    const snap = readCheckpoint(fixture('stub-network-snapshot.pkl'));
    expect(snap.attributes).toEqual({
      training: false,
      img_resolution: 4,
      img_channels: 1,
      label_dim: 0,
      use_fp16: false,
      sigma_min: 0,
      sigma_max: Number.POSITIVE_INFINITY,
      sigma_data: 0.5,
    });
    const pkl = readCheckpoint(fixture('stub-training-state.pkl'));
    expect(pkl.attributes).toMatchObject({
      D: 128,
      N: 16,
      pfgmpp: true,
      pfgm: false,
      small: false,
    });
    expect(pkl.initKwargs?.pfgm).toBe(false);
    // The pickled module keeps class name and state only: no trace of its source text.
    const ema = (loadTorch(fixture('stub-network-snapshot.pkl')).value as Map<string, unknown>).get(
      'ema',
    ) as PyObject;
    expect(JSON.stringify([...(ema.state as Map<string, unknown>).keys()])).not.toMatch(/src/);
    expect(JSON.stringify([snap.attributes, snap.initKwargs])).not.toMatch(/os\.system|executed/);
  });

  it('takes the step from a training-state-<kimg> / network-snapshot-<kimg> name when the file has none', () => {
    const edm = readCheckpoint(fixture('stub-edm-training-state.pt'), {
      fileName: 'runs/00001/training-state-000020.pt',
    });
    expect([edm.step, edm.kimg]).toEqual([20_000, 20]);
    const snap = readCheckpoint(fixture('stub-network-snapshot.pkl'), {
      fileName: 'network-snapshot-000500.pkl',
    });
    expect([snap.step, snap.kimg]).toEqual([500_000, 500]);
    // A stored step wins over the name (PFGM++: cur_nimg, not a round number).
    const pfgmpp = readCheckpoint(fixture('stub-training-state.pt'), {
      fileName: 'training-state-000099.pt',
    });
    expect([pfgmpp.step, pfgmpp.kimg]).toEqual([20_480, 20]);
  });

  it('reads the reference .pt state dicts and stub-persistent-modules.pkl through the same function', () => {
    for (const file of ['edm_adm_uncond.pt', 'iddpm_adm_uncond.pt.gz']) {
      const ckpt = readCheckpoint(fixture(file), { fileName: file });
      expect([ckpt.format, ckpt.container, ckpt.initKwargs]).toEqual([
        'state-dict',
        'torch-zip',
        undefined,
      ]);
      const sd = loadTorchStateDict(fixture(file));
      expect([...ckpt.tensors.keys()]).toEqual([...sd.keys()]);
      for (const [name, e] of sd) {
        expect(ckpt.tensors.get(name)!.shape, name).toEqual(e.shape);
        expect(ckpt.tensors.get(name)!.data, name).toEqual(e.data);
      }
    }
    const legacy = readCheckpoint(fixture('torch_legacy.pt'));
    expect([legacy.format, legacy.container, legacy.tensors.size]).toEqual([
      'state-dict',
      'torch-legacy',
      16,
    ]);
    const old = readCheckpoint(fixture('stub-persistent-modules.pkl'));
    expect([old.format, old.className, old.initKwargs]).toEqual([
      'network-snapshot',
      'training.networks.EDMPrecond',
      { model_type: 'SongUNet', channel_mult: [1, 2] },
    ]);
    expect([...old.tensors.keys()]).toContain('model.enc.16x16_conv.weight');
  });
});

describe('readCheckpoint: missing parts and bad files', () => {
  function error(fn: () => unknown): FormatError {
    try {
      fn();
    } catch (e) {
      return e as FormatError;
    }
    throw new Error('expected an error');
  }

  it('require names the file and every missing part', () => {
    const e = error(() =>
      readCheckpoint(fixture('edm_adm_uncond.pt'), {
        fileName: 'edm_adm_uncond.pt',
        require: ['initKwargs', 'optimizer'],
      }),
    );
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.file).toBe('edm_adm_uncond.pt');
    expect(e.message).toBe(
      "edm_adm_uncond.pt: this state-dict (torch-zip) lacks the architecture keywords (_init_kwargs of a pickled network) and the optimizer state ('optimizer_state')",
    );
    const noStep = error(() =>
      readCheckpoint(fixture('stub-edm-training-state.pt'), {
        fileName: 'x.pt',
        require: ['step'],
      }),
    );
    expect(noStep.message).toMatch(/^x\.pt: this training-state .* lacks the training step/);
    const ok = readCheckpoint(fixture('stub-training-state.pt'), {
      require: ['net', 'ema', 'optimizer', 'initKwargs', 'step'],
    });
    expect(ok.optimizer?.tensors.size).toBe(30);
    const lean = readCheckpoint(fixture('stub-training-state.pt'), { optimizer: false });
    expect(lean.optimizer).toBeUndefined();
  });

  it('refuses files that are no checkpoint, naming them and keeping the error class', () => {
    const misc = error(() => readCheckpoint(fixture('pickle_p2.pkl'), { fileName: 'p.pkl' }));
    expect(misc).toBeInstanceOf(CheckpointError);
    expect(misc.message).toMatch(/^p\.pkl: not a checkpoint: no 'net', 'ema' or 'optimizer_state'/);
    const text = error(() =>
      readCheckpoint(new TextEncoder().encode('hello, world'), { fileName: 'a.txt' }),
    );
    expect(text.message).toBe(
      'a.txt: not a checkpoint: neither safetensors, a torch ZIP archive nor a pickle (wrong magic bytes)',
    );
    const cut = fixture('stub-training-state.pt').subarray(0, 5000);
    expect(error(() => readCheckpoint(cut, { fileName: 'cut.pt' })).message).toMatch(
      /^cut\.pt: .*ZIP/,
    );
  });

  it('matches Adam state to parameters by index and checks it', () => {
    const value = loadTorch(fixture('stub-training-state.pt')).value as Map<string, unknown>;
    const net = value.get('net') as PyObject;
    const opt = value.get('optimizer_state') as Map<string, unknown>;
    const groups = opt.get('param_groups') as Map<string, unknown>[];
    const params = groups[0]!.get('params') as number[];
    groups[0]!.set('params', params.slice(1));
    expect(() => adamState(opt, net)).toThrow(
      /optimizer_state lists 10 parameters but the network has 11/,
    );
    groups[0]!.set('params', [...params.slice(0, -1), 0]);
    expect(() => adamState(opt, net)).toThrow(/index 0 is listed twice/);
    groups[0]!.set('params', params);
    const state = opt.get('state') as Map<number, Map<string, unknown>>;
    const first = state.get(1)!;
    const avg = first.get('exp_avg') as TorchTensor;
    first.set(
      'exp_avg',
      new TorchTensor(avg.storage, 0, [avg.shape[1]!, avg.shape[0]!], [4, 1], false),
    );
    expect(() => adamState(opt, net)).toThrow(
      /exp_avg of 'model\.map_layer0\.weight' has shape \[8,4\], the parameter \[4,8\]/,
    );
    first.set('exp_avg', avg);
    expect(adamState(opt, net).tensors.size).toBe(30);
    expect(() => adamState(opt, new Map())).toThrow(/'net' is a dict, not a pickled network/);
  });

  it('every failure is a FormatError subclass (what the fuzz test relies on)', () => {
    const results: (Checkpoint | FormatError)[] = [];
    for (const bytes of [new Uint8Array(0), Uint8Array.of(0x80), Uint8Array.of(0x50, 0x4b, 3, 4)]) {
      results.push(error(() => readCheckpoint(bytes)));
    }
    for (const r of results) expect(r).toBeInstanceOf(FormatError);
  });
});
