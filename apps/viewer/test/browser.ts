/**
 * Runs the built viewer in headless Chromium: builds it with the app's own vite.config.ts into a
 * temporary folder (so the test sees exactly the static files `npm run build` ships), serves the
 * folder from 127.0.0.1 (a secure context, which WebGPU requires) and opens it with WebGPU on
 * SwiftShader, as test/browser/harness.ts does for the kernel smoke suite.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  browserSkipReason,
  CHROMIUM,
  CHROMIUM_ARGS,
  MISSING_CHROMIUM,
  serveFolder,
  stopServer,
} from '@pfgmpp/test-utils/browser';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';

/** Why the suite is skipped, or null when it runs (a missing browser then fails it). */
export const BROWSER_SKIP_REASON = browserSkipReason('viewer browser test');

export { CHROMIUM };

export interface Viewer {
  browser: Browser;
  page: Page;
  /** Base URL of the served dist folder, ending in '/'. */
  url: string;
  /** Console errors and page errors since the start. */
  problems: string[];
  close(): Promise<void>;
}

export async function startViewer(): Promise<Viewer> {
  if (!CHROMIUM) throw new Error(MISSING_CHROMIUM);
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), 'pfgmpp-viewer-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await build({
      configFile: join(import.meta.dirname, '../vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: dir, emptyOutDir: true },
    });
    const server = await serveFolder(dir);
    cleanups.push(() => stopServer(server));
    const { port } = server.address() as AddressInfo;
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    cleanups.push(() => browser.close());
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console.error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.stack ?? err.message}`));
    page.on('crash', () => problems.push('the page crashed'));
    return { browser, page, url: `http://127.0.0.1:${port}/`, problems, close };
  } catch (e) {
    await close();
    throw e;
  }
}
