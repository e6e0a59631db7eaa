/**
 * Vitest settings shared by every package: one process at a time (a software GPU already uses
 * every core), generous timeouts for lavapipe, and a JSON report per package that
 * scripts/test-summary.mjs adds up into the CI summary line.
 *
 * Kernel choices are deterministic in tests: no tuning (every shape takes the first row of its
 * table that fits, or the rows a suite forces) and a kernel-choice cache of the test run's own,
 * so a developer's tuned cache never changes which kernel a test exercises. The tuner's own
 * tests turn tuning on with their own cache folders.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';
import './scripts/gen-shaders.mjs';

/**
 * The export condition under which every workspace package resolves to its TypeScript sources
 * (src/) instead of its build (dist/): tests, typecheck, the viewer and tsx runs use it, so they
 * need no build; installed packages never match it and get dist/ (docs/architecture.md).
 */
export const SOURCE_CONDITION = 'pfgmpp-source';

const kernelCache = mkdtempSync(join(tmpdir(), 'pfgmpp-test-kernels-'));

export function packageConfig(name: string) {
  return defineConfig({
    resolve: { conditions: [SOURCE_CONDITION, ...defaultClientConditions] },
    ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
    test: {
      include: ['test/**/*.test.ts'],
      pool: 'forks',
      fileParallelism: false,
      testTimeout: 120_000,
      hookTimeout: 120_000,
      reporters: ['default', 'json'],
      outputFile: { json: `${import.meta.dirname}/.reports/${name}.json` },
      env: { PFGMPP_TUNE: '0', PFGMPP_CACHE_DIR: kernelCache, PFGMPP_KERNELS: '' },
    },
  });
}
