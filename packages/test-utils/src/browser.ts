/**
 * What every headless-Chromium suite needs (Node only): where Chromium is, the skip switch, and
 * openServedPage: a folder served on 127.0.0.1 (a secure context, which WebGPU requires) and a
 * page of Chromium with WebGPU on SwiftShader that collects the errors it reports.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter, extname, join, normalize, sep } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

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

export const MISSING_CHROMIUM =
  'chromium is missing: install it (Debian: apt-get install chromium, or run scripts/setup.sh ' +
  'as root) for the browser tests, or set PFGMPP_SKIP_BROWSER=1 to skip them';

/** Why a browser suite is skipped (printed once), or null when it runs. */
export function browserSkipReason(what: string): string | null {
  if (process.env.PFGMPP_SKIP_BROWSER !== '1') return null;
  const reason = `PFGMPP_SKIP_BROWSER=1: ${what} skipped on request${CHROMIUM ? '' : ' (no chromium installed)'}`;
  console.warn(`[skip] ${reason}`);
  return reason;
}

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

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.png': 'image/png',
};

/** Serves the files of `dir` (no listing, nothing outside it) at a random free port. */
async function serveFolder(dir: string): Promise<Server> {
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
    server.closeAllConnections(); // keep-alive sockets would hold close() open
  });
}

export interface ServedPage {
  browser: Browser;
  /** A blank page; go to `url` to open the folder's index.html. */
  page: Page;
  /** The served folder's URL, ending in '/'. */
  url: string;
  /** Console errors, page errors and crashes, as they come. */
  problems: string[];
  /** Closes the browser, then stops the server (also when closing the browser failed). */
  close(): Promise<void>;
}

/** Serves `dir` and opens a page of headless Chromium with WebGPU for it. */
export async function openServedPage(dir: string): Promise<ServedPage> {
  if (!CHROMIUM) throw new Error(MISSING_CHROMIUM);
  const server = await serveFolder(dir);
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  } catch (e) {
    await stopServer(server).catch(() => {}); // the launch failure is the one worth reporting
    throw e;
  }
  const close = async () => {
    try {
      await browser.close();
    } finally {
      await stopServer(server);
    }
  };
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console.error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.stack ?? err.message}`));
    page.on('crash', () => problems.push('the page crashed'));
    const { port } = server.address() as AddressInfo;
    return { browser, page, url: `http://127.0.0.1:${port}/`, problems, close };
  } catch (e) {
    await close().catch(() => {});
    throw e;
  }
}
