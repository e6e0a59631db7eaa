/**
 * The CI summary (scripts/test-summary.mjs) on made-up vitest reports: under CI a skip fails the
 * run unless .ci/expected-skips lists it, and PFGMPP_NO_GPU=1 is a failure, not a way to green.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Test {
  file: string;
  name: string;
  status: 'passed' | 'failed' | 'skipped';
}

/** Runs the summary over one report holding `tests`, with `env` added to a clean environment. */
function summary(tests: Test[], env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-summary-'));
  dirs.push(dir);
  const count = (s: string) => tests.filter((t) => t.status === s).length;
  const files = [...new Set(tests.map((t) => t.file))];
  const report = {
    numPassedTests: count('passed'),
    numFailedTests: count('failed'),
    numPendingTests: count('skipped'),
    testResults: files.map((f) => ({
      name: join(root, f),
      status: tests.some((t) => t.file === f && t.status === 'failed') ? 'failed' : 'passed',
      assertionResults: tests
        .filter((t) => t.file === f)
        .map((t) => ({ fullName: t.name, status: t.status })),
    })),
  };
  writeFileSync(join(dir, 'pkg.json'), JSON.stringify(report));
  const { CI: _ci, PFGMPP_NO_GPU: _gpu, PFGMPP_SKIP_BROWSER: _browser, ...rest } = process.env;
  const r = spawnSync('node', [join(root, 'scripts/test-summary.mjs')], {
    env: { ...rest, PFGMPP_REPORTS_DIR: dir, ...env },
    encoding: 'utf8',
  });
  return { status: r.status, out: r.stdout.trim().split('\n') };
}

/** The first entry of the real .ci/expected-skips, as a skipped test. */
const listed = (() => {
  const line = readFileSync(join(root, '.ci/expected-skips'), 'utf8')
    .split('\n')
    .find((l) => l.trim() && !l.trimStart().startsWith('#')) as string;
  const [file, name] = line.split('|').map((p) => p.trim()) as [string, string];
  return { file, name, status: 'skipped' as const };
})();
const pass: Test = { file: 'packages/a/test/a.test.ts', name: 'suite works', status: 'passed' };
const stray: Test = { file: 'packages/a/test/a.test.ts', name: 'suite stray', status: 'skipped' };

describe('CI summary', () => {
  it('turbo passes the skip switches through to the test processes (its strict env mode drops others)', () => {
    const turbo = JSON.parse(readFileSync(join(root, 'turbo.json'), 'utf8'));
    expect(turbo.globalPassThroughEnv).toEqual(
      expect.arrayContaining(['PFGMPP_NO_GPU', 'PFGMPP_SKIP_BROWSER']),
    );
  });

  it('every entry of .ci/expected-skips names a test in its file', () => {
    const entries = readFileSync(join(root, '.ci/expected-skips'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.trimStart().startsWith('#'));
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      const [file, name, reason] = e.split('|').map((p) => p.trim()) as [string, string, string];
      expect(reason?.length, e).toBeGreaterThan(10);
      // The test's own title is the last words of its full name.
      const source = readFileSync(join(root, file), 'utf8');
      const title = name.split(' ').slice(-5).join(' ');
      expect(source, `${file}: ${title}`).toContain(title);
    }
  });

  it('under CI, a listed skip passes and an unlisted one fails, naming it', () => {
    const ok = summary([pass, listed], { CI: 'true' });
    expect(ok.status).toBe(0);
    expect(ok.out.at(-1)).toBe('1 passed, 0 failed, 1 skipped');
    const bad = summary([pass, listed, stray], { CI: 'true' });
    expect(bad.status).toBe(1);
    expect(bad.out).toContain(
      'unexpected skip (not listed in .ci/expected-skips): packages/a/test/a.test.ts > suite stray',
    );
    expect(bad.out.at(-1)).toBe('1 passed, 1 failed, 2 skipped');
  });

  it('outside CI a skip is only counted', () => {
    const r = summary([pass, stray], {});
    expect(r.status).toBe(0);
    expect(r.out.at(-1)).toBe('1 passed, 0 failed, 1 skipped');
  });

  it('PFGMPP_NO_GPU=1 or PFGMPP_SKIP_BROWSER=1 under CI fails even with nothing skipped', () => {
    for (const flag of ['PFGMPP_NO_GPU', 'PFGMPP_SKIP_BROWSER']) {
      const r = summary([pass], { CI: '1', [flag]: '1' });
      expect(r.status, flag).toBe(1);
      expect(r.out[0]).toBe(`${flag}=1 under CI: the suites it skips count as a failure`);
    }
    expect(summary([pass], { PFGMPP_NO_GPU: '1' }).status).toBe(0);
  });
});
