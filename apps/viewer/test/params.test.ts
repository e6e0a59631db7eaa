/** The form's and the URL's parsing: defaults, D's spellings and limits with readable messages. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULTS,
  evaluations,
  parseD,
  parseSettings,
  seedList,
  usesAblation,
} from '../src/params.ts';
import { generateOptions } from '../src/sample.ts';

const from = (o: Record<string, string>) => parseSettings((k) => o[k]);

describe('viewer settings', () => {
  it("empty fields take the defaults (D: the checkpoint's own)", () => {
    expect(from({})).toEqual(DEFAULTS);
    expect(from({ D: ' ', steps: '', seed: '' })).toEqual(DEFAULTS);
  });

  it('reads D as an integer >= 2 or inf', () => {
    expect(parseD('128')).toBe(128);
    expect(parseD('inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseD('Infinity')).toBe(Number.POSITIVE_INFINITY);
    expect(() => parseD('1')).toThrow(/D must be an integer in \[2, /);
    expect(() => parseD('2.5')).toThrow(/got '2.5'/);
  });

  it('checks steps, seeds, image count and class with the field in the message', () => {
    expect(from({ steps: '3', seed: '7', count: '2', class: '4' })).toEqual({
      ...DEFAULTS,
      steps: 3,
      seed: 7,
      count: 2,
      classIdx: 4,
    });
    expect(() => from({ steps: '1' })).toThrow(/steps must be an integer in \[2, 256\]/);
    expect(() => from({ count: '65' })).toThrow(/count/);
    expect(() => from({ seed: '-1' })).toThrow(/seed/);
    expect(seedList(from({ seed: '5', count: '3' }))).toEqual([5, 6, 7]);
    expect(() => seedList(from({ seed: String(2 ** 32 - 1), count: '2' }))).toThrow(/2\^32/);
  });

  it('reads the sampler choices, S_churn, alpha and quantization bits with their limits', () => {
    const s = from({
      solver: 'Euler',
      disc: 'vp',
      schedule: 've',
      scaling: 'vp',
      churn: '2.5',
      quant: '6',
    });
    expect(s).toMatchObject({
      solver: 'euler',
      disc: 'vp',
      schedule: 've',
      scaling: 'vp',
      churn: 2.5,
      quant: 6,
    });
    expect(usesAblation(s)).toBe(true);
    expect(usesAblation(DEFAULTS)).toBe(false);
    expect(usesAblation(from({ scaling: 'vp' }))).toBe(true);
    expect(() => from({ solver: 'rk4' })).toThrow(/solver must be one of heun, euler; got 'rk4'/);
    expect(() => from({ disc: 'x' })).toThrow(/disc must be one of edm, vp, ve, iddpm/);
    expect(() => from({ churn: '-1' })).toThrow(/S_churn must be a number in \[0, 100\]/);
    expect(() => from({ alpha: 'NaN' })).toThrow(/alpha must be a number in \[0, 1\]/);
    expect(() => from({ quant: '1' })).toThrow(/quant bits must be an integer in \[2, 16\]/);
    expect(from({ alpha: '0.1' }).alpha).toBe(0.1);
    expect(() => from({ alpha: '0.1', solver: 'euler' })).toThrow(
      /alpha works with the EDM sampler only/,
    );
  });

  it('counts network evaluations and builds the command line generate options', () => {
    expect(evaluations(from({ steps: '18' }))).toBe(35);
    expect(evaluations(from({ steps: '18', solver: 'euler' }))).toBe(18);
    expect(generateOptions({ ...DEFAULTS, D: 128 })).toEqual({
      D: 128,
      sampler: 'edm',
      config: { numSteps: 18 },
    });
    expect(generateOptions({ ...from({ alpha: '0.2', churn: '3', class: '2' }), D: 64 })).toEqual({
      D: 64,
      classIdx: 2,
      sampler: 'edm',
      config: { numSteps: 18, S_churn: 3, alpha: 0.2 },
    });
    expect(
      generateOptions({ ...from({ solver: 'euler', steps: '5' }), D: Number.POSITIVE_INFINITY }),
    ).toEqual({
      D: Number.POSITIVE_INFINITY,
      sampler: 'ablation',
      config: {
        numSteps: 5,
        solver: 'euler',
        discretization: 'edm',
        schedule: 'linear',
        scaling: 'none',
      },
    });
  });
});
