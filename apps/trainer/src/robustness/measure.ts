/**
 * Stage 2 of `pfgmpp robustness`: every model sampled at every setting, on `ranges` disjoint seed
 * ranges, and each range scored with the digit classifier (Frechet distance of its 64-d
 * features to the held-out digits, share classified with confidence > 0.9; FID too when the
 * Inception weights are present). The images are quantized to 8-bit pixels first, as they would
 * be saved. A finished score is a small JSON file (DIR/scores/D<D>/<setting>-n<samples>x<ranges>
 * [-fid].json, written atomically) and is not redone.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '@pfgmpp/io/node';
import { frechetDistance, type Stats, statsOf } from '@pfgmpp/fid';
import { asDenoiser, type Precond, type StateDict } from '@pfgmpp/nn';
import { generate, quantizeState, toUint8 } from '@pfgmpp/pfgmpp';
import { loadNetwork } from '@pfgmpp/pfgmpp/node';
import { duration, type Io } from '../io.ts';
import { classify, confidence, type DigitClassifier } from '../quality/classifier.ts';
import { type FidMeasure, fidOf } from './fid.ts';
import type { TrainedModel } from './models.ts';
import {
  formatD,
  nfe,
  type Plan,
  rangeSeeds,
  type Setting,
  settingKey,
  settingsOf,
} from './plan.ts';

/** The score of one seed range. */
export interface RangeScore {
  /** First and last seed. */
  seeds: [number, number];
  frechet: number;
  confident: number;
  /** FID against the held-out digits, when the Inception weights are present. */
  fid?: number;
}

export interface PointScore {
  D: number | 'inf';
  setting: Setting;
  nfe: number;
  snapshot: string;
  ranges: RangeScore[];
  /** Seconds the sampling and scoring took. */
  seconds: number;
}

/** 8-bit pixels back to the [-1, 1] range the classifier reads. */
const classifierInput = (pixels: Uint8Array) => Float32Array.from(pixels, (p) => p / 127.5 - 1);

const IMAGES_PER_CALL = 256;

/** Samples `seeds` with one setting, in calls of at most IMAGES_PER_CALL images. */
async function sampleSetting(
  net: Precond,
  D: number,
  s: Setting,
  seeds: readonly number[],
): Promise<Float64Array> {
  const plane = net.imgChannels * net.imgResolution ** 2;
  const out = new Float64Array(seeds.length * plane);
  const denoiser = asDenoiser(net);
  for (let at = 0; at < seeds.length; at += IMAGES_PER_CALL) {
    const chunk = seeds.slice(at, at + IMAGES_PER_CALL);
    const x = await generate(denoiser, chunk, {
      D,
      sampler: 'edm',
      config: { numSteps: s.steps, alpha: s.alpha },
    });
    out.set(x, at * plane);
  }
  return out;
}

const scoreFile = (outdir: string, D: number, s: Setting, plan: Plan, fid: boolean) =>
  join(
    outdir,
    'scores',
    `D${formatD(D)}`,
    `${settingKey(s)}-n${plan.samples}x${plan.ranges}${fid ? '-fid' : ''}.json`,
  );

async function readScore(path: string): Promise<PointScore | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PointScore;
  } catch {
    return null;
  }
}

/** Scores every (model, setting); returns them in plan order. */
export async function measureModels(
  models: readonly TrainedModel[],
  plan: Plan,
  classifier: DigitClassifier,
  reference: Stats,
  outdir: string,
  io: Io,
  fid?: FidMeasure,
): Promise<PointScore[]> {
  const settings = settingsOf(plan);
  const jobs = models.flatMap((m) =>
    settings.map((s) => ({ m, s, file: scoreFile(outdir, m.D, s, plan, fid !== undefined) })),
  );
  const cached = await Promise.all(jobs.map((j) => readScore(j.file)));
  const todo = jobs.filter((_, i) => !cached[i]);
  // The ETA weighs each set by its network evaluations per image.
  const totalCost = todo.reduce((a, j) => a + nfe(j.s.steps), 0);
  if (todo.length < jobs.length)
    io.err(`robustness: ${jobs.length - todo.length} of ${jobs.length} scores already done\n`);
  const started = performance.now();
  let doneCost = 0;
  let doneJobs = 0;
  const scores: PointScore[] = [];
  // One model on the GPU at a time, with its float32 weights kept to re-quantize from.
  let loaded = null as { D: number; net: Precond; float: StateDict } | null;
  try {
    for (const [i, j] of jobs.entries()) {
      const have = cached[i];
      if (have) {
        scores.push(have);
        continue;
      }
      const t0 = performance.now();
      if (loaded?.D !== j.m.D) {
        loaded?.net.dispose();
        const { net } = await loadNetwork(j.m.snapshot);
        net.eval();
        loaded = { D: j.m.D, net, float: await net.stateDict() };
      }
      const { net, float } = loaded;
      net.loadStateDict(j.s.bits === undefined ? float : quantizeState(float, j.s.bits).state);
      const n = plan.samples;
      const seeds = Array.from({ length: plan.ranges }, (_, k) => rangeSeeds(k, n)).flat();
      const pixels = toUint8(await sampleSetting(net, j.m.D, j.s, seeds));
      const { features, probs } = await classify(classifier, classifierInput(pixels), seeds.length);
      const R = net.imgResolution;
      const ranges: RangeScore[] = [];
      for (let k = 0; k < plan.ranges; k++) {
        const f = features.subarray(k * n * 64, (k + 1) * n * 64);
        const p = probs.subarray(k * n * 10, (k + 1) * n * 10);
        ranges.push({
          seeds: [k * n, (k + 1) * n - 1],
          frechet: frechetDistance(statsOf(f, n, 64), reference),
          confident: confidence(p, n, 0.9).confidentShare,
          ...(fid && {
            fid: await fidOf(fid, pixels.subarray(k * n * R * R, (k + 1) * n * R * R), n, R),
          }),
        });
      }
      const score: PointScore = {
        D: Number.isFinite(j.m.D) ? j.m.D : 'inf',
        setting: j.s,
        nfe: nfe(j.s.steps),
        snapshot: j.m.snapshot,
        ranges,
        seconds: (performance.now() - t0) / 1000,
      };
      await mkdir(dirname(j.file), { recursive: true });
      await writeFileAtomic(
        j.file,
        new TextEncoder().encode(`${JSON.stringify(score, null, 1)}\n`),
      );
      scores.push(score);
      doneCost += nfe(j.s.steps);
      doneJobs++;
      const sec = (performance.now() - started) / 1000;
      const eta =
        doneCost < totalCost
          ? `ETA ${duration((sec / doneCost) * (totalCost - doneCost))}`
          : `in ${duration(sec)}`;
      const mean = ranges.reduce((a, r) => a + r.frechet, 0) / ranges.length;
      io.err(
        `robustness: scored ${doneJobs}/${todo.length} (D = ${formatD(j.m.D)}, ${settingKey(j.s)}: Frechet ${mean.toFixed(2)}), ${eta}\n`,
      );
    }
  } finally {
    loaded?.net.dispose();
  }
  return scores;
}
