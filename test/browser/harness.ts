/**
 * Runs the page in headless Chromium: bundles page/entry.ts with esbuild and opens it with
 * openServedPage (served from 127.0.0.1, WebGPU on SwiftShader), whose collected console and page
 * errors make a case fail.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import {
  browserSkipReason,
  CHROMIUM,
  MISSING_CHROMIUM,
  openServedPage,
} from '@pfgmpp/test-utils/browser';
import type { Page } from 'playwright-core';
import type { CaseName, SmokeCases } from './page/protocol.ts';

/** Why the browser suite is skipped, or null when it runs (a missing browser then fails it). */
export const BROWSER_SKIP_REASON = browserSkipReason('browser tests');

export { CHROMIUM };

const INDEX_HTML = `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>pfgmpp smoke</title>
<script type="module" src="entry.js"></script>
`;

export interface Harness {
  page: Page;
  /**
   * Runs a named case in the page. Throws with the page's console and page errors when the
   * case throws or when the page reported errors meanwhile; `allow` exempts expected ones.
   */
  run<K extends CaseName>(
    name: K,
    args: SmokeCases[K]['args'],
    allow?: RegExp,
  ): Promise<SmokeCases[K]['result']>;
  /** Throws if the page reported errors since the last check (errors outside a run). */
  assertNoProblems(): void;
  /** Closes the browser, stops the server and removes the bundle; safe to call twice. */
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  if (!CHROMIUM) throw new Error(MISSING_CHROMIUM);
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    const errors: unknown[] = [];
    // Newest first: the browser before the server before the files it serves.
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw new AggregateError(errors, 'browser harness cleanup failed');
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), 'pfgmpp-smoke-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await build({
      entryPoints: [join(import.meta.dirname, 'page/entry.ts')],
      outfile: join(dir, 'entry.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      // The workspace packages from their sources (src/), no build needed (vitest.shared.ts).
      conditions: ['pfgmpp-source'],
      logLevel: 'silent',
    });
    await writeFile(join(dir, 'index.html'), INDEX_HTML);

    const served = await openServedPage(dir);
    cleanups.push(served.close);
    const { page, problems } = served;

    await page.goto(served.url);
    await page.waitForFunction(() => window.smokeReady === true, null, { timeout: 30_000 });
    if (problems.length > 0) throw new Error(`the page failed to load:\n${problems.join('\n')}`);

    const take = (allow?: RegExp) => {
      const list = problems.splice(0).filter((p) => !allow?.test(p));
      return list.length > 0 ? `\npage errors:\n${list.join('\n')}` : '';
    };
    return {
      page,
      async run(name, args, allow) {
        take(); // earlier ones are reported by assertNoProblems
        let result: Awaited<ReturnType<Harness['run']>>;
        try {
          result = await page.evaluate(([n, a]) => window.runSmoke(n, a), [name, args] as const);
        } catch (e) {
          throw new Error(`case ${name} failed in the page: ${String(e)}${take(allow)}`);
        }
        const reported = take(allow);
        if (reported) throw new Error(`case ${name} made the page report errors${reported}`);
        return result as SmokeCases[typeof name]['result'];
      },
      assertNoProblems() {
        const reported = take();
        if (reported) throw new Error(`the page reported errors${reported}`);
      },
      close,
    };
  } catch (e) {
    await close().catch(() => {}); // the start-up error is the one worth reporting
    throw e;
  }
}
