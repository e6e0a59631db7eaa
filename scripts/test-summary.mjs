// Adds up the vitest JSON reports in .reports/ and prints the CI summary line
// `N passed, N failed, N skipped`. `--also-failed K` adds K failures found outside the test
// runner (set-up, typecheck, format). Exits 1 when anything failed or no report exists.
//
// Under CI (CI=true or CI=1) a skip is a failure unless `.ci/expected-skips` lists it with its
// reason, and PFGMPP_NO_GPU=1 / PFGMPP_SKIP_BROWSER=1 are failures: CI must not go green by
// skipping the GPU or browser suites.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
// PFGMPP_REPORTS_DIR: another folder of reports (the summary's own tests use one).
const dir = process.env.PFGMPP_REPORTS_DIR ?? join(root, '.reports');
const extraAt = process.argv.indexOf('--also-failed');
let failed = extraAt > 0 ? Number(process.argv[extraAt + 1] ?? 0) : 0;
let passed = 0;
let skipped = 0;
const skips = [];
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
for (const f of files) {
  const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // A file that failed outside its tests (import error, failing beforeAll: vitest then marks
  // the tests skipped) has no failed test of its own; count the file so it is not lost.
  for (const suite of r.testResults ?? []) {
    const tests = suite.assertionResults ?? [];
    if (suite.status === 'failed' && !tests.some((t) => t.status === 'failed')) failed++;
    for (const t of tests)
      if (t.status !== 'passed' && t.status !== 'failed')
        skips.push({ file: relative(root, suite.name).split('\\').join('/'), name: t.fullName });
  }
}
if (files.length === 0) {
  console.log('no test reports were written (see the output above)');
  failed++;
}

const ci = /^(true|1)$/i.test(process.env.CI ?? '');
if (ci) {
  for (const flag of ['PFGMPP_NO_GPU', 'PFGMPP_SKIP_BROWSER']) {
    if (process.env[flag] === '1') {
      console.log(`${flag}=1 under CI: the suites it skips count as a failure`);
      failed++;
    }
  }
  const expected = readExpectedSkips(join(root, '.ci', 'expected-skips'));
  failed += expected.errors;
  for (const s of skips) {
    if (!expected.entries.some((e) => e.file === s.file && e.name === s.name)) {
      console.log(`unexpected skip (not listed in .ci/expected-skips): ${s.file} > ${s.name}`);
      failed++;
    }
  }
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);

/** Lines `<test file> | <full test name> | <reason>`; `#` starts a comment. */
function readExpectedSkips(path) {
  const entries = [];
  let errors = 0;
  if (!existsSync(path)) return { entries, errors };
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim() || line.trimStart().startsWith('#')) return;
      const [file, name, reason] = line.split('|').map((p) => p.trim());
      if (!file || !name || !reason) {
        console.log(
          `.ci/expected-skips:${i + 1}: want '<test file> | <full test name> | <reason>'`,
        );
        errors++;
        return;
      }
      entries.push({ file, name });
    });
  return { entries, errors };
}
