/** The project's safetensors checkpoint: encode/decode round trips, metadata layout, bad input. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FORMAT,
  type CheckpointParts,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  FormatError,
  readCheckpoint,
  readSafetensors,
  type TensorInput,
  writeSafetensors,
} from '../src/index.ts';
import { readCheckpointFile, writeCheckpointFile } from '../src/node.ts';
import { fixture } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-io-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tensors(prefix: number, names: [string, number[]][]): Map<string, TensorInput> {
  return new Map(
    names.map(([name, shape], k) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return [
        name,
        { shape, data: Float32Array.from({ length: n }, (_, i) => prefix + k + i / 8) },
      ];
    }),
  );
}

const NAMES: [string, number[]][] = [
  ['model.map_layer0.weight', [4, 8]],
  ['model.map_layer0.bias', [4]],
  ['model.map_noise.freqs', [2]],
];

function parts(): CheckpointParts {
  return {
    kind: 'training-state',
    initKwargs: {
      img_resolution: 32,
      channel_mult: [2, 2, 2],
      sigma_max: Number.POSITIVE_INFINITY,
    },
    className: 'EDMPrecond',
    net: tensors(1, NAMES),
    ema: tensors(100, NAMES),
    optimizer: {
      tensors: tensors(200, [
        ['model.map_layer0.weight.step', []],
        ['model.map_layer0.weight.exp_avg', [4, 8]],
        ['model.map_layer0.weight.exp_avg_sq', [4, 8]],
      ]),
      paramGroups: [
        { lr: 0.001, betas: [0.9, 0.999], eps: 1e-8, params: ['model.map_layer0.weight'] },
      ],
    },
    step: 20_480,
    rng: { seed: 7, state: [1, 2, 3], counter: '18446744073709551615' },
    extra: { note: 'hello', ['__proto__']: 'stays a key' },
  };
}

function sameTensors(
  got: ReadonlyMap<string, { shape: number[]; data: Float32Array }> | undefined,
  want: ReadonlyMap<string, TensorInput> | undefined,
) {
  expect([...(got ?? new Map()).keys()]).toEqual([...(want ?? new Map()).keys()]);
  for (const [name, t] of want ?? []) {
    expect(got!.get(name)!.shape, name).toEqual(t.shape);
    expect(got!.get(name)!.data, name).toEqual(t.data);
  }
}

describe('our checkpoint layout (safetensors)', () => {
  it('round-trips every part; metadata keys and tensor prefixes are as documented', () => {
    const p = parts();
    const bytes = encodeCheckpoint(p);
    const st = readSafetensors(bytes);
    expect(Object.keys(st.metadata)).toEqual([
      'format',
      'kind',
      'init_kwargs',
      'class_name',
      'step',
      'kimg',
      'rng',
      'optimizer',
      'note',
      '__proto__',
    ]);
    expect(st.metadata.format).toBe(CHECKPOINT_FORMAT);
    expect(JSON.parse(st.metadata.init_kwargs!)).toEqual({
      img_resolution: 32,
      channel_mult: [2, 2, 2],
      sigma_max: 'inf',
    });
    expect([st.metadata.step, st.metadata.kimg]).toEqual(['20480', '20']);
    expect([...st.tensors.keys()].map((k) => k.split('.')[0])).toEqual([
      ...Array(3).fill('net'),
      ...Array(3).fill('ema'),
      ...Array(3).fill('opt'),
    ]);
    for (const a of st.tensors.values()) expect(a.dtype).toBe('float32');

    const back = decodeCheckpoint(bytes);
    expect([back.format, back.container, back.className, back.step, back.kimg]).toEqual([
      'training-state',
      'safetensors',
      'EDMPrecond',
      20_480,
      20,
    ]);
    expect(back.initKwargs).toEqual(p.initKwargs);
    expect(back.rng).toEqual(p.rng);
    expect(back.metadata).toEqual({ note: 'hello', ['__proto__']: 'stays a key' });
    expect(Object.getPrototypeOf(back.metadata)).toBe(Object.prototype);
    sameTensors(back.net, p.net);
    sameTensors(back.ema, p.ema);
    sameTensors(back.optimizer?.tensors, p.optimizer?.tensors);
    expect(back.optimizer?.paramGroups).toEqual(p.optimizer?.paramGroups);
    expect(back.tensors).toBe(back.ema);
    // readCheckpoint recognises our files too; encoding again gives the same bytes.
    const read = readCheckpoint(bytes, { fileName: 'ckpt.safetensors', require: ['optimizer'] });
    expect(read.fileName).toBe('ckpt.safetensors');
    expect(
      encodeCheckpoint({
        kind: 'training-state',
        initKwargs: read.initKwargs!,
        className: read.className!,
        net: read.net!,
        ema: read.ema!,
        optimizer: read.optimizer!,
        step: read.step!,
        rng: read.rng!,
        extra: read.metadata!,
      }),
    ).toEqual(bytes);
  });

  it('converts an official PFGM++ training state into ours without losing anything', () => {
    const official = readCheckpoint(fixture('stub-training-state.pt'));
    const ours = decodeCheckpoint(
      encodeCheckpoint({
        kind: 'training-state',
        initKwargs: official.initKwargs!,
        className: official.className!,
        net: official.net!,
        ema: official.ema!,
        optimizer: official.optimizer!,
        step: official.step!,
      }),
    );
    sameTensors(ours.net, official.net);
    sameTensors(ours.ema, official.ema);
    sameTensors(ours.optimizer?.tensors, official.optimizer?.tensors);
    expect(ours.optimizer?.paramGroups).toEqual(official.optimizer?.paramGroups);
    expect([ours.initKwargs, ours.step, ours.kimg]).toEqual([official.initKwargs, 20_480, 20]);
  });

  it('a network snapshot holds only the EMA weights', () => {
    const bytes = encodeCheckpoint({
      kind: 'network-snapshot',
      initKwargs: {},
      ema: tensors(3, NAMES),
    });
    const back = decodeCheckpoint(bytes);
    expect([back.format, back.net, back.optimizer, back.step]).toEqual([
      'network-snapshot',
      undefined,
      undefined,
      undefined,
    ]);
    sameTensors(back.tensors, tensors(3, NAMES));
  });

  it('reads a plain safetensors file as a state dict', () => {
    const plain = writeSafetensors({
      w: { dtype: 'float16', shape: [2], data: Uint16Array.of(0x3c00, 0xc000) },
    });
    const ckpt = readCheckpoint(plain);
    expect([ckpt.format, ckpt.tensors.get('w')!.dtype, [...ckpt.tensors.get('w')!.data]]).toEqual([
      'state-dict',
      'float16',
      [1, -2],
    ]);
    // The header length's low byte can be 0x80 (a pickle's first byte) or 'P' (a ZIP's): the
    // file is still recognised as safetensors.
    const firsts = new Set<number>();
    for (let pad = 0; pad < 256; pad += 8) {
      const bytes = writeSafetensors(
        { w: { dtype: 'uint8', shape: [1], data: Uint8Array.of(7) } },
        { pad: 'x'.repeat(pad) },
      );
      firsts.add(bytes[0]!);
      expect(readCheckpoint(bytes).tensors.get('w')!.data).toEqual(Float32Array.of(7));
    }
    expect([firsts.has(0x80), firsts.has(0x50)]).toEqual([true, true]);
  });

  it('refuses bad parts when writing and bad metadata when reading', () => {
    const bad = (change: (p: CheckpointParts) => void, message: RegExp) => {
      const p = parts();
      change(p);
      expect(() => encodeCheckpoint(p)).toThrow(message);
    };
    bad((p) => ((p as { kind: string }).kind = 'weights'), /kind must be one of/);
    bad((p) => delete p.net, /a training state needs the training network/);
    bad((p) => (p.step = -1), /step must be a non-negative integer/);
    bad((p) => (p.extra = { step: '1' }), /extra metadata key 'step' is reserved/);
    bad((p) => (p.rng = { big: 1n } as never), /metadata cannot hold a bigint/);
    bad((p) => (p.initKwargs = [] as never), /initKwargs must be an object/);
    bad(
      (p) =>
        (p.net as Map<string, TensorInput>).set('x', { shape: [3], data: new Float32Array(2) }),
      /net\.x: shape \[3\] holds 3 elements but data has 2/,
    );
    bad(
      (p) => (p.ema as Map<string, TensorInput>).set('', { shape: [], data: new Float32Array(1) }),
      /empty name/,
    );

    const withMeta = (meta: Record<string, string>, names = ['net.w']) =>
      writeSafetensors(
        Object.fromEntries(
          names.map((n) => [n, { dtype: 'float32', shape: [1], data: new Float32Array(1) }]),
        ),
        { format: CHECKPOINT_FORMAT, kind: 'training-state', ...meta },
      );
    const cases: [Uint8Array, RegExp][] = [
      [withMeta({ format: 'pfgmpp-webgpu/2' }), /unsupported checkpoint format 'pfgmpp-webgpu\/2'/],
      [withMeta({ kind: 'other' }), /checkpoint kind 'other' is not one of/],
      [withMeta({ step: '1e3' }), /metadata step '1e3' is not a count/],
      [withMeta({ init_kwargs: '{' }), /init_kwargs is not valid JSON/],
      [withMeta({ init_kwargs: '[1]' }), /init_kwargs metadata is not a JSON object/],
      [withMeta({ optimizer: '{"param_groups": 3}' }), /param_groups is not a list of objects/],
      [
        withMeta({}, ['net.w', 'weird.w']),
        /tensor 'weird\.w' has none of the net\.\/ema\.\/opt\. prefixes/,
      ],
      [withMeta({ kind: 'network-snapshot' }, ['opt.w.step']), /holds no net\. or ema\. tensors/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => readCheckpoint(bytes, { fileName: 'c.safetensors' })).toThrow(message);
      try {
        readCheckpoint(bytes, { fileName: 'c.safetensors' });
      } catch (e) {
        expect(e).toBeInstanceOf(CheckpointError);
        expect((e as CheckpointError).message.startsWith('c.safetensors: ')).toBe(true);
      }
    }
  });

  it('files: atomic writes, no file at all when encoding fails, errors that name the path', async () => {
    const path = join(dir, 'training-state-000020.safetensors');
    await writeCheckpointFile(path, parts());
    const back = await readCheckpointFile(path);
    expect([back.fileName, back.step]).toEqual([path, 20_480]);
    const bad = join(dir, 'bad.safetensors');
    const p = parts();
    (p.ema as Map<string, TensorInput>).set('x', { shape: [2, 2], data: new Float32Array(3) });
    await expect(writeCheckpointFile(bad, p)).rejects.toBeInstanceOf(FormatError);
    await expect(
      writeCheckpointFile(join(dir, 'missing', 'c.safetensors'), parts()),
    ).rejects.toThrow(/missing\/c\.safetensors: cannot write/);
    expect(readdirSync(dir)).toEqual(['training-state-000020.safetensors']);
    await expect(readCheckpointFile(join(dir, 'absent.pt'))).rejects.toThrow(
      /absent\.pt: cannot read/,
    );
  });
});
