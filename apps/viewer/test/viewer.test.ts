/**
 * The built viewer in headless Chromium (WebGPU on SwiftShader): it opens with the shipped
 * checkpoint, samples through its own form, and the pixels on its canvases are checked against
 * the trainer's `generate` run here in Node (Dawn) for the same seeds, steps and D. A corrupt
 * file must show an error in the page.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { asDenoiser } from '@pfgmpp/nn';
import { generate, toUint8 } from '@pfgmpp/pfgmpp';
import { getDevice } from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GAP, type TileGeometry, tileOrigin } from '../src/draw.ts';
import { loadNetworkBytes } from '../src/network.ts';
import { DEFAULT_CHECKPOINT } from '../src/params.ts';
import type { RunResult, ViewerState } from '../src/state.ts';
import { BROWSER_SKIP_REASON, startViewer, type Viewer } from './browser.ts';

const SHIPPED = join(import.meta.dirname, '../../trainer/assets', DEFAULT_CHECKPOINT);
const SEEDS = [0, 1];
const STEPS = 3;

/**
 * Chromium's SwiftShader and Node's adapter (lavapipe, or a real GPU) run the same WGSL but may
 * round differently (fused multiply-adds, exp/sin accuracy, summation order), and the sampler
 * amplifies that over its steps. generate.py's truncation to uint8 then turns a difference of
 * 1e-4 into one grey level where a value sits near a level boundary. So: the float samples agree
 * to 2e-3 (well under one level, 1/127.5), and each pixel to 1 level.
 */
const FLOAT_TOL = 2e-3;
const PIXEL_TOL = 1;

interface CanvasData {
  width: number;
  height: number;
  data: number[];
}

/** An RGBA canvas read back from the page. */
async function readCanvases(v: Viewer, selector: string): Promise<CanvasData[]> {
  return v.page.$$eval(selector, (els) =>
    (els as HTMLCanvasElement[]).map((c) => {
      const ctx = c.getContext('2d') as CanvasRenderingContext2D;
      return {
        width: c.width,
        height: c.height,
        data: Array.from(ctx.getImageData(0, 0, c.width, c.height).data),
      };
    }),
  );
}

/** The red channel of tile (row, col) sampled at each source pixel's centre, [R * R]. */
function tilePixels(c: CanvasData, g: TileGeometry, row: number, col: number): number[] {
  const [ox, oy] = tileOrigin(g, row, col);
  const R = g.resolution;
  const half = Math.floor(g.zoom / 2);
  const out: number[] = [];
  for (let y = 0; y < R; y++)
    for (let x = 0; x < R; x++)
      out.push(c.data[((oy + y * g.zoom + half) * c.width + ox + x * g.zoom + half) * 4] as number);
  return out;
}

const waitFor = (v: Viewer, states: ViewerState['status'][], timeout: number) =>
  v.page.waitForFunction((s) => s.includes(window.viewer?.status), states, { timeout });

describe.skipIf(BROWSER_SKIP_REASON)('viewer in headless Chromium (WebGPU on SwiftShader)', () => {
  let viewer: Viewer | undefined;
  let startError: unknown;
  // A failed start fails every test with its message rather than marking them skipped.
  const v = () => {
    if (!viewer) throw new Error(`the viewer did not start: ${String(startError)}`);
    return viewer;
  };
  const viewerState = () => v().page.evaluate(() => window.viewer);

  beforeAll(async () => {
    try {
      viewer = await startViewer();
      await viewer.page.goto(viewer.url);
      await waitFor(viewer, ['ready', 'error'], 90_000);
    } catch (e) {
      startError = e;
      await viewer?.close();
      viewer = undefined;
    }
  });
  afterEach(() => {
    const problems = viewer?.problems.splice(0) ?? [];
    expect(problems, 'console and page errors').toEqual([]);
  });
  afterAll(async () => {
    await viewer?.close();
  });

  it('opens with the shipped checkpoint and names it and the adapter', async () => {
    const s = await viewerState();
    expect(s.error).toBeNull();
    expect(s.status).toBe('ready');
    console.log(`viewer adapter: ${s.adapter}`);
    expect(s.adapter).toBeTruthy();
    expect(s.info).toMatchObject({
      fileName: DEFAULT_CHECKPOINT,
      className: 'EDMPrecond',
      resolution: 16,
      channels: 1,
      labelDim: 0,
      D: 128,
    });
    expect(await v().page.textContent('#info')).toContain('EDMPrecond');
  });

  it(`samples ${SEEDS.length} images in ${STEPS} steps: every step drawn, pixels as Node's generate`, async () => {
    const { page } = v();
    await page.fill('#seed', String(SEEDS[0]));
    await page.fill('#count', String(SEEDS.length));
    await page.fill('#steps', String(STEPS));
    await page.fill('#D', '');
    await page.click('#sample');
    await waitFor(v(), ['done', 'error'], 120_000);
    const s = await viewerState();
    expect(s.error).toBeNull();
    const r = s.result as RunResult;
    expect(r.seeds).toEqual(SEEDS);
    expect(r.D).toBe(128);
    expect(r.nfe).toBe(2 * STEPS - 1);
    expect(await page.textContent('#speed')).toMatch(/evaluations\/s/);
    const [N, C, R] = r.shape;
    const plane = C * R * R;

    // The final canvas shows exactly the pixels the page reports.
    const [final] = await readCanvases(v(), '#final');
    const fg: TileGeometry = { resolution: R, channels: C, zoom: r.zoom.final, cols: N, rows: 1 };
    expect(final?.width).toBe(GAP + N * (R * fg.zoom + GAP));
    for (let k = 0; k < N; k++)
      expect(tilePixels(final as CanvasData, fg, 0, k), `final image ${k}`).toEqual(
        r.pixels.slice(k * plane, (k + 1) * plane),
      );

    // One strip per image, one column per step, each a picture rather than a flat tile; the
    // last column is the final image.
    const strips = await readCanvases(v(), '#trajectory canvas');
    expect(strips).toHaveLength(N);
    expect(r.columns).toBe(STEPS);
    const sg: TileGeometry = {
      resolution: R,
      channels: C,
      zoom: r.zoom.strip,
      cols: STEPS,
      rows: 1,
    };
    for (const [k, strip] of strips.entries()) {
      for (let i = 0; i < STEPS; i++) {
        const tile = tilePixels(strip, sg, 0, i);
        expect(Math.max(...tile) - Math.min(...tile), `image ${k} step ${i}`).toBeGreaterThan(16);
        if (i === STEPS - 1) expect(tile).toEqual(r.pixels.slice(k * plane, (k + 1) * plane));
      }
    }

    if (GPU_SKIP_REASON) {
      console.warn(`[skip] Node comparison: ${GPU_SKIP_REASON}`);
      return;
    }
    await getDevice();
    const { net } = loadNetworkBytes(new Uint8Array(await readFile(SHIPPED)), DEFAULT_CHECKPOINT);
    try {
      const x = await generate(asDenoiser(net), SEEDS, {
        D: 128,
        sampler: 'edm',
        config: { numSteps: STEPS },
      });
      const px = toUint8(x);
      let maxFloat = 0;
      let maxPixel = 0;
      let differ = 0;
      for (let i = 0; i < x.length; i++) {
        maxFloat = Math.max(maxFloat, Math.abs((x[i] as number) - (r.x[i] as number)));
        const d = Math.abs((px[i] as number) - (r.pixels[i] as number));
        maxPixel = Math.max(maxPixel, d);
        if (d) differ++;
      }
      console.log(
        `Chromium vs Node: max |dx| ${maxFloat.toExponential(2)}, max pixel difference ` +
          `${maxPixel}, ${differ} of ${x.length} pixels differ`,
      );
      expect(maxFloat).toBeLessThanOrEqual(FLOAT_TOL);
      expect(maxPixel).toBeLessThanOrEqual(PIXEL_TOL);
    } finally {
      net.dispose();
    }
  });

  it('a corrupt checkpoint shows an error naming the file and keeps the loaded network', async () => {
    const { page } = v();
    // The shipped file cut short: a real safetensors header whose tensors run past the end.
    const bytes = (await readFile(SHIPPED)).subarray(0, 4096);
    await page.setInputFiles('#file', {
      name: 'broken.safetensors',
      mimeType: 'application/octet-stream',
      buffer: bytes,
    });
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    const text = (await page.textContent('#error')) ?? '';
    console.log(`error shown: ${text}`);
    expect(text).toContain('broken.safetensors');
    const s = await viewerState();
    expect(s.error).toBe(text);
    expect(s.info?.fileName).toBe(DEFAULT_CHECKPOINT);
    expect(await page.isEnabled('#sample')).toBe(true);
  });

  it('a browser without WebGPU gets a message saying what to enable', async () => {
    const context = await v().browser.newContext();
    const page = await context.newPage();
    try {
      // As in a browser that ships no WebGPU: navigator.gpu is absent.
      await page.addInitScript(() => {
        delete (Navigator.prototype as { gpu?: unknown }).gpu;
      });
      await page.goto(v().url);
      await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
      expect(await page.textContent('#error')).toMatch(/no WebGPU.*navigator\.gpu is missing/s);
      expect(await page.isEnabled('#sample')).toBe(false);
    } finally {
      await context.close();
    }
  });
});
