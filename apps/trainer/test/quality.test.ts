/**
 * The MNIST quality measure without Inception weights: the digit classifier trains and is
 * written, `pfgmpp quality` reports the figures for a network's samples, and measureQuality
 * scores real digits as real (Frechet distance ~0, confident share equal to the real one).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDatasetTool } from '@pfgmpp/io/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClassifier } from '../src/commands/quality.ts';
import { openTrainingData } from '../src/commands/train.ts';
import { digitSplit, measureQuality } from '../src/quality/evaluate.ts';
import { cli } from './run-cli.ts';
import { TINY_NET } from './tiny-net.ts';
import { classLabels } from '@pfgmpp/pfgmpp';

const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-quality-'));
const data = join(dir, 'digits8.zip');
const classifier = join(dir, 'classifier.safetensors');

beforeAll(async () => {
  // All 10,000 built-in digits: the set is ordered by class, so a prefix would hold only 0s and 1s.
  await runDatasetTool({ source: 'mnist', dest: data, resolution: [8, 8] });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(GPU_SKIP_REASON)('pfgmpp quality', () => {
  it('trains the classifier, then measures a network; real digits score as real', async () => {
    const trained = await cli(
      'quality',
      '--data',
      data,
      '--classifier',
      classifier,
      '--train-classifier',
      '--train-steps',
      '150',
    );
    expect(trained.code).toBe(0);
    const acc = Number(/held-out accuracy ([\d.]+)%/.exec(trained.out)?.[1]);
    console.log(`8x8 classifier after 150 steps: ${acc}% held-out accuracy`);
    // 10 classes: chance is 10%; 150 steps on 8x8 digits get well past it.
    expect(acc).toBeGreaterThan(60);

    // Real held-out digits as "samples": they match themselves.
    const ds = await openTrainingData(data, { xflip: false, cache: true, cond: true, seed: 0 });
    const net = await loadClassifier(classifier);
    const held = await digitSplit(ds, (i) => i % 10 === 9);
    const q = await measureQuality(net, ds, held.images, held.n);
    expect(q.samples).toBe(1000);
    // Identical statistics: what is left is the cancellation in tr(S1 + S2 - 2 sqrt(S1 S2)) of
    // 64-d float64 covariances whose traces are O(10) (measured 3e-5).
    expect(q.frechet).toBeLessThan(1e-3);
    expect(q.confidentShare).toBe(q.realConfidentShare);
    expect(q.histogram.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(q.frechetRealFloor).toBeGreaterThan(0);
    // Noise is not a digit: far from the real features.
    const noise = Float32Array.from(
      { length: held.images.length },
      (_, i) => Math.sin(i * 12.9898) * 0.999,
    );
    const qn = await measureQuality(net, ds, noise, held.n);
    expect(qn.frechet).toBeGreaterThan(10 * q.frechetRealFloor);
    // Requested classes (conditional generators): the true labels agree as often as the
    // classifier is accurate; labels shifted by one digit almost never do.
    const asked = await measureQuality(net, ds, held.images, held.n, held.labels);
    expect(asked.requested?.accuracy).toBe(q.heldOutAccuracy);
    expect(asked.requested?.histogram).toEqual(
      Array.from({ length: 10 }, (_, k) => held.labels.filter((l) => l === k).length),
    );
    expect(asked.requested?.confidentCorrectShare).toBeLessThanOrEqual(q.confidentShare);
    expect(asked.requested?.confidentCorrectShare).toBeGreaterThan(
      q.confidentShare - (1 - acc / 100) - 1e-9,
    );
    const shifted = held.labels.map((l) => (l + 1) % 10);
    const wrong = await measureQuality(net, ds, held.images, held.n, shifted);
    expect(wrong.requested?.accuracy).toBeLessThan(0.2);
    expect(q.requested).toBeUndefined();

    // A (barely trained) generator through the command: a report with every figure.
    const run = join(dir, 'run');
    const trainArgs = [
      '--outdir',
      run,
      '--nosubdir',
      '--data',
      data,
      ...TINY_NET,
      '--dropout',
      '0',
      '--batch',
      '8',
      '--kimg',
      '0.016',
      '--tick',
      '0.016',
      '--seed',
      '1',
    ];
    const t = await cli('train', ...trainArgs);
    expect(t.code).toBe(0);
    const lastSnapshot = (runDir: string) =>
      join(
        runDir,
        readdirSync(runDir)
          .filter((f) => f.startsWith('network-snapshot-'))
          .sort()
          .pop() as string,
      );
    const measure = (network: string, ...more: string[]) =>
      cli('quality', '--data', data, '--classifier', classifier, '--network', network, ...more);
    const snapshot = lastSnapshot(run);
    const r = await measure(snapshot, '--seeds', '0-19', '--steps', '4', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out.trim().split('\n').pop() as string);
    expect(report).toMatchObject({ samples: 20, heldOutAccuracy: acc / 100 });
    expect(report.histogram.reduce((a: number, b: number) => a + b, 0)).toBe(20);
    for (const k of ['confidentShare', 'realConfidentShare'])
      expect(report[k]).toBeGreaterThanOrEqual(0);
    expect(report.frechet).toBeGreaterThan(report.frechetRealFloor);
    const text = await measure(snapshot, '--seeds', '0-3', '--steps', '3');
    expect(text.out).toMatch(/confidence > 0\.9: [\d.]+% of 4 \(held-out real digits: [\d.]+%\)/);
    expect(text.out).not.toMatch(/requested/);

    // A conditional generator: each seed's class is drawn as `generate` draws it, and the
    // report says how often the classifier agrees with it.
    const condRun = join(dir, 'cond');
    const ct = await cli('train', ...trainArgs.map((a) => (a === run ? condRun : a)), '--cond');
    expect(ct.code).toBe(0);
    const cr = await measure(lastSnapshot(condRun), '--seeds', '0-19', '--steps', '3', '--json');
    expect(cr.code).toBe(0);
    const cq = JSON.parse(cr.out.trim().split('\n').pop() as string);
    const drawn = classLabels([...Array(20).keys()], 10);
    expect(cq.requested.histogram).toEqual(
      Array.from(
        { length: 10 },
        (_, k) => [...Array(20).keys()].filter((i) => drawn[i * 10 + k] === 1).length,
      ),
    );
    expect(cq.requested.accuracy).toBeGreaterThanOrEqual(0);
    expect(cq.requested.confidentCorrectShare).toBeLessThanOrEqual(cq.confidentShare);
  });

  it('a classifier of another resolution is refused with a message', async () => {
    const other = join(dir, 'digits16.zip');
    await runDatasetTool({ source: 'mnist', dest: other, resolution: [16, 16], maxImages: 100 });
    const r = await cli(
      'quality',
      '--data',
      other,
      '--classifier',
      classifier,
      '--network',
      classifier,
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/the classifier is for 8x8 digits, the data is 16x16/);
  });
});
