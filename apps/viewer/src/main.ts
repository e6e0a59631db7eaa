/**
 * The viewer page: opens WebGPU, loads a checkpoint (URL, file input or drop), samples with the
 * trainer's `generate` and draws every step as it arrives, then lets the step slider scrub
 * through the run and exports the pictures as PNG. Sampling awaits a GPU read per network
 * evaluation, so the browser repaints between steps without extra yielding.
 */
import { toUint8 } from '@pfgmpp/pfgmpp';
import { type Gpu, getDevice } from '@pfgmpp/tensor';
import { drawTile, prepareCanvas, type TileGeometry, zoomFor } from './draw.ts';
import { drawRadiusPanel, SAMPLES } from './explainer.ts';
import { type Loaded, loadNetworkBytes, setQuantization } from './network.ts';
import {
  DEFAULT_CHECKPOINT,
  evaluations,
  FIELDS,
  formatD,
  parseD,
  parseSettings,
  seedList,
  usesAblation,
} from './params.ts';
import { sample } from './sample.ts';
import { state } from './state.ts';
import { $, clearError, showError, showInfo, webgpuMissing } from './ui.ts';

let loaded: Loaded | null = null;
let busy = false;

/** The last run, kept for the step slider and the PNG export. */
interface Shown {
  trajectory: Float64Array[];
  times: number[];
  grid: TileGeometry;
  seeds: number[];
  plane: number;
}
let shown: Shown | null = null;

/** All GPU work (sampling, the explainer) runs one task at a time, in order. */
let gpuQueue: Promise<unknown> = Promise.resolve();
function onGpu<T>(task: () => Promise<T>): Promise<T> {
  const next = gpuQueue.then(task, task);
  gpuQueue = next.catch(() => undefined);
  return next;
}

const setStatus = (text: string) => {
  $('status').textContent = text;
};

function enableControls(): void {
  $<HTMLButtonElement>('sample').disabled = busy || !loaded;
  for (const id of ['step', 'save-grid', 'save-trajectory'])
    $<HTMLInputElement>(id).disabled = busy || !shown;
}

/** Replaces the current network; a file that fails to load leaves the previous one in place. */
async function openBytes(bytes: Uint8Array, name: string): Promise<void> {
  state.status = 'loading';
  setStatus(`Reading ${name} (${(bytes.length / 2 ** 20).toFixed(1)} MiB)…`);
  const next = loadNetworkBytes(bytes, name);
  loaded?.net.dispose();
  loaded = next;
  const { info } = next;
  showInfo(info);
  state.info = { ...info, D: Number.isFinite(info.D) ? info.D : null };
  const D = $<HTMLInputElement>('D');
  D.placeholder = formatD(info.D);
  const cls = $<HTMLInputElement>('class');
  cls.disabled = info.labelDim === 0;
  cls.max = String(Math.max(0, info.labelDim - 1));
  if (info.labelDim === 0) cls.value = '';
  setStatus(`Loaded ${name}.`);
  state.status = 'ready';
  // The network is usable even if the explainer cannot draw; its failure is its own message.
  await updateExplainer().catch((e: unknown) => showError('The radius panel failed', e));
  enableControls();
}

async function openUrl(url: string): Promise<void> {
  setStatus(`Downloading ${url}…`);
  const res = await fetch(url).catch((e: unknown) => {
    throw new Error(`${url}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  const name = decodeURIComponent(new URL(url, location.href).pathname.split('/').pop() || url);
  await openBytes(new Uint8Array(await res.arrayBuffer()), name);
}

async function openFile(file: File): Promise<void> {
  clearError();
  try {
    await openBytes(new Uint8Array(await file.arrayBuffer()), file.name);
  } catch (e) {
    // io's messages start with the file's name already.
    showError('Could not load the checkpoint', e);
    setStatus(loaded ? `Kept ${loaded.info.fileName}.` : 'No checkpoint loaded.');
    if (loaded) state.status = 'ready'; // the message stays; the previous network still works
    enableControls();
  }
}

/** The D the form asks for: its own field, else the checkpoint's. */
function chosenD(): number | undefined {
  if (!loaded) return undefined;
  try {
    return parseD($<HTMLInputElement>('D').value) ?? loaded.info.D;
  } catch {
    return undefined; // reported when sampling; the panel keeps its last picture
  }
}

async function updateExplainer(): Promise<void> {
  const D = chosenD();
  if (!loaded || D === undefined) return;
  const { channels, resolution } = loaded.info;
  const N = channels * resolution * resolution;
  const summary = await onGpu(() => drawRadiusPanel($<HTMLCanvasElement>('radius'), N, D));
  state.radius = summary;
  $('radius-samples').textContent = String(SAMPLES);
  const parts = [`N = ${N} pixels (${channels} x ${resolution} x ${resolution}).`];
  if (summary.meanSqD !== null) {
    parts.push(
      `D = ${formatD(D)}: mean of (r / σ√N)² over the samples ${summary.meanSqD.toFixed(3)}` +
        (summary.exactMeanSqD !== null
          ? `, exact D / (D - 2) = ${summary.exactMeanSqD.toFixed(3)}`
          : '') +
        '.',
    );
    if (summary.beyond > 0)
      parts.push(
        `${summary.beyond} of ${summary.samples} D samples lie beyond ${summary.hi.toFixed(2)}.`,
      );
  }
  parts.push(`D = ∞: ${summary.meanSqGaussian.toFixed(3)} (exact 1).`);
  $('radius-note').textContent = parts.join(' ');
}

/** Draws the batch at step i (0-based) on the grid canvas and moves the slider there. */
function showStep(run: Shown, i: number): void {
  const { trajectory, times, grid, plane, seeds } = run;
  const x = trajectory[i] as Float64Array;
  const canvas = $<HTMLCanvasElement>('grid');
  for (let k = 0; k < seeds.length; k++)
    drawTile(
      canvas,
      grid,
      x.subarray(k * plane, (k + 1) * plane),
      Math.floor(k / grid.cols),
      k % grid.cols,
    );
  const slider = $<HTMLInputElement>('step');
  slider.max = String(trajectory.length);
  slider.value = String(i + 1);
  $('step-label').textContent =
    `${i + 1} / ${trajectory.length}, t = ${(times[i] as number).toPrecision(3)}`;
  if (state.result) state.result.shownStep = i + 1;
}

function savePng(canvas: HTMLCanvasElement, name: string): void {
  canvas.toBlob((blob) => {
    if (!blob) {
      showError('Export failed', new Error('the browser made no PNG of the canvas'));
      return;
    }
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  }, 'image/png');
}

const seedRange = (seeds: number[]) =>
  seeds.length === 1 ? `seed${seeds[0]}` : `seeds${seeds[0]}-${seeds[seeds.length - 1]}`;

async function runSampling(): Promise<void> {
  if (!loaded || busy) return;
  clearError();
  const current = loaded;
  const { net, info } = current;
  const form = $<HTMLFormElement>('form');
  const data = new FormData(form);
  const settings = parseSettings((k) => data.get(k) as string | null);
  if (settings.classIdx !== undefined && settings.classIdx >= info.labelDim)
    throw new Error(`class must be below ${info.labelDim}`);
  const seeds = seedList(settings);
  const D = settings.D ?? info.D;
  const R = info.resolution;
  const plane = info.channels * R * R;
  busy = true;
  shown = null;
  enableControls();
  state.status = 'sampling';
  state.result = null;
  try {
    await onGpu(async () => {
      const speed = $('speed');
      const quantized = await setQuantization(current, settings.quant);
      const strip: TileGeometry = {
        resolution: R,
        channels: info.channels,
        zoom: zoomFor(R, 48),
        cols: settings.steps,
        rows: seeds.length,
      };
      const trajectoryCanvas = $<HTMLCanvasElement>('trajectory');
      prepareCanvas(trajectoryCanvas, strip);
      const cols = Math.min(seeds.length, 8);
      const grid: TileGeometry = {
        resolution: R,
        channels: info.channels,
        zoom: zoomFor(R, 96),
        cols,
        rows: Math.ceil(seeds.length / cols),
      };
      prepareCanvas($<HTMLCanvasElement>('grid'), grid);
      const live: Shown = { trajectory: [], times: [], grid, seeds, plane };
      const ablation = usesAblation(settings);
      const what =
        `${ablation ? `ablation sampler (${settings.solver}, ${settings.disc}, ${settings.schedule}, ${settings.scaling})` : 'EDM Heun sampler'}` +
        `, D = ${formatD(D)}` +
        (settings.churn > 0 ? `, S_churn ${settings.churn}` : '') +
        (settings.alpha > 0 ? `, alpha ${settings.alpha}` : '') +
        (settings.quant !== undefined
          ? `, ${quantized} weight tensors at ${settings.quant} bits`
          : '');
      speed.textContent = `Sampling ${seeds.length} images: ${what}…`;
      const nfeExpected = evaluations(settings);
      const run = await sample(net, seeds, { ...settings, D }, (step, ms) => {
        live.trajectory.push(step.x);
        live.times.push(step.tNext);
        for (let k = 0; k < seeds.length; k++)
          drawTile(trajectoryCanvas, strip, step.x.subarray(k * plane, (k + 1) * plane), k, step.i);
        // The grid follows the sampler; the slider takes over when the run is done.
        showStep(live, step.i);
        speed.textContent = `step ${step.i + 1} / ${step.numSteps}, ${ms.toFixed(0)} ms (${nfeExpected} network evaluations in all)`;
      });
      shown = { trajectory: run.trajectory, times: run.times, grid, seeds, plane };
      const perSecond = (n: number) => ((n * 1000) / run.ms).toFixed(1);
      speed.textContent =
        `${run.nfe} network evaluations in ${run.ms.toFixed(0)} ms: ${(run.ms / run.nfe).toFixed(1)} ms per ` +
        `evaluation, ${perSecond(run.nfe)} evaluations/s, ${perSecond(seeds.length)} images/s ` +
        `(batch of ${seeds.length}; ${what})`;
      state.result = {
        seeds,
        D: Number.isFinite(D) ? D : null,
        steps: settings.steps,
        shape: [seeds.length, info.channels, R, R],
        x: Array.from(Float32Array.from(run.x)),
        pixels: Array.from(toUint8(run.x)),
        columns: run.trajectory.length,
        zoom: { final: grid.zoom, strip: strip.zoom },
        nfe: run.nfe,
        ms: run.ms,
        sampler: ablation ? 'ablation' : 'edm',
        quant: settings.quant ?? null,
        stepPixels: run.trajectory.map((t) => Array.from(toUint8(t))),
        times: run.times,
        shownStep: run.trajectory.length,
      };
      showStep(shown, run.trajectory.length - 1);
    });
    state.status = 'done';
  } finally {
    busy = false;
    enableControls();
  }
}

function wire(): void {
  $<HTMLFormElement>('form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    runSampling().catch((e: unknown) => showError('Sampling failed', e));
  });
  $<HTMLInputElement>('D').addEventListener('change', () => {
    updateExplainer().catch((e: unknown) => showError('The radius panel failed', e));
  });
  $<HTMLInputElement>('step').addEventListener('input', (ev) => {
    if (shown) showStep(shown, Number((ev.target as HTMLInputElement).value) - 1);
  });
  $('save-grid').addEventListener('click', () => {
    if (!shown) return;
    const step = Number($<HTMLInputElement>('step').value);
    savePng($<HTMLCanvasElement>('grid'), `pfgmpp-${seedRange(shown.seeds)}-step${step}.png`);
  });
  $('save-trajectory').addEventListener('click', () => {
    if (!shown) return;
    savePng($<HTMLCanvasElement>('trajectory'), `pfgmpp-trajectory-${seedRange(shown.seeds)}.png`);
  });
  const input = $<HTMLInputElement>('file');
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) void openFile(file);
  });
  // The whole page is the drop target: easier to hit than a box.
  document.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  document.addEventListener('drop', (ev) => {
    ev.preventDefault();
    document.body.classList.remove('dragging');
    const file = ev.dataTransfer?.files[0];
    if (file) void openFile(file);
  });
}

/** URL parameters prefill the form, so a link can share a setting. */
function prefill(params: URLSearchParams): void {
  for (const name of FIELDS) {
    const v = params.get(name);
    if (v !== null) $<HTMLInputElement>(name).value = v;
  }
  parseSettings((k) => params.get(k)); // a bad value is reported now, not at the first click
}

async function start(): Promise<void> {
  wire();
  const params = new URLSearchParams(location.search);
  try {
    prefill(params);
  } catch (e) {
    showError('Bad URL parameter', e);
  }
  const missing = webgpuMissing();
  if (missing) {
    $('adapter').textContent = 'WebGPU: not available';
    showError('No WebGPU', missing);
    return;
  }
  let gpu: Gpu;
  try {
    gpu = await getDevice();
  } catch (e) {
    $('adapter').textContent = 'WebGPU: no adapter';
    showError('No WebGPU device', e);
    return;
  }
  const a = gpu.adapterInfo;
  state.adapter = [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ');
  $('adapter').textContent = `WebGPU adapter: ${state.adapter || 'unnamed'}`;
  const url = params.get('checkpoint') ?? DEFAULT_CHECKPOINT;
  try {
    await openUrl(url);
  } catch (e) {
    showError('Could not load the checkpoint', e);
    setStatus('No checkpoint loaded: choose or drop a file.');
  }
}

start().catch((e: unknown) => showError('The viewer failed to start', e));
