/**
 * The `fid` suite: Inception feature extraction (EDM pipeline: uint8 images, TF1 resize to
 * 299x299, (x-128)/128, the FID Inception-v3 to pool3) in images/s with synthetic weights,
 * against the same network in PyTorch on the CPU (Debian's python3-torch, 2 threads).
 * Keys fid_inception_{32,299}, unit img/s.
 */
import { convMacsPerImage, InceptionV3, prepareWeights, syntheticWeights } from '@pfgmpp/fid';
import type { Gpu } from '@pfgmpp/tensor/node';
import { runTorchPeer } from './peers/torch.ts';
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

export async function runFidSuite(gpu: Gpu, json: boolean): Promise<number> {
  console.log(
    `adapter: ${gpu.adapterInfo.description || gpu.adapterInfo.vendor}; peer: PyTorch CPU, 2 threads; ` +
      `${(convMacsPerImage() / 1e9).toFixed(2)} GMAC per image`,
  );
  const net = InceptionV3.create(gpu, prepareWeights(syntheticWeights(), 'synthetic'));
  const results: Record<string, { ours: number; peer: number; unit: string; ratio: number }> = {};
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
  if (json) console.log(JSON.stringify(results));
  return 0;
}
