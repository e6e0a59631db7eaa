/**
 * An evaluation split across processes: the shard split and `--shard auto` (pure), the
 * command-line errors, and on the GPU (synthetic Inception weights, a few images, since
 * lavapipe takes about a second per 299x299 image): 2 and 3 shards merged equal the unsharded
 * statistics and FID, `fid calc --network` equals generate's PNGs scored by `fid calc
 * --images`, and a shard killed after its first checkpoint and run again writes the same bytes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FEATURES, FeatureSums } from '@pfgmpp/fid';
import { type PartialMeta, writePartial } from '@pfgmpp/fid/node';
import { Mt19937, readNpz, writeNpy, writeNpz } from '@pfgmpp/io';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { autoShard, shardOption, shardRange, shardSeeds } from '../src/sampling/shard.ts';
import { writeSyntheticInception } from './inception-file.ts';
import { cli } from './run-cli.ts';

const BIN = fileURLToPath(new URL('../bin/pfgmpp.js', import.meta.url));
const MNIST = fileURLToPath(new URL('../assets/mnist16-pfgmpp-d128.safetensors', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-fid-shards-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the shard split (pure)', () => {
  it('block I of N contiguous near-equal blocks, the first n mod N one longer', () => {
    expect([0, 1, 2].map((index) => shardRange(10, { index, count: 3 }))).toEqual([
      [0, 4],
      [4, 7],
      [7, 10],
    ]);
    expect(shardRange(50000, { index: 2, count: 3 })).toEqual([33334, 50000]);
    expect(shardRange(2, { index: 3, count: 4 })).toEqual([2, 2]);
    for (const n of [0, 1, 5, 6, 7, 50000]) {
      for (const count of [1, 2, 3, 4, 7, 16]) {
        let at = 0;
        for (let index = 0; index < count; index++) {
          const [start, end] = shardRange(n, { index, count });
          expect(start, `${n} ${index}/${count}`).toBe(at);
          expect(end - start).toBeGreaterThanOrEqual(Math.floor(n / count));
          expect(end - start).toBeLessThanOrEqual(Math.ceil(n / count));
          at = end;
        }
        expect(at).toBe(n);
      }
    }
  });

  it('seeds: sorted, each once, whatever order --seeds lists them in', () => {
    const seeds = [9, 3, 4, 0, 3, 1, 2];
    expect(shardSeeds(seeds, { index: 0, count: 2 })).toEqual([0, 1, 2]);
    expect(shardSeeds(seeds, { index: 1, count: 2 })).toEqual([3, 4, 9]);
  });

  it('--shard auto: Kubernetes Indexed Jobs and Slurm arrays from 0 or 1, in steps', () => {
    expect(autoShard({ JOB_COMPLETION_INDEX: '2' }, 4)).toEqual({ index: 2, count: 4 });
    // --array=0-3 and --array=1-4: the four tasks are shards 0..3 either way.
    for (const min of [0, 1]) {
      const got = [0, 1, 2, 3].map((k) =>
        autoShard(
          {
            SLURM_ARRAY_TASK_ID: String(min + k),
            SLURM_ARRAY_TASK_MIN: String(min),
            SLURM_ARRAY_TASK_MAX: String(min + 3),
            SLURM_ARRAY_TASK_COUNT: '4',
          },
          undefined,
        ),
      );
      expect(got).toEqual([0, 1, 2, 3].map((index) => ({ index, count: 4 })));
    }
    // --array=0-15:4: tasks 0, 4, 8, 12.
    expect(
      autoShard(
        {
          SLURM_ARRAY_TASK_ID: '8',
          SLURM_ARRAY_TASK_MIN: '0',
          SLURM_ARRAY_TASK_STEP: '4',
          SLURM_ARRAY_TASK_COUNT: '4',
        },
        undefined,
      ),
    ).toEqual({ index: 2, count: 4 });
    expect(autoShard({ SLURM_ARRAY_TASK_ID: '3' }, 5)).toEqual({ index: 3, count: 5 });
    const cases: [Record<string, string>, number | undefined, RegExp][] = [
      [
        {},
        undefined,
        /none of JOB_COMPLETION_INDEX .* SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT/,
      ],
      [{ JOB_COMPLETION_INDEX: '1' }, undefined, /JOB_COMPLETION_INDEX is set .*give --shards N/],
      [{ JOB_COMPLETION_INDEX: '4' }, 4, /shard 4 \(from JOB_COMPLETION_INDEX\) is not below/],
      [{ SLURM_ARRAY_TASK_ID: '1' }, undefined, /SLURM_ARRAY_TASK_COUNT is not/],
      [
        { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '3' },
        undefined,
        /shard 3 \(from SLURM_ARRAY_TASK_ID\) is not below the number of shards 3/,
      ],
      [
        { SLURM_ARRAY_TASK_ID: 'x', SLURM_ARRAY_TASK_COUNT: '2' },
        undefined,
        /SLURM_ARRAY_TASK_ID must be/,
      ],
      [
        { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '2' },
        3,
        /--shards 3 but SLURM_ARRAY_TASK_COUNT is 2/,
      ],
    ];
    for (const [env, shards, message] of cases) {
      expect(() => autoShard(env, shards), JSON.stringify(env)).toThrow(message);
    }
    expect(shardOption({ shard: 'auto', shards: 4 }, { JOB_COMPLETION_INDEX: '3' })).toEqual({
      index: 3,
      count: 4,
    });
    expect(shardOption({ shard: '1/3' }, {})).toEqual({ index: 1, count: 3 });
    expect(shardOption({}, {})).toBeNull();
  });
});

/** A part with made-up sums, for the command line's merge errors (no GPU). */
async function fakePart(name: string, index: number, count: number, detector = 'edm') {
  const meta: PartialMeta = {
    format: 'pfgmpp-fid-partial',
    version: 1,
    detector,
    weights: { name: 'w.pth', sha256: '00'.repeat(32) },
    source: { kind: 'images', name: 'a.npy', path: 'a.npy', count },
    shard: { index, count },
    indices: 'images',
  };
  const sums = new FeatureSums(FEATURES);
  sums.add(new Float32Array(FEATURES).fill(index + 1), 1);
  const file = join(dir, name);
  await writePartial(file, { meta, sums, indices: [index] });
  return file;
}

describe('pfgmpp fid --shard and merge: command line', () => {
  it('misuse exits 2 with one line naming the option or the variables', async () => {
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) {
      if (k.startsWith('SLURM_') || k === 'JOB_COMPLETION_INDEX') delete process.env[k];
    }
    try {
      const cases: [string[], RegExp][] = [
        [
          ['fid', 'ref', '--data', 'd', '--dest', 'p.npz', '--shard', 'auto'],
          /--shard auto: none of JOB_COMPLETION_INDEX .*SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT/,
        ],
        [
          ['fid', 'ref', '--data', 'd', '--dest', 'p.npz', '--shard', '3/3'],
          /shard 3 .* not below/,
        ],
        [
          ['fid', 'ref', '--data', 'd', '--dest', 'p.npz', '--shard', '1-3'],
          /--shard must be I\/N/,
        ],
        [
          ['fid', 'ref', '--data', 'd', '--dest', 'p.npz', '--shards', '3'],
          /--shards goes with --shard auto/,
        ],
        [['fid', 'calc', '--images', 'a', '--shard', '0/2'], /'fid calc --shard' needs --dest/],
        [
          ['fid', 'calc', '--images', 'a', '--shard', '0/2', '--dest', 'p', '--ref', 'r'],
          /give --ref to 'fid merge'/,
        ],
        [
          ['fid', 'calc', '--images', 'a', '--ref', 'r', '--dest', 'p'],
          /--dest of 'fid calc' goes with --shard/,
        ],
        [['fid', 'calc', '--network', 'n', '--ref', 'r'], /needs --seeds/],
        [
          ['fid', 'calc', '--images', 'a', '--ref', 'r', '--num_steps', '5'],
          /--num_steps goes with --network/,
        ],
        [
          ['fid', 'calc', '--network', 'n', '--images', 'a', '--ref', 'r'],
          /--images or --network, not both/,
        ],
        [['fid', 'merge', '--dest', 'm.npz'], /'fid merge' needs the parts/],
        [['fid', 'merge', 'p.npz'], /needs --dest OUT.npz or --ref/],
        [['generate', '--outdir', 'x', '--shard', '0/2'], /--shard needs --network FILE/],
      ];
      for (const [argv, message] of cases) {
        const r = await cli(...argv);
        expect(r.code, argv.join(' ')).toBe(2);
        expect(r.err).toMatch(message);
        expect(r.err.trim().split('\n')).toHaveLength(1);
      }
    } finally {
      Object.assign(process.env, saved);
    }
  });

  it('merge refuses mismatched, overlapping or missing parts: exit 1, one line naming the files', async () => {
    const a = await fakePart('m0.npz', 0, 2);
    const b = await fakePart('m1.npz', 1, 2);
    const c = await fakePart('m1-pt.npz', 1, 2, 'pytorch-fid');
    const out = join(dir, 'm.npz');
    const cases: [string[], string][] = [
      [[a, a], `${a} and ${a} overlap: both cover image 0`],
      [[a], `shard 1/2 is missing (given: ${a})`],
      [[a, c], `${a} and ${c} come from different detectors (edm, pytorch-fid)`],
    ];
    for (const [parts, message] of cases) {
      const r = await cli('fid', 'merge', '--dest', out, ...parts);
      expect(r.code, parts.join(' ')).toBe(1);
      expect(r.err).toBe(`pfgmpp fid: error: ${message}\n`);
      expect(existsSync(out)).toBe(false);
    }
    const ok = await cli('fid', 'merge', '--dest', out, b, a);
    expect(ok.err).toBe('');
    expect(ok.out).toBe(`${out}: mu and sigma of 2 images from 2 parts\n`);
    const mu = readNpz(new Uint8Array(readFileSync(out))).get('mu')?.data as Float64Array;
    expect([mu[0], mu[FEATURES - 1]]).toEqual([1.5, 1.5]);
  });
});

/** max |a - b| / max |b|. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return err / scale;
}

const npz = (path: string) => readNpz(new Uint8Array(readFileSync(path)));
const array = (path: string, key: string) => {
  const a = npz(path).get(key);
  if (!a) throw new Error(`${path}: no ${key}`);
  return a.data as Float64Array;
};

describe.skipIf(GPU_SKIP_REASON)('shards on the GPU (synthetic Inception weights)', () => {
  const weights = join(dir, 'synthetic.safetensors');
  const data = join(dir, 'grey.npy');
  const reference = join(dir, 'ref-b.npz');
  const w = ['--weights', weights];

  it('2 and 3 shards merged equal the unsharded statistics (1e-10), features and FID', async () => {
    writeSyntheticInception(weights);
    // Six grey 16x16 images: few, since lavapipe takes about a second per 299x299 image.
    const rng = new Mt19937(5);
    const pixels = Uint8Array.from({ length: 6 * 256 }, () => rng.randint(256));
    writeFileSync(data, writeNpy({ dtype: 'uint8', shape: [6, 1, 16, 16], data: pixels }));
    const full = join(dir, 'full.npz');
    const r = await cli(
      'fid',
      'ref',
      '--data',
      data,
      '--dest',
      full,
      '--kid',
      '--batch',
      '4',
      ...w,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/fid ref: 6\/6 images, [\d.]+ images\/s in \d+s/);
    expect(existsSync(`${full}.resume.npz`)).toBe(false);
    // Two shards of ref (with features) and three of calc, given to merge out of order.
    const two = [0, 1].map((i) => join(dir, `ref-${i}of2.npz`));
    for (const [i, part] of two.entries()) {
      const s = await cli(
        'fid',
        'ref',
        '--data',
        data,
        '--shard',
        `${i}/2`,
        '--dest',
        part,
        '--kid',
        '--batch',
        '1',
        ...w,
      );
      expect(s.code, s.err).toBe(0);
      expect(s.err).toContain(`fid ref: shard ${i}/2: 3 of 6 images (${i ? '3-5' : '0-2'})`);
    }
    const three = [0, 1, 2].map((i) => join(dir, `calc-${i}of3.npz`));
    for (const [i, part] of three.entries()) {
      const s = await cli(
        'fid',
        'calc',
        '--images',
        data,
        '--num',
        '6',
        '--shard',
        `${i}/3`,
        '--dest',
        part,
        '--batch',
        '2',
        ...w,
      );
      expect(s.code, s.err).toBe(0);
      expect(s.out).toBe(`${part}: partial statistics of shard ${i}/3: 2 of 6 images\n`);
    }
    const m2 = join(dir, 'merged2.npz');
    const m3 = join(dir, 'merged3.npz');
    expect((await cli('fid', 'merge', '--dest', m2, ...two)).code).toBe(0);
    expect(
      (
        await cli(
          'fid',
          'merge',
          '--dest',
          m3,
          three[2] as string,
          three[0] as string,
          three[1] as string,
        )
      ).code,
    ).toBe(0);
    for (const m of [m2, m3]) {
      expect(relErr(array(m, 'mu'), array(full, 'mu'))).toBeLessThan(1e-10);
      expect(relErr(array(m, 'sigma'), array(full, 'sigma'))).toBeLessThan(1e-10);
    }
    expect([...npz(m2).keys()]).toEqual(['mu', 'sigma', 'features']);
    expect(Array.from(array(m2, 'features'))).toEqual(Array.from(array(full, 'features')));
    // A reference that differs from these images: their mu shifted, sigma halved.
    const mu = Float64Array.from(array(full, 'mu'), (x, i) => x + 0.01 * (i % 5));
    const sigma = Float64Array.from(array(full, 'sigma'), (x) => x / 2);
    writeFileSync(
      reference,
      writeNpz({
        mu: { dtype: 'float64', shape: [FEATURES], data: mu },
        sigma: { dtype: 'float64', shape: [FEATURES, FEATURES], data: sigma },
      }),
    );
    const whole = await cli(
      'fid',
      'calc',
      '--images',
      data,
      '--num',
      '6',
      '--ref',
      reference,
      '--json',
      ...w,
    );
    const merged = await cli('fid', 'merge', '--ref', reference, '--json', ...three);
    expect(whole.code, whole.err).toBe(0);
    expect(merged.code, merged.err).toBe(0);
    const a = JSON.parse(whole.out) as { fid: number; count: number; images: string };
    const b = JSON.parse(merged.out) as { fid: number; count: number; images: string };
    expect(b.count).toBe(6);
    expect(b.images).toBe(data);
    expect(a.fid).toBeGreaterThan(1e-6);
    expect(Math.abs(b.fid - a.fid) / a.fid).toBeLessThan(1e-10);
  }, 900_000);

  it('a shard killed after its first checkpoint, run again, writes the same bytes', async () => {
    const dest = join(dir, 'killed-1of2.npz');
    const args = [
      'fid',
      'ref',
      '--data',
      data,
      '--shard',
      '1/2',
      '--dest',
      dest,
      '--kid',
      '--batch',
      '1',
      '--checkpoint_every',
      '1',
      ...w,
    ];
    // Its own process group, so that the kill takes the CLI's child process too (a hard stop).
    const child = spawn(process.execPath, [BIN, ...args], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    const killed = await new Promise<boolean>((resolve) => {
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (t: string) => {
        err += t;
        if (/checkpoint at 1\/3 images/.test(err) && child.pid !== undefined) {
          process.kill(-child.pid, 'SIGKILL');
          resolve(true);
        }
      });
      child.on('exit', () => resolve(false));
    });
    expect(killed, err).toBe(true);
    await new Promise((resolve) => child.on('close', resolve));
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.resume.npz`)).toBe(true);
    const again = await cli(...args);
    expect(again.code, again.err).toBe(0);
    expect(again.err).toMatch(new RegExp(`resuming from .*resume\\.npz at [12]/3 images`));
    expect(existsSync(`${dest}.resume.npz`)).toBe(false);
    const once = readFileSync(join(dir, 'ref-1of2.npz'));
    expect(readFileSync(dest).equals(once)).toBe(true);
    // A resume point of another shard is not taken: the run starts over and still matches.
    const other = join(dir, 'other-1of2.npz');
    writeFileSync(`${other}.resume.npz`, readFileSync(join(dir, 'ref-0of2.npz')));
    const fresh = await cli(...args.map((x) => (x === dest ? other : x)));
    expect(fresh.code, fresh.err).toBe(0);
    expect(fresh.err).toContain(
      `fid ref: ${other}.resume.npz is shard 0, not 1; starting from the first image`,
    );
    expect(readFileSync(other).equals(once)).toBe(true);
  }, 900_000);

  it('calc --network scores in memory what generate + calc --images scores from PNGs (grey MNIST), also per shard', async () => {
    const pngs = join(dir, 'mnist-png');
    const g = await cli(
      'generate',
      '--network',
      MNIST,
      '--seeds',
      '0-3',
      '--outdir',
      pngs,
      '--batch',
      '4',
    );
    expect(g.code, g.err).toBe(0);
    const common = ['--ref', reference, '--json', '--batch', '4', ...w];
    const fromPng = await cli('fid', 'calc', '--images', pngs, '--num', '4', ...common);
    const inMemory = await cli('fid', 'calc', '--network', MNIST, '--seeds', '3,0-2', ...common);
    expect(fromPng.code, fromPng.err).toBe(0);
    expect(inMemory.code, inMemory.err).toBe(0);
    const a = JSON.parse(fromPng.out) as { fid: number };
    const b = JSON.parse(inMemory.out) as {
      fid: number;
      network: string;
      seeds: string;
      count: number;
    };
    expect(b).toMatchObject({ network: MNIST, seeds: '0-3', count: 4 });
    expect(b.fid).toBe(a.fid);
    // Shard 1/2: generate writes seeds 2 and 3 only; their sums equal the in-memory shard's.
    const half = join(dir, 'mnist-png-1of2');
    const gs = await cli(
      'generate',
      '--network',
      MNIST,
      '--seeds',
      '0-3',
      '--outdir',
      half,
      '--shard',
      '1/2',
      '--batch',
      '2',
    );
    expect(gs.code, gs.err).toBe(0);
    expect(gs.err).toContain('generate: shard 1/2: 2 of 4 seeds (2-3)');
    expect(readdirSync(half).sort()).toEqual(['000002.png', '000003.png']);
    const png = join(dir, 'png-part.npz');
    const mem = join(dir, 'mem-part.npz');
    const p = await cli(
      'fid',
      'calc',
      '--images',
      half,
      '--num',
      '2',
      '--shard',
      '0/1',
      '--dest',
      png,
      '--batch',
      '2',
      ...w,
    );
    const q = await cli(
      'fid',
      'calc',
      '--network',
      MNIST,
      '--seeds',
      '0-3',
      '--shard',
      '1/2',
      '--dest',
      mem,
      '--batch',
      '2',
      ...w,
    );
    expect(p.code, p.err).toBe(0);
    expect(q.code, q.err).toBe(0);
    for (const key of ['sum', 'sum_outer']) {
      expect(
        Buffer.from(array(mem, key).buffer).equals(Buffer.from(array(png, key).buffer)),
        key,
      ).toBe(true);
    }
    expect(Array.from(npz(mem).get('indices')?.data as BigInt64Array, Number)).toEqual([2, 3]);
  }, 900_000);
});
