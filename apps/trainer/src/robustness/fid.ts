/**
 * FID in `pfgmpp robustness`, when the Inception weight file is present: the same Inception and
 * Frechet distance as `pfgmpp fid`, each seed range of samples against the held-out digits
 * (grey repeated to RGB, as fid.py reads grey PNGs). The reference statistics are computed once
 * and kept in DIR/fid-reference-n<N>.npz.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  arrayImages,
  frechetDistance,
  type ImageSet,
  InceptionV3,
  loadInceptionWeights,
  readStats,
  type Stats,
  streamImages,
  writeStats,
} from '@pfgmpp/fid/node';
import type { Gpu } from '@pfgmpp/tensor/node';
import { type Io, rateProgress } from '../io.ts';

export interface FidMeasure {
  net: InceptionV3;
  reference: Stats;
  /** Held-out digits behind the reference. */
  referenceCount: number;
}

/** uint8 grey images [n, 1, R, R] as an image set of the Inception (grey repeated to RGB). */
const greyImages = (pixels: Uint8Array, n: number, R: number, location: string): ImageSet =>
  arrayImages({ dtype: 'uint8', shape: [n, 1, R, R], data: pixels }, location);

/** The Inception of `weights` and the reference statistics of the held-out digits (cached). */
export async function openFidMeasure(
  gpu: Gpu,
  weights: string,
  held: { pixels: Uint8Array; n: number; R: number },
  outdir: string,
  io: Io,
): Promise<FidMeasure> {
  const net = InceptionV3.create(gpu, await loadInceptionWeights(weights));
  const cache = join(outdir, `fid-reference-n${held.n}.npz`);
  if (existsSync(cache)) return { net, reference: await readStats(cache), referenceCount: held.n };
  const line = rateProgress(io, 'robustness: FID reference, held-out digits', held.n, 0);
  const r = await streamImages(net, greyImages(held.pixels, held.n, held.R, 'held-out digits'), {
    onProgress: (done) => line.update(done),
  });
  line.end();
  if (!r.stats) throw new Error('the FID reference needs at least 2 held-out digits');
  await writeStats(cache, r.stats);
  return { net, reference: r.stats, referenceCount: held.n };
}

/** FID of n uint8 grey images [n, 1, R, R] against the reference. */
export async function fidOf(
  m: FidMeasure,
  pixels: Uint8Array,
  n: number,
  R: number,
): Promise<number> {
  const r = await streamImages(m.net, greyImages(pixels, n, R, 'samples'));
  if (!r.stats) throw new Error('FID needs at least 2 images');
  return frechetDistance(r.stats, m.reference);
}
