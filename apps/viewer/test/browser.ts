/**
 * Runs the built viewer in headless Chromium: builds it with the app's own vite.config.ts into a
 * temporary folder (so the test sees exactly the static files `npm run build` ships), serves the
 * folder from 127.0.0.1 (a secure context, which WebGPU requires) and opens it with WebGPU on
 * SwiftShader, as test/browser/harness.ts does for the kernel smoke suite.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, extname, join, normalize, sep } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';

function findChromium(): string | null {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  for (const dir of dirs) {
    const path = join(dir, 'chromium');
    if (existsSync(path)) return path;
  }
  return null;
}

export const CHROMIUM = findChromium();

/** Why the suite is skipped, or null when it runs (a missing browser then fails it). */
export const BROWSER_SKIP_REASON =
  process.env.PFGMPP_SKIP_BROWSER === '1'
    ? `PFGMPP_SKIP_BROWSER=1: viewer browser test skipped on request${CHROMIUM ? '' : ' (no chromium installed)'}`
    : null;

if (BROWSER_SKIP_REASON) console.warn(`[skip] ${BROWSER_SKIP_REASON}`);

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

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};

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
  if (!CHROMIUM)
    throw new Error(
      'chromium is missing: install it (Debian: apt-get install chromium) for the viewer test, ' +
        'or set PFGMPP_SKIP_BROWSER=1 to skip it',
    );
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
    return { browser, page, url: `http://127.0.0.1:${port}/`, problems, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Serves the files of `dir` (no listing, nothing outside it) at a random free port. */
async function serve(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const file = normalize(join(dir, path === '/' ? 'index.html' : path));
    const type = TYPES[extname(file)];
    if (!type || !file.startsWith(dir + sep)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body),
      () => res.writeHead(404).end(),
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
    server.closeAllConnections();
  });
}
