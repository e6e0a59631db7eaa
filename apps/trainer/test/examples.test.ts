/**
 * The ready-made jobs of examples/ run as written, at tiny size on this machine: the Kubernetes
 * Indexed Job's pod script (examples/k8s/fid-job.yaml) once per completion index, and the Slurm
 * script (examples/slurm/fid.sbatch) as each array task; in both the last part's merge prints the
 * FID, equal to the unsharded `fid calc --network` on the same seeds.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeNpz } from '@pfgmpp/io';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticInception } from './inception-file.ts';
import { cli } from './run-cli.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NET = join(ROOT, 'apps/trainer/assets/mnist16-pfgmpp-d128.safetensors');
const work = mkdtempSync(join(tmpdir(), 'pfgmpp-examples-'));
const weights = join(work, 'inception.safetensors');
const ref = join(work, 'ref.npz');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The `args: - |` block of the pod spec, dedented. */
function podScript(yaml: string): string {
  const lines = yaml.split('\n');
  const at = lines.findIndex((l) => /^\s*- \|\s*$/.test(l));
  if (at < 0) throw new Error('fid-job.yaml: no `- |` script block');
  const body: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim() && !l.startsWith(' '.repeat(14))) break;
    body.push(l.slice(14));
  }
  return body.join('\n');
}

/** `npx` finds the repository's own pfgmpp bin (node_modules/.bin) from the root. */
function sh(script: string[], env: Record<string, string>, shell = '/bin/sh') {
  const binDir = join(ROOT, 'node_modules', '.bin');
  const r = spawnSync(shell, script, {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${binDir}:${dirname(process.execPath)}:${process.env.PATH}`,
      PFGMPP_FID_WEIGHTS: weights,
      ...env,
    },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const fidLine = (out: string) => out.split('\n').find((l) => /FID \d/.test(l)) ?? '';
const fidOf = (out: string) => Number(/FID (\S+)/.exec(fidLine(out))?.[1]);

describe.skipIf(GPU_SKIP_REASON)('examples/ jobs at tiny size', () => {
  let unsharded = 0;

  beforeAll(async () => {
    writeSyntheticInception(weights, { fc: false });
    const identity = new Float64Array(2048 * 2048);
    for (let i = 0; i < 2048; i++) identity[i * 2049] = 1;
    writeFileSync(
      ref,
      writeNpz({
        mu: { dtype: 'float64', shape: [2048], data: new Float64Array(2048) },
        sigma: { dtype: 'float64', shape: [2048, 2048], data: identity },
      }),
    );
    const r = await cli(
      'fid',
      'calc',
      `--network=${NET}`,
      '--seeds=0-1',
      `--ref=${ref}`,
      `--weights=${weights}`,
      '--num_steps=4',
    );
    expect(r.code, r.err).toBe(0);
    unsharded = fidOf(r.out);
    expect(unsharded).toBeGreaterThan(0);
  });

  it('k8s/fid-job.yaml: the pod script for each completion index, then the merge', () => {
    const yaml = readFileSync(join(ROOT, 'examples/k8s/fid-job.yaml'), 'utf8');
    expect(yaml).toMatch(/completionMode: Indexed/);
    const script = podScript(yaml).replace('--seeds="$SEEDS"', '--seeds="$SEEDS" --num_steps=4');
    const parts = join(work, 'k8s-parts');
    const env = { SHARDS: '2', NETWORK: NET, REF: ref, SEEDS: '0-1', PARTS: parts };
    const first = sh(['-c', script], { ...env, JOB_COMPLETION_INDEX: '1' });
    expect(first.code, first.err).toBe(0);
    expect(fidLine(first.out)).toBe(''); // one part of two: no merge yet
    const last = sh(['-c', script], { ...env, JOB_COMPLETION_INDEX: '0' });
    expect(last.code, last.err).toBe(0);
    expect(readdirSync(parts).sort()).toEqual(['0.part.npz', '1.part.npz', 'stats.npz']);
    expect(Math.abs(fidOf(last.out) - unsharded) / unsharded).toBeLessThan(1e-9);
  });

  it('slurm/fid.sbatch: each array task, then the merge line it submits', () => {
    const file = join(ROOT, 'examples/slurm/fid.sbatch');
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/#SBATCH --array=0-7/);
    const parts = join(work, 'slurm-parts');
    mkdirSync(parts, { recursive: true });
    const task = text.replace('--seeds="$SEEDS"', '--seeds="$SEEDS" --num_steps=4');
    const env = { NETWORK: NET, REF: ref, SEEDS: '0-1', PARTS: parts, SLURM_ARRAY_TASK_COUNT: '2' };
    for (const id of ['4', '5']) {
      // An array submitted as --array=4-5: shards 0 and 1 (SLURM_ARRAY_TASK_MIN).
      const r = sh(
        ['-c', task],
        { ...env, SLURM_ARRAY_TASK_ID: id, SLURM_ARRAY_TASK_MIN: '4' },
        'bash',
      );
      expect(r.code, r.err).toBe(0);
    }
    expect(readdirSync(parts).sort()).toEqual(['4.part.npz', '5.part.npz']);
    // The merge job's command, as the submitter wraps it.
    const wrap = /--wrap "([^"]+)"/.exec(text)?.[1];
    expect(wrap).toBeDefined();
    const merge = (wrap as string).replace(/\$PARTS/g, parts).replace(/\$REF/g, ref);
    const r = sh(['-c', merge], {});
    expect(r.code, r.err).toBe(0);
    expect(Math.abs(fidOf(r.out) - unsharded) / unsharded).toBeLessThan(1e-9);
  });
});
