/**
 * The built viewer in headless Chromium (WebGPU on SwiftShader): it opens with the shipped
 * checkpoint, samples through its own form, and the pixels on its canvases are checked against
 * the trainer's `generate` run here in Node (Dawn) for the same seeds, steps and D. A corrupt
 * file must show an error in the page.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodePng } from '@pfgmpp/io/node';
import { asDenoiser } from '@pfgmpp/nn';
import { generate, quantizeState, toUint8 } from '@pfgmpp/pfgmpp';
import { getDevice } from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GAP, type TileGeometry, tileOrigin } from '../src/draw.ts';
import { loadNetworkBytes } from '../src/network.ts';
import { DEFAULT_CHECKPOINT, DEFAULTS, ROBUSTNESS_FIGURE, type Settings } from '../src/params.ts';
import { generateOptions } from '../src/sample.ts';
import type { RunResult, ViewerState } from '../src/state.ts';
import { BROWSER_SKIP_REASON, startViewer, type Viewer } from './browser.ts';

const SHIPPED = join(import.meta.dirname, '../../trainer/assets', DEFAULT_CHECKPOINT);
/** Written by the official PFGM++ training loop (test/fixtures/official/README.md). */
const OFFICIAL = join(
  import.meta.dirname,
  '../../../test/fixtures/official/edm_ddpmpp_uncond/training-state-000123.pt',
);
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

const gridGeometry = (r: RunResult): TileGeometry => ({
  resolution: r.shape[2],
  channels: r.shape[1],
  zoom: r.zoom.final,
  cols: Math.min(r.shape[0], 8),
  rows: Math.ceil(r.shape[0] / 8),
});

/**
 * The page's run against `generate` in Node (Dawn) with the options the page built from the same
 * settings and, for quantization, the same fake-quantized weights.
 */
async function compareWithNode(
  r: RunResult,
  settings: Settings,
  file = SHIPPED,
  name = DEFAULT_CHECKPOINT,
): Promise<void> {
  if (GPU_SKIP_REASON) {
    console.warn(`[skip] Node comparison: ${GPU_SKIP_REASON}`);
    return;
  }
  await getDevice();
  const { net } = loadNetworkBytes(new Uint8Array(await readFile(file)), name);
  try {
    if (settings.quant !== undefined)
      net.loadStateDict(quantizeState(await net.stateDict(), settings.quant).state);
    const x = await generate(
      asDenoiser(net),
      r.seeds,
      generateOptions({ ...settings, D: r.D ?? Number.POSITIVE_INFINITY }),
    );
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
      `Chromium vs Node (${r.sampler}, quant ${r.quant}): max |dx| ${maxFloat.toExponential(2)}, ` +
        `max pixel difference ${maxPixel}, ${differ} of ${x.length} pixels differ`,
    );
    expect(maxFloat).toBeLessThanOrEqual(FLOAT_TOL);
    expect(maxPixel).toBeLessThanOrEqual(PIXEL_TOL);
  } finally {
    net.dispose();
  }
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
      await viewer?.close().catch(() => {}); // the start error is the one worth reporting
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

    // The grid canvas shows exactly the final pixels the page reports.
    expect(r.shownStep).toBe(STEPS);
    const [final] = await readCanvases(v(), '#grid');
    const fg = gridGeometry(r);
    expect(final?.width).toBe(GAP + N * (R * fg.zoom + GAP));
    for (let k = 0; k < N; k++)
      expect(tilePixels(final as CanvasData, fg, 0, k), `final image ${k}`).toEqual(
        r.pixels.slice(k * plane, (k + 1) * plane),
      );

    // The trajectory: one row per image, one column per step, each a picture rather than a flat
    // tile; the last column is the final image.
    const [strip] = (await readCanvases(v(), '#trajectory')) as [CanvasData];
    expect(r.columns).toBe(STEPS);
    const sg: TileGeometry = {
      resolution: R,
      channels: C,
      zoom: r.zoom.strip,
      cols: STEPS,
      rows: N,
    };
    expect(strip.height).toBe(GAP + N * (R * sg.zoom + GAP));
    for (let k = 0; k < N; k++) {
      for (let i = 0; i < STEPS; i++) {
        const tile = tilePixels(strip, sg, k, i);
        expect(Math.max(...tile) - Math.min(...tile), `image ${k} step ${i}`).toBeGreaterThan(16);
        expect(tile, `image ${k} step ${i}`).toEqual(
          r.stepPixels[i]?.slice(k * plane, (k + 1) * plane),
        );
      }
    }

    await compareWithNode(r, {
      ...DEFAULTS,
      steps: STEPS,
      seed: SEEDS[0] as number,
      count: SEEDS.length,
    });
  });

  it('the step slider scrubs the grid through the run; the PNG exports are the canvases', async () => {
    const { page } = v();
    const r = (await viewerState()).result as RunResult;
    expect(r, 'needs the run of the previous test').toBeTruthy();
    const fg = gridGeometry(r);
    const plane = r.shape[1] * r.shape[2] * r.shape[3];
    const gridTiles = async () => {
      const [c] = (await readCanvases(v(), '#grid')) as [CanvasData];
      return Array.from({ length: r.shape[0] }, (_, k) => tilePixels(c, fg, 0, k)).flat();
    };
    const finalTiles = await gridTiles();
    expect(finalTiles).toEqual(r.pixels.slice(0, r.shape[0] * plane));
    await page.locator('#step').fill('1');
    expect(await page.evaluate(() => window.viewer.result?.shownStep)).toBe(1);
    const first = await gridTiles();
    expect(first).toEqual(r.stepPixels[0]);
    expect(first).not.toEqual(finalTiles);
    expect(await page.textContent('#step-label')).toMatch(/^1 \/ 3, t = /);

    // Exports: the grid at the step shown, and the whole trajectory, as PNG files of the
    // canvases' size.
    for (const [button, canvas, name] of [
      ['#save-grid', '#grid', 'pfgmpp-seeds0-1-step1.png'],
      ['#save-trajectory', '#trajectory', 'pfgmpp-trajectory-seeds0-1.png'],
    ] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
      expect(download.suggestedFilename()).toBe(name);
      const stream = await download.createReadStream();
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const png = Buffer.concat(chunks);
      expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
      const [c] = (await readCanvases(v(), canvas)) as [CanvasData];
      expect([png.readUInt32BE(16), png.readUInt32BE(20)], name).toEqual([c.width, c.height]);
    }
    await page.locator('#step').fill('3');
    expect(await gridTiles()).toEqual(finalTiles);
  });

  it('the ablation sampler, S_churn and weight quantization give Node generate --quant results', async () => {
    const { page } = v();
    await page.fill('#seed', '5');
    await page.fill('#count', '2');
    await page.fill('#steps', '4');
    await page.selectOption('#solver', 'euler');
    await page.selectOption('#disc', 'vp');
    await page.selectOption('#schedule', 'vp');
    await page.selectOption('#scaling', 'vp');
    await page.fill('#churn', '10');
    await page.fill('#quant', '6');
    await page.click('#sample');
    await waitFor(v(), ['done', 'error'], 120_000);
    const s = await viewerState();
    expect(s.error).toBeNull();
    const r = s.result as RunResult;
    expect(r).toMatchObject({ sampler: 'ablation', quant: 6, nfe: 4, columns: 4, seeds: [5, 6] });
    expect(await page.textContent('#speed')).toMatch(
      /ms per evaluation.*euler, vp, vp, vp.*at 6 bits/,
    );
    await compareWithNode(r, {
      ...DEFAULTS,
      steps: 4,
      seed: 5,
      count: 2,
      solver: 'euler',
      disc: 'vp',
      schedule: 'vp',
      scaling: 'vp',
      churn: 10,
      quant: 6,
    });
    // alpha is the EDM sampler's: refused with the ablation choices, with a message.
    await page.fill('#alpha', '0.1');
    await page.click('#sample');
    await page.waitForSelector('#error:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#error')).toMatch(/alpha works with the EDM sampler only/);
  });

  it('alpha perturbation runs on the EDM sampler and quantization can be switched off again', async () => {
    const { page } = v();
    for (const [id, value] of [
      ['#solver', 'heun'],
      ['#disc', 'edm'],
      ['#schedule', 'linear'],
      ['#scaling', 'none'],
    ] as const)
      await page.selectOption(id, value);
    await page.fill('#churn', '0');
    await page.fill('#alpha', '0.2');
    await page.fill('#quant', '');
    await page.fill('#steps', '3');
    await page.click('#sample');
    await waitFor(v(), ['done', 'error'], 120_000);
    const s = await viewerState();
    expect(s.error).toBeNull();
    const r = s.result as RunResult;
    expect(r).toMatchObject({ sampler: 'edm', quant: null, nfe: 5 });
    await compareWithNode(r, { ...DEFAULTS, steps: 3, seed: 5, count: 2, alpha: 0.2 });
    // And alpha did something: the same seeds without it end elsewhere.
    await page.fill('#alpha', '0');
    await page.click('#sample');
    await waitFor(v(), ['done', 'error'], 120_000);
    const plain = (await viewerState()).result as RunResult;
    const moved = Math.max(...plain.x.map((x, i) => Math.abs(x - (r.x[i] as number))));
    expect(moved).toBeGreaterThan(0.05);
    await page.fill('#alpha', '0');
  });

  it('the explainer draws the radius law of the chosen D against the Gaussian', async () => {
    const { page } = v();
    const shipped = (await viewerState()).radius;
    console.log(`radius panel: ${JSON.stringify(shipped)}`);
    expect(shipped).toMatchObject({ N: 256, D: 128, exactMeanSqD: 128 / 126 });
    // Sampling error of the mean of 4096 draws: sd(rho^2) = 0.157 for D = 128 (Beta-prime
    // variance), 0.088 for the Gaussian (2 / N); allow 5 standard errors.
    expect(Math.abs((shipped?.meanSqD as number) - 128 / 126)).toBeLessThan((5 * 0.157) / 64);
    expect(Math.abs((shipped?.meanSqGaussian as number) - 1)).toBeLessThan((5 * 0.088) / 64);
    const [before] = (await readCanvases(v(), '#radius')) as [CanvasData];
    await page.fill('#D', '8');
    await page.dispatchEvent('#D', 'change');
    await page.waitForFunction(() => window.viewer.radius?.D === 8, undefined, { timeout: 30_000 });
    const [after] = (await readCanvases(v(), '#radius')) as [CanvasData];
    expect(after.data).not.toEqual(before.data);
    // D = 8: rho^2 = (D / N) X / Y, a heavier tail; the exact mean D / (D - 2) = 4/3.
    const d8 = (await viewerState()).radius;
    expect(d8?.exactMeanSqD).toBeCloseTo(8 / 6, 12);
    expect(await page.textContent('#radius-note')).toMatch(
      /D = 8: mean .* exact D \/ \(D - 2\) = 1\.333/,
    );
    await page.fill('#D', 'inf');
    await page.dispatchEvent('#D', 'change');
    await page.waitForFunction(() => window.viewer.radius?.D === null, undefined, {
      timeout: 30_000,
    });
    await page.fill('#D', '');
  });

  it('an official PFGM++ training-state .pt loads in the page and samples as in Node', async () => {
    const { page } = v();
    // The file as the official training loop's torch.save wrote it (torch zip, modules pickled
    // by torch_utils.persistence).
    const name = 'training-state-000123.pt';
    await page.setInputFiles('#file', {
      name,
      mimeType: 'application/octet-stream',
      buffer: await readFile(OFFICIAL),
    });
    await page.waitForFunction((n) => window.viewer.info?.fileName === n, name, {
      timeout: 60_000,
    });
    const s = await viewerState();
    expect(s.error).toBeNull();
    expect(s.info).toMatchObject({
      className: 'EDMPrecond',
      architecture: 'SongUNet',
      resolution: 16,
      channels: 3,
      labelDim: 0,
      D: 128,
      parameters: 48275,
    });
    await page.fill('#seed', '0');
    await page.fill('#count', '2');
    await page.fill('#steps', '3');
    await page.fill('#quant', '');
    await page.click('#sample');
    await waitFor(v(), ['done', 'error'], 120_000);
    const r = (await viewerState()).result as RunResult;
    expect(r.shape).toEqual([2, 3, 16, 16]);
    await compareWithNode(r, { ...DEFAULTS, steps: 3, seed: 0, count: 2 }, OFFICIAL, name);
    // Back to the shipped network for the tests after this one.
    await page.setInputFiles('#file', {
      name: DEFAULT_CHECKPOINT,
      mimeType: 'application/octet-stream',
      buffer: await readFile(SHIPPED),
    });
    await page.waitForFunction((n) => window.viewer.info?.fileName === n, DEFAULT_CHECKPOINT);
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

  it('the Robustness panel links to the measured robustness figure, shipped with the page', async () => {
    const { page } = v();
    const href = await page.$eval('#robustness-result', (a) => (a as HTMLAnchorElement).href);
    expect(href.endsWith(`/${ROBUSTNESS_FIGURE}`)).toBe(true);
    const res = await fetch(href);
    expect(res.status).toBe(200);
    const png = decodePng(new Uint8Array(await res.arrayBuffer()));
    expect(png.width).toBeGreaterThan(1000);
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
