/** The form's and the URL's parsing: defaults, D's spellings and limits with readable messages. */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseD, parseSettings, seedList } from '../src/params.ts';

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
      D: undefined,
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
});
