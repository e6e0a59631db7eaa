/**
 * The quality gate of the shipped MNIST checkpoints: seeds 0-63 at 18 Heun steps, sampled and
 * scored with the shipped digit classifier exactly as the demo does (sampleAndScore), must meet
 * QUALITY_FLOORS (src/quality/floors.ts). A checkpoint that regresses, a sampler that stops
 * converging or labels that stop reaching the network fail here.
 */
import { getDevice } from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  SHIPPED_CLASSIFIER,
  SHIPPED_NETWORK,
  SHIPPED_UNCONDITIONAL,
  sampleAndScore,
} from '../src/commands/demo.ts';
import type { Io } from '../src/io.ts';
import { GATE_SAMPLES, GATE_STEPS, missedFloors, QUALITY_FLOORS } from '../src/quality/floors.ts';

const quiet: Io = { out: () => {}, err: () => {}, isTTY: false };

async function gate(network: string) {
  const r = await sampleAndScore(network, SHIPPED_CLASSIFIER, {
    n: GATE_SAMPLES,
    steps: GATE_STEPS,
    io: quiet,
  });
  expect(r.n).toBe(GATE_SAMPLES);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(
    `${network.split(/[\\/]/).pop()}, seeds 0-${GATE_SAMPLES - 1}: ${pct(r.score.confidentShare)} confident` +
      (r.conditional ? `, ${pct(r.score.accuracy)} as the digit asked for` : '') +
      `; classes 0-9: ${r.score.histogram.join(' ')}`,
  );
  return r;
}

describe.skipIf(GPU_SKIP_REASON)('the shipped checkpoints meet the quality floors', () => {
  beforeAll(async () => {
    await getDevice();
  });

  it('class-conditional: confident digits, the ones asked for', async () => {
    const { conditional, score } = await gate(SHIPPED_NETWORK);
    expect(conditional).toBe(true);
    expect(score.confidentShare).toBeGreaterThanOrEqual(QUALITY_FLOORS.conditional.confident);
    expect(score.accuracy).toBeGreaterThanOrEqual(QUALITY_FLOORS.conditional.asked);
    expect(missedFloors(score, true)).toEqual([]); // and every digit among the samples
  });

  it('unconditional: confident digits', async () => {
    const { conditional, score } = await gate(SHIPPED_UNCONDITIONAL);
    expect(conditional).toBe(false);
    expect(score.confidentShare).toBeGreaterThanOrEqual(QUALITY_FLOORS.unconditional.confident);
    // A confident share alone passes a collapse to one digit (see QUALITY_FLOORS.digitsSeen).
    expect(score.histogram.filter((k) => k > 0).length).toBe(QUALITY_FLOORS.digitsSeen);
    expect(missedFloors(score, false)).toEqual([]);
  });
});
