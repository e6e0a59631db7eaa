/** Torch checkpoints: the reference .pt files, zip/legacy/big-endian layouts, EDM-style .pkl, bad input. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeJsonArray,
  type DType,
  FormatError,
  loadTorch,
  loadTorchStateDict,
  type NdArray,
  PyObject,
  readNpz,
  readZipEntries,
  readZipEntry,
  stateDictOf,
  TorchTensor,
  toFloat32,
  UnsafePickleError,
  writeZip,
} from '../src/index.ts';
import { fixture, fixtureJson, latin1 } from './fixtures.ts';

const hex = (a: NdArray) =>
  createHash('sha256')
    .update(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength))
    .digest('hex');

function bitsEqual(a: ArrayLike<unknown>, b: ArrayLike<unknown>, what: string) {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    if (!Object.is(a[i], b[i])) expect([i, a[i]], what).toEqual([i, b[i]]);
}

describe('torch: reference checkpoints (torch 1.13.1 zip format)', () => {
  it('edm_adm_uncond.pt equals the param.* arrays of its .npz: names, order, shapes, values', () => {
    const sd = loadTorchStateDict(fixture('edm_adm_uncond.pt'));
    const npz = readNpz(fixture('edm_adm_uncond.params.npz'));
    const names = [...npz.keys()].filter((k) => k.startsWith('param.')).map((k) => k.slice(6));
    expect(names.length).toBe(124);
    expect([...sd.keys()]).toEqual(names);
    for (const name of names) {
      const ref = npz.get(`param.${name}`) as NdArray;
      const got = sd.get(name)!;
      expect([got.dtype, got.shape], name).toEqual([ref.dtype, ref.shape]);
      bitsEqual(got.data, toFloat32(ref), name);
      expect(got.original.data).toBe(got.data);
    }
  });

  it('edm_adm_uncond and iddpm_adm_uncond match the reference digests of every tensor', () => {
    const digests = fixtureJson('state_dicts.json') as Record<
      string,
      [string, number[], string, string][]
    >;
    for (const [net, file] of [
      ['edm_adm_uncond', 'edm_adm_uncond.pt'],
      ['iddpm_adm_uncond', 'iddpm_adm_uncond.pt.gz'],
    ] as const) {
      const sd = loadTorchStateDict(fixture(file));
      const want = digests[net]!;
      expect([...sd.keys()], net).toEqual(want.map((d) => d[0]));
      for (const [name, shape, dtype, sha] of want) {
        const e = sd.get(name)!;
        expect([e.shape, e.dtype, hex(e.original)], `${net} ${name}`).toEqual([shape, dtype, sha]);
      }
    }
    const iddpm = loadTorchStateDict(fixture('iddpm_adm_uncond.pt.gz'));
    expect(iddpm.get('u')?.shape).toEqual([1001]);
  });

  it('keeps the state dict _metadata and storage facts', () => {
    const ckpt = loadTorch(fixture('edm_adm_uncond.pt'));
    expect(ckpt.format).toBe('zip');
    expect(ckpt.storages.size).toBe(124);
    const first = [...ckpt.storages.values()][0]!;
    expect([first.key, first.dtype, first.location]).toEqual(['0', 'float32', 'cpu']);
  });
});

describe('torch: layouts made torch-free (see tools/reference/make_io_fixtures.py)', () => {
  const expected = readNpz(fixture('torch_expected.npz'));
  const names = [
    'plain',
    'offset_view',
    'transposed',
    'strided',
    'expanded',
    'scalar',
    'param',
    'f64',
    'i64',
    'f16',
    'bf16',
    'u8',
    'bool',
    'i32_tail',
    'empty',
    'empty_on_data',
  ];
  const dtypes: Record<string, DType> = {
    f64: 'float64',
    i64: 'int64',
    f16: 'float16',
    bf16: 'bfloat16',
    u8: 'uint8',
    bool: 'bool',
    i32_tail: 'int32',
  };

  for (const file of [
    'torch_zip.pt',
    'torch_zip_big.pt',
    'torch_legacy.pt',
    'torch_legacy_big.pt',
  ]) {
    it(`${file}: offsets, strides, shared storages, 0-d/empty, every storage type`, () => {
      const ckpt = loadTorch(fixture(file));
      expect(ckpt.format).toBe(file.includes('legacy') ? 'legacy' : 'zip');
      const sd = stateDictOf(ckpt.value);
      expect([...sd.keys()]).toEqual(names);
      for (const name of names) {
        const e = sd.get(name)!;
        const ref = expected.get(name) as NdArray;
        expect(e.dtype, name).toBe(dtypes[name] ?? 'float32');
        expect(e.shape, name).toEqual(ref.shape);
        if (name === 'bf16') {
          bitsEqual(e.original.data, ref.data, name);
          bitsEqual(e.data, expected.get('bf16_values')!.data, name);
        } else if (name === 'bool') {
          bitsEqual(e.original.data, ref.data, name);
        } else {
          bitsEqual(e.original.data, ref.data, name);
          bitsEqual(e.data, toFloat32(ref), name);
        }
      }
      const value = ckpt.value as Map<string, TorchTensor>;
      expect(value.get('plain')!.storage).toBe(value.get('transposed')!.storage);
      expect(value.get('param')!.isParameter).toBe(true);
      expect(value.get('param')!.requiresGrad).toBe(true);
      expect(value.get('transposed')!.isContiguous()).toBe(false);
      expect(value.get('i64')!.toArray().data).toEqual(
        BigInt64Array.from([-(2n ** 40n), 7n, 123n]),
      );
    });
  }

  it('stub-persistent-modules.pkl: persistent modules become data; state dict by module walk', () => {
    const ckpt = loadTorch(fixture('stub-persistent-modules.pkl'));
    expect(ckpt.format).toBe('pickle');
    const snapshot = ckpt.value as Map<string, unknown>;
    const ema = snapshot.get('ema') as PyObject;
    expect(ema).toBeInstanceOf(PyObject);
    expect(ema.name).toBe('training.networks.EDMPrecond');
    expect(ema.attr('sigma_max')).toBe(Number.POSITIVE_INFINITY);
    expect(ema.attr('D')).toBe(128);
    expect((ema.attr('_init_kwargs') as Map<string, unknown>).get('channel_mult')).toEqual([1, 2]);
    // The persistent-class source is dropped, never kept or run: only class name and state remain.
    expect([ema.module, ema.args, ema.attr('module_src')]).toEqual([
      'torch_utils.persistence',
      [],
      undefined,
    ]);
    expect([...ckpt.storages.keys()]).toEqual(['0/x', '1/x', '2/x', '3/x', '4/x', '5/x']);
    const unet = (ema.attr('_modules') as Map<string, PyObject>).get('model')!;
    expect(unet.attr('skip_scale')).toBeCloseTo(Math.SQRT1_2, 15);
    const enc = (unet.attr('_modules') as Map<string, PyObject>).get('enc')!;
    expect(enc.qualifiedName).toBe('torch.nn.modules.container.ModuleDict');
    const sd = stateDictOf(ckpt.value, 'ema');
    const want = decodeJsonArray(expected.get('edm_names')!) as string[];
    expect([...sd.keys()]).toEqual(want);
    for (const name of want) bitsEqual(sd.get(name)!.data, expected.get(`edm.${name}`)!.data, name);
    expect(() => stateDictOf(ckpt.value)).toThrow(
      /no tensors at the top level \(keys: ema, loss_fn, augment_pipe, dataset_kwargs\)/,
    );
    expect(() => stateDictOf(ckpt.value, 'net')).toThrow(
      /no top-level key 'net' \(it has: ema, loss_fn/,
    );
  });
});

/** A protocol-2 pickle of {name: tensor} with hand-picked storage facts, for lying files. */
function tensorPickle(o: {
  numel: number;
  size: number[];
  stride: number[];
  offset?: number;
  storage?: string;
}) {
  const str = (s: string) => `X${String.fromCharCode(s.length, 0, 0, 0)}${s}`;
  const int = (n: number) =>
    `J${String.fromCharCode(n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255)}`;
  const tuple = (xs: number[]) => `(${xs.map(int).join('')}t`;
  return latin1(
    '\x80\x02ccollections\nOrderedDict\n)R(' +
      str('w') +
      'ctorch._utils\n_rebuild_tensor_v2\n((' +
      str('storage') +
      `ctorch\n${o.storage ?? 'FloatStorage'}\n` +
      str('0') +
      str('cpu') +
      int(o.numel) +
      'tQ' +
      int(o.offset ?? 0) +
      tuple(o.size) +
      tuple(o.stride) +
      '\x89NtRu.',
  );
}

function ptZip(pkl: Uint8Array, storages: Record<string, Uint8Array>, folder = 'archive') {
  return writeZip([
    { name: `${folder}/data.pkl`, data: pkl },
    ...Object.entries(storages).map(([k, data]) => ({ name: `${folder}/data/${k}`, data })),
    { name: `${folder}/version`, data: latin1('3\n') },
  ]);
}

describe('torch: bad input', () => {
  it('reads a hand-made archive under any folder name', () => {
    const pt = ptZip(
      tensorPickle({ numel: 4, size: [2, 2], stride: [1, 2] }),
      { '0': new Uint8Array(Float32Array.of(1, 2, 3, 4).buffer) },
      'my-run',
    );
    expect(Array.from(loadTorchStateDict(pt).get('w')!.data)).toEqual([1, 3, 2, 4]);
  });

  it('rejects wrong magic, preview/tar formats, truncation and missing records', () => {
    expect(() => loadTorch(latin1('hello world, not a checkpoint'))).toThrow(
      /neither a ZIP archive nor a pickle/,
    );
    expect(() => loadTorch(latin1('PYTORCH1........'))).toThrow(/PYTORCH1 preview format/);
    const tar = new Uint8Array(1024);
    tar.set(latin1('ustar'), 257);
    tar[0] = 0x80;
    expect(() => loadTorch(tar)).toThrow(/tar-format torch checkpoints/);
    const pt = fixture('edm_adm_uncond.pt');
    expect(() => loadTorch(pt.subarray(0, 100_000))).toThrow(FormatError);
    const legacy = fixture('torch_legacy.pt');
    expect(() => loadTorch(legacy.subarray(0, legacy.length - 5))).toThrow(
      /truncated legacy torch file: storage '\d+' needs/,
    );
    expect(() => loadTorch(legacy.subarray(0, 600))).toThrow(/truncated pickle|truncated legacy/);
    const noData = ptZip(tensorPickle({ numel: 4, size: [4], stride: [1] }), {});
    expect(() => loadTorch(noData)).toThrow(/storage '0' has no record archive\/data\/0/);
    const noPkl = writeZip([{ name: 'archive/version', data: latin1('3\n') }]);
    expect(() => loadTorch(noPkl)).toThrow(/no <folder>\/data\.pkl/);
    const script = writeZip([
      { name: 'm/data.pkl', data: latin1('\x80\x02N.') },
      { name: 'm/constants.pkl', data: latin1('\x80\x02N.') },
    ]);
    expect(loadTorch(script).value).toBeNull();
  });

  it('rejects storages and tensors whose sizes lie', () => {
    const short = ptZip(tensorPickle({ numel: 4, size: [4], stride: [1] }), {
      '0': new Uint8Array(12),
    });
    expect(() => loadTorch(short)).toThrow(
      /storage '0' \(float32, 4 elements = 16 bytes\) has only 12 bytes/,
    );
    const past = ptZip(tensorPickle({ numel: 4, size: [2, 3], stride: [3, 1] }), {
      '0': new Uint8Array(16),
    });
    expect(() => loadTorch(past)).toThrow(
      /size \[2,3\] stride \[3,1\] offset 0 reaches element 5, but the storage has 4/,
    );
    const offset = ptZip(tensorPickle({ numel: 4, size: [4], stride: [1], offset: 1 }), {
      '0': new Uint8Array(16),
    });
    expect(() => loadTorch(offset)).toThrow(/reaches element 4/);
    const rank = ptZip(tensorPickle({ numel: 4, size: [4], stride: [1, 1] }), {
      '0': new Uint8Array(16),
    });
    expect(() => loadTorch(rank)).toThrow(/differ in length/);
    const complex = ptZip(
      tensorPickle({ numel: 1, size: [1], stride: [1], storage: 'ComplexFloatStorage' }),
      { '0': new Uint8Array(8) },
    );
    expect(() => loadTorch(complex)).toThrow(/unsupported storage type torch\.ComplexFloatStorage/);
    const legacy = fixture('torch_legacy.pt').slice();
    // The first storage's element count follows the key-list pickle; make it lie.
    const text = new TextDecoder('latin1').decode(legacy);
    const at = text.lastIndexOf('e.') + 2;
    legacy[at] = legacy[at]! + 1;
    expect(() => loadTorch(legacy)).toThrow(
      /legacy torch file: storage '\d+' holds \d+ elements, the pickle says/,
    );
  });

  it('refuses a checkpoint whose pickle calls a non-allow-listed global', () => {
    const evil = ptZip(latin1('\x80\x02cos\nsystem\n(X\x02\x00\x00\x00lstR.'), {});
    expect(() => loadTorch(evil)).toThrow(UnsafePickleError);
    expect(() => loadTorch(evil)).toThrow(/os\.system/);
    const viaType = ptZip(
      latin1('\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(cos\nsystem\nN)NtR.'),
      {},
    );
    expect(() => loadTorch(viaType)).toThrow(/needs an allow-listed rebuild function/);
    const load = latin1('\x80\x02ctorch\nload\n(X\x01\x00\x00\x00xtR.');
    expect(() => loadTorch(load)).toThrow(/call torch\.load/);
  });

  it('checks the zip CRCs of storages (and can skip them)', () => {
    const pt = fixture('edm_adm_uncond.pt').slice();
    const entry = readZipEntries(pt).find((e) => e.name.endsWith('/data/5'))!;
    pt[entry.dataOffset]! ^= 1;
    expect(() => loadTorch(pt)).toThrow(/CRC-32 mismatch in entry 'edm_adm_uncond\/data\/5'/);
    expect(() => loadTorch(pt, { verifyCrc: false })).not.toThrow();
    expect(readZipEntry(pt, entry, false).length).toBe(entry.size);
  });
});
