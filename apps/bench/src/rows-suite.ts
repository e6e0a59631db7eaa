/**
 * The `kernels` suite's table of kernel rows: every row of the convolution and matmul tables
 * on the shapes that carry a UNet's and Inception's work, timed by the tuner's own measure()
 * (the best of a few runs after a warm-up; a row over 1.5x the best so far is timed once, one
 * over 3x the best on one image of the batch is cut without a full-size run), in
 * GFLOP/s and as a share of the adapter's best register-only multiply-add rate (the ceiling
 * suite's fma_peak probe, measured in the same run), the row the tuner chose, and PyTorch on
 * the same shapes (apps/bench/peers/rows_torch.py: CPU, or CUDA on a GPU machine). Shapes too
 * large for a software rasterizer's time (matmul 4096^3, CIFAR-10's 32x32 level) run on GPUs
 * only. Keys rows_<shape> {rows: {row: GFLOP/s}, chosen, peak, peer}.
 */
import {
  convGeometry,
  convProblem,
  describeTiming,
  type Gpu,
  type KernelProblem,
  type KernelRow,
  matmulProblem,
  Tensor,
} from '@pfgmpp/tensor/node';
import { fmaPeak } from './ceiling.ts';
import { runTorchPeer } from './peers/torch.ts';
import { printTable } from './table.ts';

interface RowsCase {
  key: string;
  label: string;
  flops: number;
  problem: (gpu: Gpu) => KernelProblem<KernelRow>;
  /** The case as rows_torch.py takes it. */
  peer: Record<string, unknown>;
  /** Only on GPUs (too slow for a software rasterizer's bench). */
  gpuOnly?: boolean;
}

type Pass = 'y' | 'dx' | 'dw';

/** A convolution case; its label names `family`, the kernel, stride, input and output channels. */
function conv(
  key: string,
  family: string,
  [N, cin, H, W]: number[],
  [cout, KH, KW]: number[],
  stride: number,
  pad: [number, number],
  pass: Pass,
): RowsCase {
  const g = convGeometry(N!, cin!, H!, W!, cout!, KH!, KW!, [stride, stride], pad, 1);
  return {
    key,
    label: `${family} ${KH}x${KW}${stride > 1 ? `/${stride}` : ''} ${N}x${cin}x${H}x${W} -> ${cout} (${pass})`,
    flops: 2 * g.N * g.cout * g.cg * g.KH * g.KW * g.OH * g.OW,
    problem: (gpu) => convProblem(pass, g, gpu),
    peer: { kind: 'conv', x: [N, cin, H, W], w: [cout, cin, KH, KW], stride, padding: pad, pass },
  };
}

function matmul(
  key: string,
  label: string,
  batch: number,
  M: number,
  K: number,
  N: number,
): RowsCase {
  return {
    key,
    label,
    flops: 2 * batch * M * N * K,
    peer: { kind: 'matmul', batch, m: M, k: K, n: N },
    problem: (gpu: Gpu): KernelProblem<KernelRow> => {
      // Dense operands: only their layout matters to the rows (the tuner allocates its own).
      const t = Tensor.empty(gpu, [1]);
      const p = matmulProblem(
        {
          batch,
          M,
          N,
          K,
          a: { t, off: 0, batch: M * K, row: K, col: 1 },
          b: { t, off: 0, batch: K * N, row: N, col: 1 },
        },
        gpu,
      );
      t.dispose();
      return p;
    },
  };
}

export const ROWS_CASES: RowsCase[] = [
  conv('unet_3x3', 'UNet', [16, 64, 32, 32], [64, 3, 3], 1, [1, 1], 'y'),
  conv('unet_3x3_dx', 'UNet', [16, 64, 32, 32], [64, 3, 3], 1, [1, 1], 'dx'),
  conv('unet_3x3_dw', 'UNet', [16, 64, 32, 32], [64, 3, 3], 1, [1, 1], 'dw'),
  conv('unet_1x1', 'UNet', [16, 64, 32, 32], [64, 1, 1], 1, [0, 0], 'y'),
  conv('cifar_3x3', 'CIFAR-10', [8, 256, 16, 16], [256, 3, 3], 1, [1, 1], 'y'),
  conv('incep_1x7', 'Inception', [8, 192, 17, 17], [192, 1, 7], 1, [0, 3], 'y'),
  conv('incep_1x1_17', 'Inception', [8, 768, 17, 17], [192, 1, 1], 1, [0, 0], 'y'),
  conv('incep_3x3_s2', 'Inception', [8, 288, 35, 35], [384, 3, 3], 2, [0, 0], 'y'),
  conv('incep_5x5', 'Inception', [8, 48, 35, 35], [64, 5, 5], 1, [2, 2], 'y'),
  conv('incep_3x3_73', 'Inception', [8, 80, 73, 73], [192, 3, 3], 1, [0, 0], 'y'),
  matmul('matmul_1024', 'matmul 1024^3', 1, 1024, 1024, 1024),
  matmul('bmm_attention', 'bmm 16 x (256x64 @ 64x256)', 16, 256, 64, 256),
  { ...matmul('matmul_4096', 'matmul 4096^3', 1, 4096, 4096, 4096), gpuOnly: true },
  {
    ...conv('cifar_3x3_32', 'CIFAR-10', [64, 256, 32, 32], [256, 3, 3], 1, [1, 1], 'y'),
    gpuOnly: true,
  },
  {
    ...conv('cifar_3x3_32_dw', 'CIFAR-10', [64, 256, 32, 32], [256, 3, 3], 1, [1, 1], 'dw'),
    gpuOnly: true,
  },
];

export interface RowsResult {
  rows: Record<string, number>;
  chosen: string;
  peak: number;
  /** PyTorch on the same shape, GFLOP/s (NaN when no peer ran). */
  peer: number;
}

export async function runRowsTable(gpu: Gpu, only?: string): Promise<Record<string, RowsResult>> {
  const cases = ROWS_CASES.filter(
    (c) => (!only || c.key.startsWith(only)) && (!c.gpuOnly || !gpu.isSoftware),
  );
  process.stderr.write('  rows: the adapter peak (fma_peak)...\n');
  const peak = await fmaPeak(gpu);
  process.stderr.write('  rows: PyTorch on the same shapes...\n');
  const torch = runTorchPeer('rows_torch.py', {
    cases: cases.map((c) => ({ key: c.key, ...c.peer })),
    threads: 2,
    runs: 3,
  });
  if (typeof torch === 'string') process.stderr.write(`  peer skipped: ${torch}\n`);
  const results: Record<string, RowsResult> = {};
  const table: string[][] = [['shape', 'row', 'GFLOP/s', 'of peak', 'vs peer', '']];
  for (const c of cases) {
    process.stderr.write(`  rows: ${c.label}...\n`);
    const r = await gpu.kernels.measure(c.problem(gpu));
    if (!r) continue;
    const peer = typeof torch === 'string' ? Number.NaN : (torch[c.key] ?? Number.NaN);
    const rows: Record<string, number> = {};
    for (const [i, t] of r.timings.entries()) {
      const gflops = Number.isNaN(t.ms) ? Number.NaN : c.flops / t.ms / 1e6;
      rows[t.row] = gflops;
      table.push([
        i === 0 ? c.label : '',
        t.row,
        Number.isNaN(gflops) ? describeTiming(t) : gflops.toFixed(1),
        Number.isNaN(gflops) ? '' : `${((100 * gflops) / peak).toFixed(1)}%`,
        Number.isNaN(gflops) || Number.isNaN(peer) ? '' : `${(gflops / peer).toFixed(2)}x`,
        t.row === r.chosen ? '<- chosen' : '',
      ]);
    }
    if (!Number.isNaN(peer)) table.push(['', 'peer: PyTorch', peer.toFixed(1), '', '', '']);
    results[`rows_${c.key}`] = { rows, chosen: r.chosen, peak, peer };
  }
  const peerName =
    typeof torch === 'string'
      ? 'none'
      : `PyTorch ${String(torch.torch)} on ${String(torch.device)}`;
  console.log(
    `kernel rows (peak: fma_peak ${peak.toFixed(1)} GFLOP/s, measured in this run; peer: ${peerName}):`,
  );
  printTable(table, [0, 1, 5]);
  return results;
}
