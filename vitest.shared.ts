/**
 * Vitest settings shared by every package: one process at a time (a software GPU already uses
 * every core), generous timeouts for lavapipe, and a JSON report per package that
 * scripts/test-summary.mjs adds up into the CI summary line.
 */
import { defineConfig } from 'vitest/config';
import './scripts/gen-shaders.mjs';

export function packageConfig(name: string) {
  return defineConfig({
    test: {
      include: ['test/**/*.test.ts'],
      pool: 'forks',
      fileParallelism: false,
      testTimeout: 120_000,
      hookTimeout: 120_000,
      reporters: ['default', 'json'],
      outputFile: { json: `${import.meta.dirname}/.reports/${name}.json` },
    },
  });
}
