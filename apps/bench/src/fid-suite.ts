/**
 * The `fid` suite: Inception feature extraction (EDM pipeline: uint8 images, TF1 resize to
 * 299x299, (x-128)/128, the FID Inception-v3 to pool3) in images/s with synthetic weights,
 * against the same network in PyTorch on the CPU (Debian's python3-torch, 2 threads).
 * Keys fid_inception_{32,299}, unit img/s. Then the Frechet distance of 2048-d float64
 * statistics (CPU only; `fid frechet` runs this part alone, without a GPU): ours against
 * pytorch-fid's SciPy sqrtm route, and the textbook JS path that was ours before
 * (traceSqrtProductReference). Keys frechet_2048{,_singular}, unit s (ratio: ours / peer time,
 * lower is better).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  convMacsPerImage,
  frechetDistance,
  InceptionV3,
  prepareWeights,
  type Stats,
  statsOf,
  syntheticWeights,
  traceSqrtProductReference,
} from '@pfgmpp/fid';
import type { Gpu } from '@pfgmpp/tensor/node';
import { runPythonPeer, runTorchPeer } from './peers/torch.ts';
import { printTable } from './table.ts';

interface FidCase {
  key: string;
  label: string;
  /** Input side (images are size x size, resized to 299 unless 299). */
  size: number;
  batch: number;
  iters: number;
}

/** Small batches: a 299x299 forward is about 11 GFLOP per image, seconds on a software GPU. */
const CASES: FidCase[] = [
  {
    key: 'fid_inception_32',
    label: 'Inception 32x32 -> 299, batch 8',
    size: 32,
    batch: 8,
    iters: 2,
  },
  { key: 'fid_inception_299', label: 'Inception 299x299, batch 8', size: 299, batch: 8, iters: 2 },
];

function randomImages(n: number, seed: number): Uint8Array {
  let a = seed >>> 0;
  return Uint8Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a >>> 24;
  });
}

async function ours(net: InceptionV3, c: FidCase): Promise<number> {
  const data = randomImages(c.batch * 3 * c.size * c.size, 1);
  const shape = [c.batch, 3, c.size, c.size] as const;
  // Warm-up: the kernel rows are tuned (once per adapter: cached) and their pipelines compile.
  await net.embed(data, shape);
  const t0 = performance.now();
  for (let i = 0; i < c.iters; i++) await net.embed(data, shape);
  return (c.batch * c.iters) / ((performance.now() - t0) / 1000);
}

function torchPeer(c: FidCase): number | string {
  const cfg = { batch: c.batch, size: c.size, iters: c.iters, threads: 2 };
  const r = runTorchPeer('inception_torch.py', cfg);
  return typeof r === 'string' ? r : (r.img_s as number);
}

/** Frechet cases: the samples behind each side's statistics (under 2049: singular). */
const FRECHET_CASES = [
  { key: 'frechet_2048', label: 'Frechet 2048-d, 3000 vs 3000 samples', samples: [3000, 3000] },
  {
    key: 'frechet_2048_singular',
    label: 'Frechet 2048-d, 1000 (rank 999) vs 3000',
    samples: [1000, 3000],
  },
] as const;

/**
 * Statistics of n synthetic pool3-like features (non-negative, correlated through a few shared
 * factors, like post-ReLU averages), seeded.
 */
function syntheticStats(n: number, seed: number): Stats {
  const d = 2048;
  let a = seed >>> 0;
  const uniform = () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296;
  };
  const k = 8;
  const w = Float64Array.from({ length: k * d }, () => uniform() - 0.5);
  const x = new Float32Array(n * d);
  const c = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let q = 0; q < k; q++) c[q] = uniform() - 0.5;
    for (let j = 0; j < d; j++) {
      let v = uniform() + uniform() - 0.8;
      for (let q = 0; q < k; q++) v += (c[q] as number) * (w[q * d + j] as number);
      x[i * d + j] = Math.max(0, v);
    }
  }
  return statsOf(x, n, d);
}

/** m + tr - 2 tr sqrt through the textbook path (the Frechet distance before 2026-12-06). */
function textbookFrechet(a: Stats, b: Stats): number {
  const d = a.mu.length;
  let m = 0;
  for (let i = 0; i < d; i++) m += ((a.mu[i] as number) - (b.mu[i] as number)) ** 2;
  let tr = 0;
  for (let i = 0; i < d; i++) tr += (a.sigma[i * d + i] as number) + (b.sigma[i * d + i] as number);
  return m + tr - 2 * traceSqrtProductReference(a.sigma, b.sigma, d);
}

function seconds<T>(f: () => T): [number, T] {
  const t0 = performance.now();
  const v = f();
  return [(performance.now() - t0) / 1000, v];
}

/** SciPy's time and value for the distance of a and b, or why it could not run. */
function scipyPeer(a: Stats, b: Stats): { seconds: number; fid: number } | string {
  const dir = mkdtempSync(join(tmpdir(), 'frechet-'));
  try {
    for (const [name, v] of [
      ['mu1', a.mu],
      ['sigma1', a.sigma],
      ['mu2', b.mu],
      ['sigma2', b.sigma],
    ] as const)
      writeFileSync(join(dir, `${name}.f64`), new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    const r = runPythonPeer(
      'frechet_scipy.py',
      { dir, d: 2048 },
      'scipy',
      'SciPy is not installed (apt-get install python3-scipy)',
    );
    return typeof r === 'string' ? r : { seconds: r.seconds as number, fid: r.fid as number };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Results = Record<string, Record<string, number | string>>;

/**
 * Each case: ours (frechetDistance) best of 3, the textbook path once, SciPy once; the
 * relative differences of the values.
 */
function runFrechet(results: Results) {
  process.stderr.write('  Frechet: statistics of 3000, 3000 and 1000 synthetic features...\n');
  const stats = new Map<number, Stats>();
  const statsFor = (n: number, side: number) => {
    const key = n * 2 + side;
    if (!stats.has(key)) stats.set(key, syntheticStats(n, 1 + key));
    return stats.get(key) as Stats;
  };
  const rows: string[][] = [
    [
      'case',
      'ours s (3 runs)',
      'textbook JS s',
      'SciPy s',
      'ours/SciPy',
      'ours vs textbook, SciPy',
    ],
  ];
  for (const c of FRECHET_CASES) {
    const a = statsFor(c.samples[0], 0);
    const b = statsFor(c.samples[1], 1);
    process.stderr.write(`  ${c.label}: ours...\n`);
    const runs = [0, 1, 2].map(() => seconds(() => frechetDistance(a, b)));
    const best = Math.min(...runs.map(([t]) => t));
    const fid = runs[0]?.[1] as number;
    process.stderr.write(`  ${c.label}: textbook JS...\n`);
    const [tText, fidText] = seconds(() => textbookFrechet(a, b));
    process.stderr.write(`  ${c.label}: SciPy...\n`);
    const peer = scipyPeer(a, b);
    if (typeof peer === 'string') process.stderr.write(`  peer skipped: ${peer}\n`);
    const p = typeof peer === 'string' ? { seconds: Number.NaN, fid: Number.NaN } : peer;
    const rel = (x: number) => (Math.abs(fid - x) / Math.abs(x)).toExponential(1);
    results[c.key] = {
      ours: best,
      peer: p.seconds,
      unit: 's',
      ratio: best / p.seconds,
      peerName: 'SciPy sqrtm',
      textbook: tText,
    };
    rows.push([
      c.label,
      runs.map(([t]) => t.toFixed(2)).join(', '),
      tText.toFixed(1),
      Number.isNaN(p.seconds) ? '-' : p.seconds.toFixed(1),
      Number.isNaN(p.seconds) ? '-' : `${(best / p.seconds).toFixed(3)}x`,
      `${rel(fidText)}, ${Number.isNaN(p.fid) ? '-' : rel(p.fid)}`,
    ]);
  }
  printTable(rows);
}

/** Inception with `gpu` (none: skipped), then the Frechet cases unless `frechet` is false. */
export async function runFidSuite(gpu: Gpu | null, json: boolean, frechet = true): Promise<number> {
  const results: Results = {};
  if (gpu) await runInception(gpu, results);
  if (frechet) runFrechet(results);
  if (json) console.log(JSON.stringify(results));
  return 0;
}

async function runInception(gpu: Gpu, results: Results) {
  console.log(
    `adapter: ${gpu.adapterInfo.description || gpu.adapterInfo.vendor}; peer: PyTorch CPU, 2 threads; ` +
      `${(convMacsPerImage() / 1e9).toFixed(2)} GMAC per image`,
  );
  const net = InceptionV3.create(gpu, prepareWeights(syntheticWeights(), 'synthetic'));
  const rows: string[][] = [['case', 'ours img/s', 'peer img/s', 'ours/peer', 'ours GFLOP/s']];
  for (const c of CASES) {
    process.stderr.write(`  ${c.label}: ours...\n`);
    const o = await ours(net, c);
    process.stderr.write(`  ${c.label}: PyTorch...\n`);
    const peer = torchPeer(c);
    if (typeof peer === 'string') process.stderr.write(`  peer skipped: ${peer}\n`);
    const p = typeof peer === 'string' ? Number.NaN : peer;
    results[c.key] = { ours: o, peer: p, unit: 'img/s', ratio: o / p };
    rows.push([
      c.label,
      o.toFixed(3),
      Number.isNaN(p) ? '-' : p.toFixed(3),
      Number.isNaN(p) ? '-' : `${(o / p).toFixed(2)}x`,
      ((o * 2 * convMacsPerImage()) / 1e9).toFixed(1),
    ]);
  }
  const peak = gpu.memory().peakBytes;
  net.dispose();
  printTable(rows);
  console.log(`peak GPU memory: ${(peak / 2 ** 20).toFixed(0)} MiB`);
}
