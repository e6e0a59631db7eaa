/**
 * Scores of one image set against reference statistics, printed as `fid calc` prints them: one
 * text line (or one JSON object) per set. Shared by `fid calc` and `fid merge --ref`.
 */
import {
  CLASSES,
  FEATURES,
  frechetDistance,
  type Gram,
  inceptionScore,
  kernelInceptionDistance,
  readStats,
  type Score,
  type Stats,
} from '@pfgmpp/fid/node';
import type { Io } from '../io.ts';
import { formatG } from './fid-runs.ts';

export type Reference = Awaited<ReturnType<typeof readStats>>;

/** Reads `path` and checks it fits the Inception (and holds features where KID is asked). */
export async function loadReference(path: string, kid: boolean): Promise<Reference> {
  const reference = await readStats(path);
  if (reference.mu.length !== FEATURES) {
    throw new Error(
      `${path}: statistics of ${reference.mu.length} features, the Inception gives ${FEATURES}`,
    );
  }
  if (kid && !reference.features) {
    throw new Error(
      `${path}: has no 'features' array, which KID needs; make the file with 'pfgmpp fid ref --kid'`,
    );
  }
  return reference;
}

const fmt = (s: Score) => `${s.mean.toPrecision(6)} +- ${s.std.toPrecision(3)}`;

export interface ScoreJob {
  /** The set as the text line names it. */
  label: string;
  /** The JSON line's identification, e.g. { images: path }. */
  id: Record<string, unknown>;
  /** A folder of an experiment folder: printed as fid.py does (`path:<folder>, <fid>`). */
  run?: boolean;
  count: number;
  detector: string;
  stats: Stats;
  /** [count, 2048]: KID. */
  features?: Float32Array;
  /** [count, 1008]: Inception Score. */
  logits?: Float32Array;
  reference: Reference;
  /** KID's subsets. */
  seed: number;
  gram?: Gram;
  json: boolean;
}

/** Computes FID (and KID, IS where the job has what they need) and prints one line. */
export async function printScores(io: Io, job: ScoreJob): Promise<number> {
  const fid = frechetDistance(job.stats, job.reference);
  const out: Record<string, unknown> = {
    ...job.id,
    count: job.count,
    detector: job.detector,
    fid,
  };
  if (job.features && job.reference.features) {
    const nRef = job.reference.features.length / FEATURES;
    out.kid = await kernelInceptionDistance(
      job.features,
      job.count,
      job.reference.features,
      nRef,
      FEATURES,
      { seed: job.seed, ...(job.gram && { gram: job.gram }) },
    );
  }
  if (job.logits) out.is = inceptionScore(job.logits, job.count, CLASSES);
  if (job.json) io.out(`${JSON.stringify(out)}\n`);
  else {
    const extra = [
      out.kid ? `  KID ${fmt(out.kid as Score)}` : '',
      out.is ? `  IS ${fmt(out.is as Score)}` : '',
    ].join('');
    if (job.run) io.out(`path:${job.label}, ${formatG(fid)}${extra}\n`);
    else io.out(`${job.label}  FID ${fid.toFixed(4)}${extra}  (${job.count} images)\n`);
  }
  return fid;
}
