// Adds up the vitest JSON reports in .reports/ and prints the CI summary line
// `N passed, N failed, N skipped`. `--also-failed K` adds K failures found outside the test
// runner (set-up, typecheck, format). Exits 1 when anything failed or no report exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(import.meta.dirname, '..', '.reports');
const extraAt = process.argv.indexOf('--also-failed');
let failed = extraAt > 0 ? Number(process.argv[extraAt + 1] ?? 0) : 0;
let passed = 0;
let skipped = 0;
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
  }
}
if (files.length === 0) {
  console.log('no test reports were written (see the output above)');
  failed++;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
