import { packageConfig } from '../vitest.shared.ts';

// Same settings and report folder as the packages; only the test files live elsewhere
// (browser/: the kernels in Chromium; ci/: the CI summary script; pack/: the packed packages
// installed in an empty project).
const base = packageConfig('browser');

export default {
  ...base,
  test: { ...base.test, include: ['browser/**/*.test.ts', 'ci/**/*.test.ts', 'pack/**/*.test.ts'] },
};
