/** The `unet` suite's table and JSON (keys unet_{small,cifar}_{fwd,fwdbwd}, unit img/s). */
import type { Gpu } from '@pfgmpp/tensor/node';
import { printTable } from './table.ts';
import { oursUnet, torchUnet, UNET_CONFIGS, type UnetFigures } from './unet.ts';

/**
 * Each config alternates ours and the peer `repeats` times and keeps each side's best figure per
 * mode (the machines' single timings vary by up to 2x; see docs/benchmarks.md).
 */
export async function runUnetSuite(
  gpu: Gpu,
  json: boolean,
  only: string | undefined,
  repeats: number,
): Promise<number> {
  const names = (only ? [only] : Object.keys(UNET_CONFIGS)) as (keyof typeof UNET_CONFIGS)[];
  for (const n of names) {
    if (!UNET_CONFIGS[n]) {
      console.error(
        `unknown unet config "${n}"; available: ${Object.keys(UNET_CONFIGS).join(', ')}`,
      );
      return 2;
    }
  }
  console.log(
    `adapter: ${gpu.adapterInfo.description || gpu.adapterInfo.vendor}; peer: PyTorch CPU, 2 threads; best of ${repeats}`,
  );
  const results: Record<string, { ours: number; peer: number; unit: string; ratio: number }> = {};
  const rows: string[][] = [['case', 'ours img/s', 'peer img/s', 'ours/peer', 'peak GPU MiB']];
  for (const n of names) {
    const c = UNET_CONFIGS[n];
    let ours: UnetFigures | null = null;
    let peer: UnetFigures | string | null = null;
    for (let r = 0; r < repeats; r++) {
      process.stderr.write(`  ${c.label}: ours (${r + 1}/${repeats})...\n`);
      ours = best(ours, await oursUnet(gpu, c));
      if (typeof peer === 'string') continue;
      process.stderr.write(`  ${c.label}: PyTorch (${r + 1}/${repeats})...\n`);
      const p = torchUnet(c);
      peer = typeof p === 'string' ? p : best(peer, p);
    }
    if (!ours || !peer) return 2;
    if (typeof peer === 'string') process.stderr.write(`  peer skipped: ${peer}\n`);
    if (typeof peer !== 'string' && peer.params !== ours.params) {
      process.stderr.write(`  note: peer has ${peer.params} parameters, ours ${ours.params}\n`);
    }
    for (const mode of ['fwd', 'fwdbwd'] as const) {
      const p = typeof peer === 'string' ? Number.NaN : (peer as UnetFigures)[mode];
      const o = ours[mode];
      results[`unet_${n}_${mode}`] = { ours: o, peer: p, unit: 'img/s', ratio: o / p };
      rows.push([
        `${n} ${mode === 'fwd' ? 'forward' : 'forward+backward'}`,
        o.toFixed(2),
        Number.isNaN(p) ? '-' : p.toFixed(2),
        Number.isNaN(p) ? '-' : `${(o / p).toFixed(2)}x`,
        (ours.peakBytes / 2 ** 20).toFixed(0),
      ]);
    }
  }
  printTable(rows);
  if (json) console.log(JSON.stringify(results));
  return 0;
}

/** The better of two measurements, mode by mode. */
function best(a: UnetFigures | null, b: UnetFigures): UnetFigures {
  if (!a) return b;
  return {
    fwd: Math.max(a.fwd, b.fwd),
    fwdbwd: Math.max(a.fwdbwd, b.fwdbwd),
    params: b.params,
    peakBytes: Math.max(a.peakBytes, b.peakBytes),
  };
}
