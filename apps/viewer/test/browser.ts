/**
 * Runs the built viewer in headless Chromium: builds it with the app's own vite.config.ts into a
 * temporary folder (so the test sees exactly the static files `npm run build` ships), serves the
 * folder from 127.0.0.1 (a secure context, which WebGPU requires) and opens it with WebGPU on
 * SwiftShader, as test/browser/harness.ts does for the kernel smoke suite.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  browserSkipReason,
  CHROMIUM,
  MISSING_CHROMIUM,
  openServedPage,
  type ServedPage,
} from '@pfgmpp/test-utils/browser';
import { build } from 'vite';

/** Why the suite is skipped, or null when it runs (a missing browser then fails it). */
export const BROWSER_SKIP_REASON = browserSkipReason('viewer browser test');

export { CHROMIUM };

/** The built viewer served and opened (`url` is its dist folder); close() also removes the build. */
export type Viewer = ServedPage;

export async function startViewer(): Promise<Viewer> {
  if (!CHROMIUM) throw new Error(MISSING_CHROMIUM);
  const dir = await mkdtemp(join(tmpdir(), 'pfgmpp-viewer-'));
  const removeBuild = () => rm(dir, { recursive: true, force: true });
  try {
    await build({
      configFile: join(import.meta.dirname, '../vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: dir, emptyOutDir: true },
    });
    const served = await openServedPage(dir);
    const close = () => served.close().finally(removeBuild);
    return { ...served, close };
  } catch (e) {
    await removeBuild();
    throw e;
  }
}
