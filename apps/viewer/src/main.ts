/**
 * The viewer page: opens WebGPU, loads a checkpoint (URL, file input or drop), samples with the
 * trainer's `generate` and draws every step as it arrives. Sampling awaits a GPU read per network
 * evaluation, so the browser repaints between steps without extra yielding.
 */
import { toUint8 } from '@pfgmpp/pfgmpp';
import { type Gpu, getDevice } from '@pfgmpp/tensor';
import { drawTile, prepareCanvas, type TileGeometry, zoomFor } from './draw.ts';
import { type Loaded, loadNetworkBytes } from './network.ts';
import { DEFAULT_CHECKPOINT, formatD, parseSettings, seedList } from './params.ts';
import { sample } from './sample.ts';
import { state } from './state.ts';
import { $, clearError, showError, showInfo, webgpuMissing } from './ui.ts';

let loaded: Loaded | null = null;
let busy = false;

const setStatus = (text: string) => {
  $('status').textContent = text;
};

function enableSample(): void {
  $<HTMLButtonElement>('sample').disabled = busy || !loaded;
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
  enableSample();
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
    enableSample();
  }
}

async function runSampling(): Promise<void> {
  if (!loaded || busy) return;
  clearError();
  const { net, info } = loaded;
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
  enableSample();
  state.status = 'sampling';
  state.result = null;
  try {
    const strip: TileGeometry = {
      resolution: R,
      channels: info.channels,
      zoom: zoomFor(R, 48),
      cols: settings.steps,
      rows: 1,
    };
    const canvases = seeds.map(() => document.createElement('canvas'));
    for (const c of canvases) prepareCanvas(c, strip);
    $('trajectory').replaceChildren(...canvases);
    const cols = Math.min(seeds.length, 8);
    const final: TileGeometry = {
      resolution: R,
      channels: info.channels,
      zoom: zoomFor(R, 96),
      cols,
      rows: Math.ceil(seeds.length / cols),
    };
    const finalCanvas = $<HTMLCanvasElement>('final');
    prepareCanvas(finalCanvas, final);
    const speed = $('speed');
    speed.textContent = `Sampling ${seeds.length} images, D = ${formatD(D)}…`;
    const run = await sample(net, seeds, { ...settings, D }, (step, ms) => {
      for (const [k, canvas] of canvases.entries())
        drawTile(canvas, strip, step.x.subarray(k * plane, (k + 1) * plane), 0, step.i);
      speed.textContent = `step ${step.i + 1} / ${step.numSteps}, ${ms.toFixed(0)} ms`;
    });
    for (let k = 0; k < seeds.length; k++)
      drawTile(
        finalCanvas,
        final,
        run.x.subarray(k * plane, (k + 1) * plane),
        Math.floor(k / cols),
        k % cols,
      );
    const perSecond = (n: number) => ((n * 1000) / run.ms).toFixed(1);
    speed.textContent =
      `${run.nfe} network evaluations in ${run.ms.toFixed(0)} ms: ${perSecond(run.nfe)} ` +
      `evaluations/s, ${perSecond(seeds.length)} images/s (batch of ${seeds.length}, D = ${formatD(D)})`;
    state.result = {
      seeds,
      D: Number.isFinite(D) ? D : null,
      steps: settings.steps,
      shape: [seeds.length, info.channels, R, R],
      x: Array.from(Float32Array.from(run.x)),
      pixels: Array.from(toUint8(run.x)),
      columns: run.trajectory.length,
      zoom: { final: final.zoom, strip: strip.zoom },
      nfe: run.nfe,
      ms: run.ms,
    };
    state.status = 'done';
  } finally {
    busy = false;
    enableSample();
  }
}

function wire(): void {
  $<HTMLFormElement>('form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    runSampling().catch((e: unknown) => showError('Sampling failed', e));
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
  for (const name of ['D', 'steps', 'seed', 'count', 'class']) {
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
