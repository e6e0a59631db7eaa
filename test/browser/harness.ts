/**
 * Runs the page in headless Chromium: bundles page/entry.ts with esbuild, serves it from
 * 127.0.0.1 (a secure context, which WebGPU requires), launches Chromium with WebGPU on
 * SwiftShader, and collects console and page errors so a test can fail with them.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { CaseName, SmokeCases } from './page/protocol.ts';

/** Debian's chromium, or the first `chromium` on PATH; null when there is none. */
function findChromium(): string | null {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  for (const dir of dirs) {
    const path = join(dir, 'chromium');
    if (existsSync(path)) return path;
  }
  return null;
}

export const CHROMIUM = findChromium();

const MISSING =
  'chromium is missing: install it (Debian: apt-get install chromium, or run scripts/setup.sh ' +
  'as root) for the browser tests, or set PFGMPP_SKIP_BROWSER=1 to skip them';

/** Why the browser suite is skipped, or null when it runs (a missing browser then fails it). */
export const BROWSER_SKIP_REASON =
  process.env.PFGMPP_SKIP_BROWSER === '1'
    ? `PFGMPP_SKIP_BROWSER=1: browser tests skipped on request${CHROMIUM ? '' : ' (no chromium installed)'}`
    : null;

if (BROWSER_SKIP_REASON) console.warn(`[skip] ${BROWSER_SKIP_REASON}`);

// WebGPU in headless Chromium without a GPU: Vulkan through SwiftShader. Playwright launches
// with a fresh temporary --user-data-dir of its own and removes it on close.
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const INDEX_HTML = `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>pfgmpp smoke</title>
<script type="module" src="entry.js"></script>
`;

const CONTENT_TYPES: Record<string, string> = {
  '/': 'text/html; charset=utf-8',
  '/index.html': 'text/html; charset=utf-8',
  '/entry.js': 'text/javascript; charset=utf-8',
};

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
  if (!CHROMIUM) throw new Error(MISSING);
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
      logLevel: 'silent',
    });
    await writeFile(join(dir, 'index.html'), INDEX_HTML);

    const server = await serve(dir);
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

    await page.goto(`http://127.0.0.1:${port}/`);
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

/** Serves index.html and entry.js from `dir` on 127.0.0.1 at a random free port. */
async function serve(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const type = CONTENT_TYPES[path];
    if (!type) {
      res.writeHead(404).end();
      return;
    }
    readFile(join(dir, path === '/' ? 'index.html' : path.slice(1))).then(
      (body) => res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body),
      (e: unknown) => res.writeHead(500).end(String(e)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return server;
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((e) => (e ? reject(e) : resolve()));
    server.closeAllConnections(); // keep-alive sockets would hold close() open
  });
}
