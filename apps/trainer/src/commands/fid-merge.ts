/**
 * `pfgmpp fid merge --dest OUT.npz PART.npz...`: the partial statistics of the shards of one
 * run (`fid ref|calc --shard I/N --dest PART.npz`) added up into the usual statistics file (mu,
 * sigma and, where the parts have them, features, as `fid ref` writes), and with `--ref` the
 * FID (KID) printed as `fid calc` prints it.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  gpuGram,
  mergePartials,
  type PartialSource,
  readPartial,
  writeStats,
} from '@pfgmpp/fid/node';
import { type OptionValues, UsageError } from '../cli.ts';
import { openGpu } from '../device.ts';
import type { Io } from '../io.ts';
import { loadReference, printScores } from './fid-score.ts';

/** How `fid calc` names a set in its lines: the image path, or the network and its seeds. */
export function sourceLabel(s: PartialSource): { label: string; id: Record<string, unknown> } {
  if (s.kind === 'network') {
    return { label: `${s.path} seeds ${s.seeds}`, id: { network: s.path, seeds: s.seeds } };
  }
  return { label: s.path, id: { images: s.path } };
}

export async function merge(values: OptionValues, io: Io, files: readonly string[]) {
  if (files.length === 0) {
    throw new UsageError(
      "'fid merge' needs the parts: pfgmpp fid merge --dest OUT.npz PART.npz...",
    );
  }
  const dest = values.dest as string | undefined;
  const ref = values.ref as string | undefined;
  if (dest === undefined && ref === undefined) {
    throw new UsageError("'fid merge' needs --dest OUT.npz or --ref REF.npz (or both)");
  }
  const kid = values.kid === true;
  if (kid && ref === undefined) throw new UsageError("'fid merge --kid' needs --ref REF.npz");
  const parts = [];
  for (const file of files) parts.push({ file, part: await readPartial(file) });
  const merged = mergePartials(parts);
  if (kid && !merged.features) {
    throw new Error(
      `${files[0]}: the parts hold no features, which KID needs; make them with 'fid ref|calc --shard I/N --kid'`,
    );
  }
  const stats = merged.sums.result();
  const { meta } = merged;
  if (dest !== undefined) {
    await mkdir(dirname(dest), { recursive: true });
    await writeStats(dest, stats, merged.features);
    io.out(
      `${dest}: mu and sigma of ${stats.count} images from ${files.length} parts${merged.features ? ' and their features' : ''}\n`,
    );
  }
  if (ref === undefined) return;
  const reference = await loadReference(ref, kid);
  const gram = kid ? gpuGram(await openGpu(values, io)) : undefined;
  const { label, id } = sourceLabel(meta.source);
  await printScores(io, {
    label,
    id,
    count: stats.count,
    detector: meta.detector,
    stats,
    ...(kid && merged.features && { features: merged.features }),
    reference,
    seed: (values.seed as number | undefined) ?? 0,
    ...(gram && { gram }),
    json: values.json === true,
  });
}
