/**
 * PFGM++'s run-folder commands as their command lines are written: `generate --outdir=RUN` (no
 * --network) and generate_alpha/steps/quant. Which states a kimg window takes, the ckpt_ /
 * ckpt_2_ / ckpt_3_ folder names and per-1000 subfolders, skipping finished folders and redoing
 * an interrupted one, the D check, --use_pickle, --edm, --save_images (a GIF decoded here), the
 * folder sets of the sweeps, and the legacy switches. Networks: the official PFGM++ training
 * state of test/fixtures/official (16x16 RGB, D = 128) and a tiny grayscale net of ours.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JsonObject, type TensorInput } from '@pfgmpp/io';
import { decodePng, writeCheckpointFile } from '@pfgmpp/io/node';
import { buildPrecond, networkSpec } from '@pfgmpp/nn';
import { getDevice } from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trajectoryGif } from '../src/sampling/gif.ts';
import { ckptFolder, matchStates, selectStates, splitSeeds } from '../src/sampling/run-folder.ts';
import { officialFile } from './official.ts';
import { cli } from './run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-generate-runs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh run folder holding `files` (name -> source file). */
function runFolder(name: string, files: Record<string, string>): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  for (const [f, src] of Object.entries(files)) copyFileSync(src, join(d, f));
  return d;
}

/** Sorted file tree under `d`, as relative paths. */
function tree(d: string, prefix = ''): string[] {
  return readdirSync(d, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? tree(join(d, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
    )
    .sort();
}

/** The lines of stderr that are not the adapter's announcement or kernel tuning. */
const errLines = (err: string) =>
  err.split('\n').filter((l) => l && !/^(adapter|kernels|Warning):/.test(l));

// ---------------------------------------------------------------------------------------------
// A GIF decoder written from the GIF89a specification, so the encoder is checked against an
// independent reading: the screen size and every frame's pixels as RGB.

interface GifFrames {
  width: number;
  height: number;
  frames: Uint8Array[];
}

function lzwDecode(minCode: number, data: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  const clear = 1 << minCode;
  const end = clear + 1;
  let size = minCode + 1;
  let dict: number[][] = [];
  const reset = () => {
    dict = Array.from({ length: clear + 2 }, (_, i) => [i]);
    size = minCode + 1;
  };
  reset();
  let n = 0;
  let prev: number[] | null = null;
  let bits = 0;
  let acc = 0;
  for (const byte of data) {
    acc |= byte << bits;
    bits += 8;
    while (bits >= size) {
      const code = acc & ((1 << size) - 1);
      acc >>>= size;
      bits -= size;
      if (code === clear) {
        reset();
        prev = null;
        continue;
      }
      if (code === end) return out;
      let entry = dict[code];
      if (!entry && prev) entry = [...prev, prev[0] as number];
      if (!entry) throw new Error(`bad LZW code ${code}`);
      for (const v of entry) out[n++] = v;
      if (prev) dict.push([...prev, entry[0] as number]);
      prev = entry;
      if (dict.length === 1 << size && size < 12) size++;
    }
  }
  return out;
}

function decodeGif(bytes: Uint8Array): GifFrames {
  const text = (a: number, b: number) => String.fromCharCode(...bytes.subarray(a, b));
  expect(text(0, 6)).toBe('GIF89a');
  const u16 = (at: number) => (bytes[at] as number) | ((bytes[at + 1] as number) << 8);
  const width = u16(6);
  const height = u16(8);
  let at = 13;
  const table = (flags: number): number[][] => {
    const n = 2 << (flags & 7);
    const t = Array.from({ length: n }, (_, i) => [...bytes.subarray(at + 3 * i, at + 3 * i + 3)]);
    at += 3 * n;
    return t;
  };
  const global = (bytes[10] as number) & 0x80 ? table(bytes[10] as number) : null;
  const subBlocks = (): Uint8Array => {
    const parts: number[] = [];
    for (let len = bytes[at++] as number; len; len = bytes[at++] as number) {
      parts.push(...bytes.subarray(at, at + len));
      at += len;
    }
    return Uint8Array.from(parts);
  };
  const frames: Uint8Array[] = [];
  for (;;) {
    const block = bytes[at++];
    if (block === 0x3b) break;
    if (block === 0x21) {
      at++; // label
      subBlocks();
      continue;
    }
    expect(block).toBe(0x2c);
    const [w, h, flags] = [u16(at + 4), u16(at + 6), bytes[at + 8] as number];
    expect([u16(at), u16(at + 2), w, h]).toEqual([0, 0, width, height]);
    at += 9;
    const palette = flags & 0x80 ? table(flags) : global;
    if (!palette) throw new Error('a frame without a colour table');
    const minCode = bytes[at++] as number;
    const index = lzwDecode(minCode, subBlocks(), w * h);
    const rgb = new Uint8Array(w * h * 3);
    index.forEach((k, p) => rgb.set(palette[k] as number[], p * 3));
    frames.push(rgb);
  }
  return { width, height, frames };
}

// ---------------------------------------------------------------------------------------------

describe('run-folder rules (no GPU)', () => {
  it('names output folders after kimg and the last seed', () => {
    expect(ckptFolder(123, 63)).toBe('ckpt_000123');
    expect(ckptFolder(123, 49999)).toBe('ckpt_000123');
    expect(ckptFolder(123, 50000)).toBe('ckpt_2_000123');
    expect(ckptFolder(5, 99999, '_alpha_0.1')).toBe('ckpt_2_000005_alpha_0.1');
    expect(ckptFolder(0, 100000, '_quant_5')).toBe('ckpt_3_000000_quant_5');
    expect(ckptFolder(1234567, 0)).toBe('ckpt_1234567');
  });

  it('takes the training states whose kimg lies in [--ckpt, --end_ckpt]', () => {
    const names = [
      'training-state-000009.pt',
      'training-state-000010.pt',
      'training-state-000150.safetensors',
      'training-state-000150.500.safetensors',
      'training-state-000200.pt',
      'training-state-000201.pt',
      'training-state-000100.pkl',
      'training-state-latest.pt',
      'network-snapshot-000050.pkl',
      'network-snapshot-000060.safetensors',
      'stats.jsonl',
      'ckpt_000010',
    ];
    const pt = matchStates('run', names, 'pt');
    expect(pt.unreadable).toEqual(['training-state-latest.pt']);
    expect(pt.states.map((s) => [s.name, s.kimg, s.checkD])).toEqual([
      ['training-state-000009.pt', 9, true],
      ['training-state-000010.pt', 10, true],
      ['training-state-000150.safetensors', 150, true],
      ['training-state-000150.500.safetensors', 150, true],
      ['training-state-000200.pt', 200, true],
      ['training-state-000201.pt', 201, true],
    ]);
    const w = selectStates(pt.states, { ckpt: 10, endCkpt: 200 });
    expect(w.chosen.map((s) => s.name)).toEqual([
      'training-state-000010.pt',
      'training-state-000150.500.safetensors',
      'training-state-000200.pt',
    ]);
    expect(w.outside.map((s) => s.kimg)).toEqual([9, 201]);
    expect(w.superseded.map((s) => s.name)).toEqual(['training-state-000150.safetensors']);
    expect(selectStates(pt.states, null).chosen.map((s) => s.kimg)).toEqual([9, 10, 150, 200, 201]);
    const pkl = matchStates('run', names, 'pkl').states;
    expect(pkl.map((s) => [s.name, s.kimg, s.checkD])).toEqual([
      ['training-state-000100.pkl', 100, false],
    ]);
    // --edm=1 of the sweeps: snapshots, every one taken as kimg 0.
    const snap = matchStates('run', names, 'snapshot').states;
    expect(snap.map((s) => [s.name, s.kimg])).toEqual([
      ['network-snapshot-000050.pkl', 0],
      ['network-snapshot-000060.safetensors', 0],
    ]);
  });

  it('splits seeds into near-equal batches as torch.tensor_split does', () => {
    const seeds = (n: number) => Array.from({ length: n }, (_, i) => i);
    expect(splitSeeds(seeds(100), 64).map((b) => b.length)).toEqual([50, 50]);
    expect(splitSeeds(seeds(5), 3)).toEqual([
      [0, 1, 2],
      [3, 4],
    ]);
    expect(splitSeeds(seeds(129), 64).map((b) => b.length)).toEqual([43, 43, 43]);
  });

  it('writes a GIF whose grayscale frames are exact and RGB frames close', () => {
    // 5 images of 2x3 pixels: tiles of ceil(sqrt(5)) = 3 columns, 2 rows, the last cell black.
    const shape = [5, 1, 2, 3] as const;
    const frames = [0, 1].map((f) =>
      Float64Array.from({ length: 5 * 6 }, (_, i) => ((i * 37 + f * 11) % 101) / 50 - 1),
    );
    const gif = decodeGif(trajectoryGif(frames, shape));
    expect([gif.width, gif.height, gif.frames.length]).toEqual([9, 4, 2]);
    frames.forEach((x, f) => {
      for (let n = 0; n < 6; n++)
        for (let y = 0; y < 2; y++)
          for (let xx = 0; xx < 3; xx++) {
            const p = ((Math.floor(n / 3) * 2 + y) * 9 + (n % 3) * 3 + xx) * 3;
            const v =
              n < 5
                ? Math.min(
                    255,
                    Math.max(0, Math.trunc((x[n * 6 + y * 3 + xx] as number) * 127.5 + 128)),
                  )
                : 0;
            expect([...(gif.frames[f] as Uint8Array).subarray(p, p + 3)]).toEqual([v, v, v]);
          }
    });
    // RGB goes through gifenc's palette quantization: within a few levels.
    const rgb = [Float64Array.from({ length: 4 * 3 * 4 * 4 }, (_, i) => Math.sin(i) * 0.9)];
    const g = decodeGif(trajectoryGif(rgb, [4, 3, 4, 4]));
    expect([g.width, g.height, g.frames.length]).toEqual([8, 8, 1]);
    let worst = 0;
    for (let n = 0; n < 4; n++)
      for (let c = 0; c < 3; c++)
        for (let p = 0; p < 16; p++) {
          const want = Math.trunc((rgb[0]?.[(n * 3 + c) * 16 + p] as number) * 127.5 + 128);
          const [y, x] = [Math.floor(n / 2) * 4 + Math.floor(p / 4), (n % 2) * 4 + (p % 4)];
          worst = Math.max(worst, Math.abs((g.frames[0]?.[(y * 8 + x) * 3 + c] as number) - want));
        }
    expect(worst).toBeLessThanOrEqual(8);
  });

  it('refuses what cannot run, in one line, before touching the GPU', async () => {
    const empty = runFolder('empty', {});
    const cases: [string[], number, RegExp][] = [
      [['generate_alpha', `--outdir=${empty}`, '--pfgm=1'], 2, /--pfgm=1 is not available/],
      [['generate_steps', `--outdir=${empty}`, '--align', '1'], 2, /--align=1 is not available/],
      [['generate_quant', `--outdir=${empty}`, '--align_precond=yes'], 2, /not available/],
      [['generate_alpha', `--outdir=${empty}`, '--network=x.pkl'], 2, /--network is not used/],
      [['generate_alpha', `--outdir=${empty}`, '--solver=euler'], 2, /EDM sampler only/],
      [['generate', `--outdir=${empty}`, '--grid=g.png'], 2, /--grid needs --network/],
      [['generate', '--network=x.pt', '--ckpt=5', '--outdir=o'], 2, /--ckpt belongs to/],
      [['generate', '--seeds=0-3'], 2, /give --network FILE .* or --outdir RUN_FOLDER/],
      [['generate', `--outdir=${empty}`, '--aug_dim=inf'], 2, /--aug_dim must be an integer >= 2/],
      // The legacy switches off, and the original's spellings, pass; the folder has no states.
      [
        ['generate_alpha', `--outdir=${empty}`, '--pfgm=0', '--align=False', '--pfgmpp=1'],
        1,
        /no training-state-\*\.pt or training-state-\*\.safetensors to sample/,
      ],
      [
        ['generate', `--outdir=${empty}`, '--use_pickle=1', '--resume', '3'],
        1,
        /empty: no training-state-\*\.pkl to sample \(give --network FILE/,
      ],
      [['generate', `--outdir=${join(dir, 'nowhere')}`], 1, /nowhere: no such folder/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(...args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(code);
      const lines = errLines(r.err).filter((l) => !l.startsWith('note:'));
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0], args.join(' ')).toMatch(message);
      expect(r.err).not.toMatch(/^adapter:/m);
    }
    expect(readdirSync(empty)).toEqual([]);
  });

  it('lists every option in --help', async () => {
    const g = await cli('generate', '--help');
    for (const o of ['--ckpt', '--end_ckpt', '--edm', '--use_pickle', '--save_images', '--pfgmpp'])
      expect(g.out).toContain(o);
    for (const name of ['generate_alpha', 'generate_steps', 'generate_quant']) {
      const h = await cli(name, '--help');
      expect(h.code).toBe(0);
      for (const o of [
        '--outdir',
        '--ckpt',
        '--end_ckpt',
        '--edm',
        '--pfgm',
        '--align',
        '--aug_dim',
      ])
        expect(h.out).toContain(o);
    }
  });
});

describe.skipIf(GPU_SKIP_REASON)('run folders sampled on the GPU', () => {
  const official = officialFile('edm_ddpmpp_uncond'); // training-state-000123.pt, D = 128
  let tiny = ''; // a grayscale 8x8 training state of ours, D = 128

  beforeAll(async () => {
    await getDevice();
    const spec = networkSpec('ddpmpp', 'edm', {
      resolution: 8,
      channels: 1,
      cbase: 8,
      cres: [1],
      nblock: 1,
      dropout: 0,
      D: 128,
    });
    const net = buildPrecond(spec.className, spec.kwargs).initialize(7);
    const sd = new Map<string, TensorInput>(
      [...(await net.stateDict())].map(([k, t]) => [k, { shape: t.shape, data: t.data }]),
    );
    net.dispose();
    tiny = join(dir, 'tiny.safetensors');
    await writeCheckpointFile(tiny, {
      kind: 'training-state',
      className: spec.className,
      initKwargs: spec.kwargs as unknown as JsonObject,
      net: sd,
      ema: sd,
      step: 5000,
    });
  });

  const png = (...p: string[]) => decodePng(readFileSync(join(...p)));

  it('samples the window [--ckpt, --end_ckpt], skips finished folders, redoes an interrupted one', async () => {
    const run = runFolder('window', {
      'training-state-000010.pt': official,
      'training-state-000123.pt': official,
      'training-state-000200.pt': official,
      'training-state-000201.pt': official,
    });
    // The README's command line, shortened.
    const args = [
      'generate',
      `--outdir=${run}`,
      '--pfgmpp=1',
      '--aug_dim',
      '128',
      '--ckpt=123',
      '--end_ckpt=200',
      '--seeds',
      '0-2',
      '--batch',
      '2',
      '--steps=2',
    ];
    const r = await cli(...args);
    expect(r.code, r.err).toBe(0);
    const pngs = ['000000/000000.png', '000000/000001.png', '000000/000002.png'];
    expect(tree(run).filter((f) => f.startsWith('ckpt'))).toEqual([
      ...pngs.map((p) => `ckpt_000123/${p}`),
      ...pngs.map((p) => `ckpt_000200/${p}`),
    ]);
    expect(r.out).toMatch(
      /^ckpt_000123: 3 images from training-state-000123\.pt in [\d.]+ s \([\d.]+ images\/s\)$/m,
    );
    const image = png(run, 'ckpt_000200', pngs[1] as string);
    expect([image.width, image.height, image.channels]).toEqual([16, 16, 3]);
    // Same network, same seeds: the two folders hold the same images.
    expect(readFileSync(join(run, 'ckpt_000123', pngs[2] as string))).toEqual(
      readFileSync(join(run, 'ckpt_000200', pngs[2] as string)),
    );

    // Again: both folders are finished, nothing is sampled (not even a GPU opened).
    const mtime = statSync(join(run, 'ckpt_000123', pngs[0] as string)).mtimeMs;
    const again = await cli(...args);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/^ckpt_000123: already there, skipped/m);
    expect(again.out).toMatch(/^ckpt_000200: already there, skipped/m);
    expect(again.err).not.toMatch(/^adapter:/m);
    expect(statSync(join(run, 'ckpt_000123', pngs[0] as string)).mtimeMs).toBe(mtime);

    // An interrupted job leaves .tmp-ckpt_000200 (never ckpt_000200): it is sampled again.
    rmSync(join(run, 'ckpt_000200'), { recursive: true });
    mkdirSync(join(run, '.tmp-ckpt_000200', '000000'), { recursive: true });
    writeFileSync(join(run, '.tmp-ckpt_000200', '000000', '000000.png'), 'half-written');
    writeFileSync(join(run, '.tmp-ckpt_000200', '000000', '000777.png'), 'stray');
    const resumed = await cli(...args);
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.out).toMatch(/^ckpt_000123: already there, skipped/m);
    expect(resumed.out).toMatch(/^ckpt_000200: 3 images from training-state-000200\.pt/m);
    expect(resumed.err).toMatch(/ckpt_000200: removed \.tmp-ckpt_000200, left unfinished/);
    expect(tree(join(run, 'ckpt_000200'))).toEqual(pngs);
    expect(existsSync(join(run, '.tmp-ckpt_000200'))).toBe(false);
    expect(readFileSync(join(run, 'ckpt_000200', pngs[0] as string))).toEqual(
      readFileSync(join(run, 'ckpt_000123', pngs[0] as string)),
    );
  });

  it('names folders ckpt_3_ past seed 99999, with per-1000 subfolders; --edm=1 lifts the window', async () => {
    const run = runFolder('seeds', {
      'training-state-000010.pt': official,
      'training-state-000123.pt': official,
    });
    const r = await cli(
      'generate',
      `--outdir=${run}`,
      '--ckpt=100',
      '--seeds=99999-100000',
      '--steps=2',
      '--subdirs',
    );
    expect(r.code, r.err).toBe(0);
    expect(tree(run).filter((f) => f.startsWith('ckpt'))).toEqual([
      'ckpt_3_000123/099000/099999.png',
      'ckpt_3_000123/100000/100000.png',
    ]);
    const all = await cli(
      'generate',
      `--outdir=${run}`,
      '--ckpt=100',
      '--edm=1',
      '--seeds=7',
      '--steps=2',
    );
    expect(all.code, all.err).toBe(0);
    expect(tree(run).filter((f) => f.startsWith('ckpt_0'))).toEqual([
      'ckpt_000010/000000/000007.png',
      'ckpt_000123/000000/000007.png',
    ]);
  });

  it('checks D of .pt states against --aug_dim, not of .pkl ones (--use_pickle=1)', async () => {
    const run = runFolder('pickle', {
      'training-state-000123.pt': official,
      // The reader tells formats by their bytes; the name is what --use_pickle selects by.
      'training-state-000050.pkl': official,
    });
    const bad = await cli('generate', `--outdir=${run}`, '--aug_dim=64', '--seeds=0', '--steps=2');
    expect(bad.code).toBe(1);
    const lines = errLines(bad.err);
    expect(lines.at(-1)).toBe(
      `pfgmpp generate: error: ${join(run, 'training-state-000123.pt')}: the network stores D = 128 but --aug_dim is 64; give --aug_dim 128 (the original asserts net.D == aug_dim)`,
    );
    expect(tree(run).filter((f) => !f.startsWith('training-state'))).toEqual([]);
    const pkl = await cli(
      'generate',
      `--outdir=${run}`,
      '--use_pickle=1',
      '--aug_dim=64',
      '--pfgmpp=1',
      '--seeds=0',
      '--steps=2',
    );
    expect(pkl.code, pkl.err).toBe(0);
    expect(tree(run).filter((f) => f.startsWith('ckpt'))).toEqual([
      'ckpt_000050/000000/000000.png',
    ]);
  });

  it('counts our training states; --save_images writes the trajectory GIF, frame per step', async () => {
    const run = runFolder('ours', {
      'training-state-000005.safetensors': tiny,
      'training-state-000005.500.safetensors': tiny,
    });
    const common = ['--seeds=0-4', '--batch=5', '--steps=3', '--pfgmpp=1'];
    const r = await cli('generate', `--outdir=${run}`, ...common);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^ckpt_000005: 5 images from training-state-000005\.500\.safetensors/m);
    expect(r.err).toMatch(/note: training-state-000005\.safetensors: a later state of kimg 5/);
    const gifRun = await cli('generate', `--outdir=${run}`, ...common, '--save_images');
    expect(gifRun.code, gifRun.err).toBe(0);
    const gif = decodeGif(readFileSync(join(run, 'vis', 'movie.gif')));
    // 5 images of 8x8: 3 columns, 2 rows; one frame per sampler step.
    expect([gif.width, gif.height, gif.frames.length]).toEqual([24, 16, 3]);
    // The last frame is the samples: tile k equals seed k's PNG, pixel for pixel.
    const last = gif.frames[2] as Uint8Array;
    for (let k = 0; k < 5; k++) {
      const img = png(run, 'ckpt_000005', '000000', `00000${k}.png`);
      expect(img.channels).toBe(1);
      const tile: number[] = [];
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 8; x++)
          tile.push(last[((Math.floor(k / 3) * 8 + y) * 24 + (k % 3) * 8 + x) * 3] as number);
      expect(tile).toEqual([...img.data]);
    }
    expect(gif.frames[0]).not.toEqual(last);
  });

  it('generate_alpha, generate_steps and generate_quant write their folder sets', async () => {
    const run = runFolder('sweeps', { 'training-state-000005.safetensors': tiny });
    const common = [`--outdir=${run}`, '--pfgmpp=1', '--aug_dim', '128', '--batch=1'];
    const two = ['--seeds=0-1', '--steps=2'];
    const plain = await cli('generate', ...common, ...two);
    expect(plain.code, plain.err).toBe(0);
    const alpha = await cli('generate_alpha', ...common, ...two);
    expect(alpha.code, alpha.err).toBe(0);
    const steps = await cli('generate_steps', ...common, '--seeds=0');
    expect(steps.code, steps.err).toBe(0);
    const quant = await cli('generate_quant', ...common, ...two);
    expect(quant.code, quant.err).toBe(0);
    expect(
      readdirSync(run)
        .filter((f) => f.startsWith('ckpt'))
        .sort(),
    ).toEqual(
      [
        'ckpt_000005',
        ...['0', '0.1', '0.2'].map((a) => `ckpt_000005_alpha_${a}`),
        ...[10, 12, 14, 16, 18, 20, 22, 24].map((n) => `ckpt_000005_steps_${n}`),
        ...[5, 6, 7, 8, 9].map((b) => `ckpt_000005_quant_${b}`),
      ].sort(),
    );
    expect(tree(join(run, 'ckpt_000005_steps_24'))).toEqual(['000000/000000.png']);
    // alpha = 0 is the plain sampler (the prior's scale 80 is the first time step here).
    const img = (f: string) => readFileSync(join(run, f, '000000', '000001.png'));
    expect(img('ckpt_000005_alpha_0')).toEqual(img('ckpt_000005'));
    expect(img('ckpt_000005_alpha_0.2')).not.toEqual(img('ckpt_000005'));
    // generate_alpha skips its finished folders; generate_quant samples again (the original).
    const alpha2 = await cli('generate_alpha', ...common, ...two);
    expect(alpha2.out.match(/already there, skipped/g)).toHaveLength(3);
    const quant2 = await cli('generate_quant', ...common, ...two);
    expect(quant2.out.match(/^ckpt_000005_quant_\d: 2 images from/gm)).toHaveLength(5);
    // --save_images: grids named ode_images_{kimg}_{alpha}.png, no folders.
    const grids = await cli('generate_alpha', ...common, ...two, '--save_images=1');
    expect(grids.code, grids.err).toBe(0);
    expect(
      readdirSync(run)
        .filter((f) => f.startsWith('ode_images'))
        .sort(),
    ).toEqual(['ode_images_5_0.1.png', 'ode_images_5_0.2.png', 'ode_images_5_0.png']);
  });

  it('--edm=1 of the sweeps samples the one network snapshot as kimg 0', async () => {
    const run = runFolder('edm', { 'network-snapshot-000300.pkl': tiny });
    const r = await cli('generate_steps', `--outdir=${run}`, '--edm=1', '--seeds=0', '--ckpt=5');
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(run).filter((f) => f.startsWith('ckpt'))).toHaveLength(8);
    expect(existsSync(join(run, 'ckpt_000000_steps_10', '000000', '000000.png'))).toBe(true);
    copyFileSync(tiny, join(run, 'network-snapshot-000400.safetensors'));
    const two = await cli('generate_quant', `--outdir=${run}`, '--edm=1', '--seeds=0');
    expect(two.code).toBe(1);
    expect(errLines(two.err).at(-1)).toMatch(
      /2 network snapshots, but --edm=1 names every output after kimg 0/,
    );
  });
});
