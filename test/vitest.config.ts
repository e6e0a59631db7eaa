import { packageConfig } from '../vitest.shared.ts';

// Same settings and report folder as the packages; only the test files live elsewhere
// (browser/: the kernels in Chromium; ci/: the CI summary script).
const base = packageConfig('browser');

export default {
  ...base,
  test: { ...base.test, include: ['browser/**/*.test.ts', 'ci/**/*.test.ts'] },
};
