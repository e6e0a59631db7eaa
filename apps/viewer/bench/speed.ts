/**
 * Browser vs Node sampling speed of the shipped checkpoint: `npm run bench -w @pfgmpp/viewer`.
 *
 * The same sampler (`generate`, EDM Heun, PFGM++ prior with D = 128) on the same seeds, once
 * through the built viewer page in headless Chromium (WebGPU on SwiftShader, or the browser's
 * GPU) and once in Node (Dawn on lavapipe or the GPU). Each side runs a warm-up (pipeline
 * compilation) and then `--repeats` timed runs, keeping the best. Prints a table and, last, one
 * JSON object {case: {ours: browser, peer: node, unit: "img/s", ratio}}.
 *
 *   npm run bench -w @pfgmpp/viewer -- [--batch 8] [--steps 18] [--repeats 2]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { asDenoiser } from '@pfgmpp/nn';
import { generate } from '@pfgmpp/pfgmpp';
import { getDevice } from '@pfgmpp/tensor/node';
import { loadNetworkBytes } from '../src/network.ts';
import { DEFAULT_CHECKPOINT } from '../src/params.ts';
import type { ViewerState } from '../src/state.ts';
import { startViewer } from '../test/browser.ts';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '8' },
    steps: { type: 'string', default: '18' },
    repeats: { type: 'string', default: '2' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run bench -w @pfgmpp/viewer -- [--batch N] [--steps N] [--repeats N]');
  process.exit(0);
}
const batch = Number(values.batch);
const steps = Number(values.steps);
const repeats = Number(values.repeats);
for (const [k, v] of Object.entries({ batch, steps, repeats }))
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`--${k} must be a positive integer`);
const seeds = Array.from({ length: batch }, (_, i) => i);
const nfe = 2 * steps - 1;

async function node(): Promise<{ ms: number; adapter: string }> {
  const gpu = await getDevice();
  const shipped = join(import.meta.dirname, '../../trainer/assets', DEFAULT_CHECKPOINT);
  const { net } = loadNetworkBytes(new Uint8Array(await readFile(shipped)), DEFAULT_CHECKPOINT);
  const run = () =>
    generate(asDenoiser(net), seeds, { D: 128, sampler: 'edm', config: { numSteps: steps } });
  await generate(asDenoiser(net), seeds, { D: 128, sampler: 'edm', config: { numSteps: 2 } });
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run();
    best = Math.min(best, performance.now() - t0);
  }
  net.dispose();
  const a = gpu.adapterInfo;
  return {
    ms: best,
    adapter: [a.vendor, a.architecture, a.description].filter(Boolean).join(' / '),
  };
}

async function browser(): Promise<{ ms: number; adapter: string }> {
  const v = await startViewer();
  try {
    await v.page.goto(`${v.url}?seed=0&count=${batch}&steps=2`);
    const wait = (states: ViewerState['status'][]) =>
      v.page.waitForFunction((s) => s.includes(window.viewer?.status), states, {
        timeout: 600_000,
      });
    await wait(['ready', 'error']);
    const sampleOnce = async () => {
      await v.page.click('#sample');
      await wait(['done', 'error']);
      const s = await v.page.evaluate(() => window.viewer);
      if (s.error) throw new Error(s.error);
      return s;
    };
    await sampleOnce(); // warm-up: shader and pipeline compilation
    await v.page.fill('#steps', String(steps));
    let best = Number.POSITIVE_INFINITY;
    let adapter = '';
    for (let i = 0; i < repeats; i++) {
      const s = await sampleOnce();
      if (s.result?.nfe !== nfe)
        throw new Error(`expected ${nfe} evaluations, got ${s.result?.nfe}`);
      best = Math.min(best, s.result.ms);
      adapter = s.adapter ?? '';
    }
    return { ms: best, adapter };
  } finally {
    await v.close();
  }
}

const b = await browser();
const n = await node();
const ips = (ms: number) => (batch * 1000) / ms;
const rows = [
  ['browser (viewer page)', b.adapter, b.ms],
  ['node (pfgmpp generate)', n.adapter, n.ms],
] as const;
console.log(
  `sampling ${batch} images, ${steps} Heun steps (${nfe} evaluations), shipped MNIST 16x16 D=128`,
);
for (const [who, adapter, ms] of rows)
  console.log(
    `${who.padEnd(24)} ${ips(ms).toFixed(2).padStart(7)} img/s  ${(ms / nfe).toFixed(1).padStart(7)} ms/evaluation  (${adapter})`,
  );
console.log(`browser / node: ${(n.ms / b.ms).toFixed(2)}x`);
console.log(
  JSON.stringify({
    [`viewer_sample_b${batch}`]: {
      ours: ips(b.ms),
      peer: ips(n.ms),
      unit: 'img/s',
      ratio: n.ms / b.ms,
    },
  }),
);
process.exit(0);
