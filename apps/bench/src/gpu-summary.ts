/**
 * The summary of a scripts/gpu-bench.sh run: reads the step files of OUTDIR (adapter.json,
 * check.json, rows.json, ceiling.json, unet.json, fid.json; any may be missing) and writes
 * summary.json and summary.txt: per shape the best row's GFLOP/s, its share of the GPU's fp32
 * peak, the row the tuner chose and the ratio to PyTorch, the targets of the kernel-paths
 * work (matmul 4096^3 at 50% of peak, the CIFAR-10 UNet's 3x3 convolution at 30%), and the
 * suites' ratios.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Datasheet fp32 rates (TFLOP/s, non-tensor-core) of GPUs the bench may meet, matched against
 * the adapter's description; elsewhere the measured fma_peak stands in.
 */
const FP32_PEAK_TFLOPS: [RegExp, number, string][] = [
  [/H200/i, 66.9, 'NVIDIA H200 SXM'],
  [/H100.*PCIe/i, 51.2, 'NVIDIA H100 PCIe'],
  [/H100.*NVL/i, 60.0, 'NVIDIA H100 NVL'],
  [/H100/i, 66.9, 'NVIDIA H100 SXM'],
  [/A100/i, 19.5, 'NVIDIA A100'],
  [/RTX 4090/i, 82.6, 'NVIDIA RTX 4090'],
];

const TARGETS: [string, string, number][] = [
  ['rows_matmul_4096', 'matmul 4096^3', 0.5],
  ['rows_cifar_3x3_32', 'CIFAR-10 UNet 3x3 convolution (64x256x32x32 -> 256)', 0.3],
];

function read(dir: string, name: string): Record<string, unknown> | null {
  const path = join(dir, `${name}.json`);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/** A figure that JSON may have turned into null (NaN, a peer that did not run). */
const fmt = (v: unknown, digits: number) =>
  typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '-';

interface RowsEntry {
  rows: Record<string, number>;
  chosen: string;
  peak: number;
  peer: number;
}

export function writeSummary(dir: string): number {
  const adapter = read(dir, 'adapter') as { description?: string; device?: string } | null;
  const rows = (read(dir, 'rows') ?? {}) as Record<string, RowsEntry>;
  const ceiling = read(dir, 'ceiling') as Record<string, { ours?: number }> | null;
  const check = read(dir, 'check') as unknown as { row: string; failures: string[] }[] | null;
  const name = `${adapter?.description ?? ''} ${adapter?.device ?? ''}`;
  const known = FP32_PEAK_TFLOPS.find(([re]) => re.test(name));
  const measured = ceiling?.ceiling_fma_peak?.ours ?? Object.values(rows)[0]?.peak ?? Number.NaN;
  const peak = known ? known[1] * 1000 : measured;
  const peakSource = known
    ? `${known[2]} datasheet fp32 ${known[1]} TFLOP/s`
    : `measured fma_peak ${measured.toFixed(0)} GFLOP/s`;
  const lines = [
    `adapter: ${name.trim() || 'unknown'}`,
    `fp32 peak: ${peakSource}${known ? ` (measured fma_peak ${measured.toFixed(0)} GFLOP/s)` : ''}`,
    '',
  ];
  const shapes: Record<string, unknown> = {};
  for (const [key, e] of Object.entries(rows)) {
    const best = e.rows[e.chosen] ?? Number.NaN;
    // JSON has no NaN: a missing peer arrives as null.
    const peer = typeof e.peer === 'number' && e.peer > 0 ? e.peer : Number.NaN;
    shapes[key] = { ...e, best, shareOfPeak: best / peak, vsPeer: best / peer };
    lines.push(
      `${key.replace(/^rows_/, '').padEnd(18)} ${best.toFixed(0).padStart(7)} GFLOP/s  ${((100 * best) / peak).toFixed(1).padStart(5)}% of peak  ${e.chosen.padEnd(18)} ${Number.isNaN(peer) ? '' : `${(best / peer).toFixed(2)}x PyTorch`}`,
    );
  }
  const targets = TARGETS.map(([key, label, want]) => {
    const best = (shapes[key] as { best?: number } | undefined)?.best ?? Number.NaN;
    const share = best / peak;
    return { key, label, want, share, met: Number.isNaN(share) ? null : share >= want };
  });
  lines.push('', 'targets:');
  for (const t of targets) {
    lines.push(
      `  ${t.label}: ${t.met === null ? `not measured (its shape runs on GPUs only), target ${100 * t.want}%` : `${(100 * t.share).toFixed(1)}% of fp32 peak (target ${100 * t.want}%): ${t.met ? 'met' : 'not met'}`}`,
    );
  }
  const failed = (check ?? []).filter((r) => r.failures.length);
  lines.push(
    '',
    check
      ? `correctness: ${check.length - failed.length} of ${check.length} rows pass${failed.length ? `; failing: ${failed.map((r) => r.row).join(', ')}` : ''}`
      : 'correctness: not run',
  );
  const suites: Record<string, unknown> = {};
  for (const s of ['unet', 'fid', 'ceiling']) {
    const v = read(dir, s);
    if (!v) continue;
    suites[s] = v;
    for (const [k, r] of Object.entries(v as Record<string, Record<string, unknown>>)) {
      if (!('ratio' in r)) continue;
      lines.push(
        `${s} ${k}: ours ${fmt(r.ours, 3)} / ${String(r.peerName ?? 'PyTorch')} ${fmt(r.peer, 3)} ${String(r.unit ?? '')}, ${fmt(r.ratio, 2)}x`,
      );
    }
  }
  writeFileSync(
    join(dir, 'summary.json'),
    `${JSON.stringify({ adapter, peak, peakSource, shapes, targets, check, suites }, null, 1)}\n`,
  );
  writeFileSync(join(dir, 'summary.txt'), `${lines.join('\n')}\n`);
  console.log(lines.join('\n'));
  return 0;
}
