/**
 * Training the digit classifier and measuring a generator with it. The built-in MNIST digits are
 * split by index: every tenth image (index % 10 == 9) is held out from classifier training and
 * serves as the real reference set; the images with index % 10 == 0 give the real-vs-real floor
 * (the dataset is ordered by class, so both sets must be spread over all of it).
 */
import type { ImageDataset } from '@pfgmpp/io';
import { Adam } from '@pfgmpp/nn';
import { backward, scopeAsync, tensor } from '@pfgmpp/tensor';
import { frechetDistance, type Stats, statsOf } from '@pfgmpp/fid';
import { classify, confidence, DigitClassifier } from './classifier.ts';

export interface DigitSet {
  images: Float32Array;
  labels: Int32Array;
  n: number;
}

export const isHeldOut = (i: number) => i % 10 === 9;

/** The images whose index passes `keep`, of a labelled 1-channel dataset, in [-1, 1]. */
export async function digitSplit(
  ds: ImageDataset,
  keep: (index: number) => boolean,
): Promise<DigitSet> {
  const [C, H, W] = ds.shape;
  if (C !== 1) throw new Error(`the digit classifier needs 1-channel images, got ${C} channels`);
  if (!ds.labels?.ids) throw new Error('the digit classifier needs class labels (dataset.json)');
  const idx: number[] = [];
  for (let i = 0; i < ds.size; i++) if (keep(i)) idx.push(i);
  const plane = H * W;
  const images = new Float32Array(idx.length * plane);
  const labels = new Int32Array(idx.length);
  for (const [k, i] of idx.entries()) {
    const raw = await ds.raw(ds.rawIndex[i] as number);
    for (let p = 0; p < plane; p++) images[k * plane + p] = (raw[p] as number) / 127.5 - 1;
    labels[k] = ds.labels.ids[i] as number;
  }
  return { images, labels, n: idx.length };
}

/** Trains the classifier with Adam on the training split; returns it with its held-out accuracy. */
export async function trainClassifier(
  ds: ImageDataset,
  o: {
    steps: number;
    batch: number;
    lr: number;
    seed: number;
    onStep?: (step: number, loss: number) => void;
  },
): Promise<{ net: DigitClassifier; accuracy: number }> {
  const R = ds.shape[1];
  const train = await digitSplit(ds, (i) => !isHeldOut(i));
  const held = await digitSplit(ds, isHeldOut);
  const net = new DigitClassifier(R).initialize(o.seed).train();
  const adam = new Adam(net);
  const plane = R * R;
  let state = o.seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  for (let step = 0; step < o.steps; step++) {
    const x = new Float32Array(o.batch * plane);
    const onehot = new Float32Array(o.batch * 10);
    for (let b = 0; b < o.batch; b++) {
      const i = Math.floor(next() * train.n);
      x.set(train.images.subarray(i * plane, (i + 1) * plane), b * plane);
      onehot[b * 10 + (train.labels[i] as number)] = 1;
    }
    const loss = await scopeAsync(async () => {
      const l = net.loss(tensor(x, [o.batch, 1, R, R]), tensor(onehot, [o.batch, 10]));
      backward(l);
      return l.item();
    });
    // Cosine decay keeps the last steps from bouncing.
    adam.step(o.lr * 0.5 * (1 + Math.cos((Math.PI * step) / o.steps)));
    o.onStep?.(step, loss);
  }
  adam.dispose();
  const { probs } = await classify(net, held.images, held.n);
  return { net, accuracy: confidence(probs, held.n, 0.9, held.labels).accuracy };
}

export interface QualityReport {
  samples: number;
  /** Share of samples whose top class has probability > 0.9. */
  confidentShare: number;
  /** The same share for the held-out real digits: what a perfect generator would score. */
  realConfidentShare: number;
  histogram: number[];
  /** Frechet distance of sample features to the held-out digits' features. */
  frechet: number;
  /** The same distance between 1,000 training digits (index % 10 == 0) and the held-out ones: the floor. */
  frechetRealFloor: number;
  /** Classifier accuracy on the held-out digits. */
  heldOutAccuracy: number;
  /**
   * Conditional generators only: the classes the samples were drawn for, the share the
   * classifier assigns to that class, and the share it assigns to it with confidence > 0.9.
   */
  requested?: { histogram: number[]; accuracy: number; confidentCorrectShare: number };
}

/** The held-out digits' classifier features as statistics: the reference of every Frechet distance. */
export async function digitReference(net: DigitClassifier, held: DigitSet): Promise<Stats> {
  const { features } = await classify(net, held.images, held.n);
  return statsOf(features, held.n, 64);
}

/** Measures `samples` (n images in [-1, 1], 1 x R x R) against the dataset's held-out digits. */
export async function measureQuality(
  net: DigitClassifier,
  ds: ImageDataset,
  samples: Float32Array,
  n: number,
  requested?: Int32Array,
): Promise<QualityReport> {
  const held = await digitSplit(ds, isHeldOut);
  // Every tenth training digit, spread over the whole (class-ordered) dataset like the held-out set.
  const real = await digitSplit(ds, (i) => i % 10 === 0);
  const ofSamples = await classify(net, samples, n);
  const ofHeld = await classify(net, held.images, held.n);
  const ofReal = await classify(net, real.images, real.n);
  const heldStats = statsOf(ofHeld.features, held.n, 64);
  const c = confidence(ofSamples.probs, n, 0.9, requested);
  const asked = requested && {
    histogram: Array.from({ length: 10 }, (_, k) => requested.filter((r) => r === k).length),
    accuracy: c.accuracy,
    confidentCorrectShare: c.confidentCorrectShare,
  };
  return {
    samples: n,
    confidentShare: c.confidentShare,
    realConfidentShare: confidence(ofHeld.probs, held.n).confidentShare,
    histogram: c.histogram,
    frechet: frechetDistance(statsOf(ofSamples.features, n, 64), heldStats),
    frechetRealFloor: frechetDistance(statsOf(ofReal.features, real.n, 64), heldStats),
    heldOutAccuracy: confidence(ofHeld.probs, held.n, 0.9, held.labels).accuracy,
    ...(asked && { requested: asked }),
  };
}
