/**
 * The command lines of the PFGM++ README (and SPEC 1), copied as they are written, run in order
 * after `npx pfgmpp`: dataset_tool -> fid ref -> train -> generate (run-folder mode) ->
 * generate_steps/alpha/quant -> fid calc. Each runs at tiny size: 8 images of the CIFAR-10 tarball
 * fixture, a few training steps of a small NCSN++, 2-4 seeds and the synthetic-weight Inception
 * file. The size options are appended to the copied line; a repeated option's last value wins,
 * as in click. Checked: the folders, file names and printed lines the original produces.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpz, readZipEntries } from '@pfgmpp/io';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticInception } from './inception-file.ts';
import { cli } from './run-cli.ts';

const TARBALL = fileURLToPath(
  new URL('../../../test/fixtures/dataset_tool/cifar-mini.tar.gz', import.meta.url),
);
const work = mkdtempSync(join(tmpdir(), 'pfgmpp-lines-'));
const home = process.cwd();
const weightsEnv = process.env.PFGMPP_FID_WEIGHTS;

/**
 * `torchrun ... SCRIPT.py ARGS` or `python SCRIPT.py ARGS` -> [SCRIPT, ...ARGS] (the lines hold
 * no quotes), with `tiny` appended.
 */
function asPfgmpp(line: string, tiny = ''): string[] {
  const words = `${line} ${tiny}`.trim().split(/\s+/);
  const at = words.findIndex((w) => w.endsWith('.py'));
  if (at < 0) throw new Error(`no script in '${line}'`);
  return [(words[at] as string).slice(0, -3), ...words.slice(at + 1)];
}

const run = (line: string, tiny = '') => cli(...asPfgmpp(line, tiny));
const RUN = 'training-runs/exp_name';
const pngsIn = (folder: string) =>
  readdirSync(folder, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.png'))
    .sort();

// Tiny size: an 8-channel one-level NCSN++, two steps of 8 images, one training state.
const TINY_TRAIN =
  '--batch 8 --cbase 8 --cres 1 --nblock 1 --attn none --dropout 0 --kimg 0.016 --tick 0.008 ' +
  '--dump 1 --seed 1 --lr-rampup 0';

describe('command lines as the PFGM++ README writes them', () => {
  it('parses the launchers: torchrun and python', () => {
    expect(
      asPfgmpp(
        'torchrun --standalone --nproc_per_node=8 fid.py calc --images=x --num 50000',
        '--num 2',
      ),
    ).toEqual(['fid', 'calc', '--images=x', '--num', '50000', '--num', '2']);
    expect(asPfgmpp('python dataset_tool.py --source=a --dest=b')).toEqual([
      'dataset_tool',
      '--source=a',
      '--dest=b',
    ]);
  });
});

describe.skipIf(GPU_SKIP_REASON)('the README pipeline, end to end at tiny size', () => {
  beforeAll(() => {
    // The lines use paths relative to the repository folder of the original.
    process.chdir(work);
    mkdirSync('downloads/cifar10', { recursive: true });
    copyFileSync(TARBALL, 'downloads/cifar10/cifar-10-python.tar.gz');
    writeSyntheticInception('inception.safetensors', { fc: true });
    process.env.PFGMPP_FID_WEIGHTS = join(work, 'inception.safetensors');
  });
  afterAll(() => {
    process.chdir(home);
    if (weightsEnv === undefined) delete process.env.PFGMPP_FID_WEIGHTS;
    else process.env.PFGMPP_FID_WEIGHTS = weightsEnv;
    rmSync(work, { recursive: true, force: true });
  });

  it('python dataset_tool.py --source=downloads/cifar10/cifar-10-python.tar.gz --dest=datasets/cifar10-32x32.zip', async () => {
    // 8 of the 35 images keep the Inception passes short (about a second per image on lavapipe).
    const r = await run(
      'python dataset_tool.py --source=downloads/cifar10/cifar-10-python.tar.gz --dest=datasets/cifar10-32x32.zip',
      '--max-images=8',
    );
    expect(r.code, r.err).toBe(0);
    const names = readZipEntries(new Uint8Array(readFileSync('datasets/cifar10-32x32.zip'))).map(
      (e) => e.name,
    );
    expect(names).toContain('00000/img00000000.png');
    expect(names).toContain('dataset.json');
    expect(names.filter((n) => n.endsWith('.png'))).toHaveLength(8);
  });

  it('python fid.py ref --data=datasets/cifar10-32x32.zip --dest=fid-refs/cifar10-32x32.npz', async () => {
    const r = await run(
      'python fid.py ref --data=datasets/cifar10-32x32.zip --dest=fid-refs/cifar10-32x32.npz',
    );
    expect(r.code, r.err).toBe(0);
    const stats = readNpz(new Uint8Array(readFileSync('fid-refs/cifar10-32x32.npz')));
    expect(stats.get('mu')?.shape).toEqual([2048]);
    expect(stats.get('sigma')?.shape).toEqual([2048, 2048]);
  });

  it('torchrun ... train.py --outdir=training-runs --name exp_name ... --pfgmpp=1 --batch 512 --aug_dim 128', async () => {
    const r = await run(
      'torchrun --standalone --nproc_per_node=8 train.py --outdir=training-runs --name exp_name ' +
        '--data=datasets/cifar10-32x32.zip --cond=0 --arch=ncsnpp --pfgmpp=1 --batch 512 --aug_dim 128',
      TINY_TRAIN,
    );
    expect(r.code, r.err).toBe(0);
    // --name: the run folder is exactly outdir/name.
    expect(readdirSync('training-runs')).toEqual(['exp_name']);
    const files = readdirSync(RUN);
    for (const f of ['training_options.json', 'log.txt', 'stats.jsonl']) expect(files).toContain(f);
    expect(files.filter((f) => /^training-state-\d{6}.*\.safetensors$/.test(f))).toHaveLength(1);
    const options = JSON.parse(readFileSync(join(RUN, 'training_options.json'), 'utf8'));
    expect(options.network_kwargs).toMatchObject({
      pfgmpp: true,
      D: 128,
      embedding_type: 'fourier',
    });
    expect(options.dataset_kwargs.use_labels).toBe(false);
  });

  it('torchrun ... generate.py --seeds=0-49999 --outdir=./training-runs/exp_name --pfgmpp=1 --aug_dim=128', async () => {
    const r = await run(
      'torchrun --standalone --nproc_per_node=8 generate.py ' +
        '--seeds=0-49999 --outdir=./training-runs/exp_name --pfgmpp=1 --aug_dim=128',
      '--seeds=0-3 --steps 4',
    );
    expect(r.code, r.err).toBe(0);
    expect(pngsIn(join(RUN, 'ckpt_000000'))).toEqual([
      '000000/000000.png',
      '000000/000001.png',
      '000000/000002.png',
      '000000/000003.png',
    ]);
    // Run again: the finished checkpoint folder is skipped, as the original.
    const again = await run(
      'python generate.py --seeds=0-3 --outdir=./training-runs/exp_name --pfgmpp=1 --aug_dim=128',
    );
    expect(again.code, again.err).toBe(0);
    expect(again.err + again.out).toMatch(/ckpt_000000.*(exists|skip)/i);
  });

  it('python generate_steps.py / generate_alpha.py / generate_quant.py (same arguments)', async () => {
    const args = '--seeds=0-1 --outdir=./training-runs/exp_name --pfgmpp=1 --aug_dim=128';
    for (const script of ['generate_steps', 'generate_alpha', 'generate_quant']) {
      const r = await run(`python ${script}.py ${args}`);
      expect(r.code, `${script}: ${r.err}`).toBe(0);
    }
    const folders = readdirSync(RUN)
      .filter((f) => f.startsWith('ckpt_'))
      .sort();
    expect(folders).toEqual(
      [
        'ckpt_000000',
        ...['0', '0.1', '0.2'].map((a) => `ckpt_000000_alpha_${a}`),
        ...[5, 6, 7, 8, 9].map((b) => `ckpt_000000_quant_${b}`),
        ...[10, 12, 14, 16, 18, 20, 22, 24].map((n) => `ckpt_000000_steps_${n}`),
      ].sort(),
    );
    for (const f of folders.slice(1))
      expect(pngsIn(join(RUN, f)), f).toEqual(['000000/000000.png', '000000/000001.png']);
  });

  it('torchrun ... fid.py calc --images=training-runs/exp_name --ref=fid-refs/cifar10-32x32.npz --num 50000', async () => {
    const line =
      'torchrun --standalone --nproc_per_node=8 fid.py calc --images=training-runs/exp_name ' +
      '--ref=fid-refs/cifar10-32x32.npz --num 50000';
    const r = await run(line, '--num 4');
    expect(r.code, r.err).toBe(0);
    // One line per ckpt_ folder, as PFGM++'s fid.py: only the plain one without a suffix flag.
    const lines = r.out
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('path:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^path:training-runs\/exp_name\/ckpt_000000, \d+(\.\d+)?(e[+-]\d+)?$/);
    const alpha = await run(line, '--num 2 --alpha 1');
    expect(alpha.code, alpha.err).toBe(0);
    expect(
      alpha.out
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('path:'))
        .map((l) => l.split(',')[0]),
    ).toEqual(['0', '0.1', '0.2'].map((a) => `path:training-runs/exp_name/ckpt_000000_alpha_${a}`));
    expect(existsSync(join(RUN, 'ckpt_000000'))).toBe(true);
  });
});
