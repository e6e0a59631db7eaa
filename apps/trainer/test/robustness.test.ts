/**
 * `pfgmpp robustness`: the --quick experiment end to end (models, scores on disjoint seed ranges,
 * results.json, the figure, the report), its resumability (a finished model or score is not
 * redone; a redone score is the same), the curve and trend logic on made-up scores, and bad input
 * refused with one line before anything is trained.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePng, runDatasetTool } from '@pfgmpp/io/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { robustnessFigure } from '../src/robustness/figure.ts';
import type { PointScore } from '../src/robustness/measure.ts';
import { makePlan, settingsOf } from '../src/robustness/plan.ts';
import { curvesOf, degradations, summarize, trendLines } from '../src/robustness/results.ts';
import { writeSyntheticInception } from './inception-file.ts';
import { cli } from './run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-robustness-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Made-up scores: Frechet = base + slope(D) * severity, the same on every seed range but one. */
function madeUp(plan: ReturnType<typeof makePlan>, slope: (D: number) => number): PointScore[] {
  return plan.D.flatMap((D) =>
    settingsOf(plan).map((s) => {
      const severity = s.alpha * 10 + (18 - s.steps) / 4 + (s.bits === undefined ? 0 : 16 / s.bits);
      const f = 2 + slope(D) * severity;
      return {
        D: Number.isFinite(D) ? D : 'inf',
        setting: s,
        nfe: 2 * s.steps - 1,
        snapshot: 'x',
        seconds: 0,
        ranges: [0, 1, 2].map((k) => ({
          seeds: [k * 10, k * 10 + 9] as [number, number],
          frechet: f + (k === 1 ? 0.01 : 0),
          confident: 0.5,
        })),
      };
    }),
  );
}

describe('robustness plan, curves and trend', () => {
  it('lists the baseline once and puts it on every sweep', () => {
    const plan = makePlan({});
    const settings = settingsOf(plan);
    // baseline + 4 alphas + 5 step counts + 6 bit widths
    expect(settings).toHaveLength(16);
    const curves = curvesOf(
      madeUp(plan, () => 1),
      plan,
    );
    expect(curves).toHaveLength(12);
    const xs = (axis: string) =>
      curves.find((c) => c.D === 64 && c.axis === axis)?.points.map((p) => p.x);
    expect(xs('alpha')).toEqual([0, 0.05, 0.1, 0.2, 0.3]);
    expect(xs('nfe')).toEqual([3, 5, 7, 11, 17, 35]);
    expect(xs('bits')).toEqual([3, 4, 5, 6, 8, 16, 32]);
  });

  it('summarizes with the sample standard deviation', () => {
    const s = summarize([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });

  it('tells an ordered, a reversed and an unresolved trend apart', () => {
    const plan = makePlan({ D: '64,128,inf' });
    const verdict = (slope: (D: number) => number) =>
      trendLines(degradations(curvesOf(madeUp(plan, slope), plan)), plan);
    const ordered = verdict((D) => (Number.isFinite(D) ? D / 64 : 4));
    expect(ordered).toHaveLength(3);
    for (const line of ordered) expect(line).toContain("the paper's trend holds");
    const reversed = verdict((D) => (Number.isFinite(D) ? 64 / D : 0.1));
    for (const line of reversed) expect(line).toContain('contradicted');
    const flat = verdict(() => 1);
    for (const line of flat) expect(line).toContain('not resolved');
  });

  it('draws one colour per D in every panel', () => {
    const plan = makePlan({ D: '64,inf' });
    const png = decodePng(
      robustnessFigure(
        curvesOf(
          madeUp(plan, (D) => (Number.isFinite(D) ? 1 : 3)), // lines apart: neither hides the other
          plan,
        ),
        plan.D,
      ),
    );
    expect(png.width).toBe(3 * 374);
    const panelWidth = png.width / 3;
    const colours = [
      [214, 39, 40],
      [255, 127, 14],
    ];
    for (let panel = 0; panel < 3; panel++) {
      for (const rgb of colours) {
        let hits = 0;
        for (let y = 40; y < png.height; y++) {
          for (let x = panel * panelWidth; x < (panel + 1) * panelWidth; x++) {
            const i = (y * png.width + x) * png.channels;
            if (png.data[i] === rgb[0] && png.data[i + 1] === rgb[1] && png.data[i + 2] === rgb[2])
              hits++;
          }
        }
        expect(hits, `panel ${panel}, colour ${rgb}`).toBeGreaterThan(50);
      }
    }
  });
});

describe('pfgmpp robustness: bad input', () => {
  it.each([
    [['--D', '64,abc'], '--D'],
    [['--D', '64,64'], '--D'],
    [['--alphas', ''], '--alphas'],
    [['--steps', ','], '--steps'],
    [['--bits', '8,1'], '--bits'],
    [['--ranges', '2'], '--ranges'],
  ])('%j: one line naming the option, exit 2, nothing made', async (args, option) => {
    const out = join(dir, `bad-${option.slice(2)}`);
    const r = await cli('robustness', '--outdir', out, '--quick', ...args);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain(option);
    expect(existsSync(out)).toBe(false);
  });

  it.skipIf(GPU_SKIP_REASON)(
    'refuses data with too few held-out digits before training',
    async () => {
      const data = join(dir, 'few.zip');
      await runDatasetTool({ source: 'mnist', dest: data, resolution: [16, 16], maxImages: 1000 });
      const out = join(dir, 'few');
      const r = await cli('robustness', '--outdir', out, '--quick', '--data', data);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/option --data: .* has 100 held-out digits .* at least 200/);
      expect(existsSync(join(out, 'models'))).toBe(false);
    },
  );
});

describe.skipIf(GPU_SKIP_REASON)('pfgmpp robustness --quick', () => {
  const out = join(dir, 'quick');
  const read = () => JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));

  it('trains two models, scores every setting on three seed ranges, writes the results', async () => {
    const r = await cli('robustness', '--outdir', out, '--quick');
    expect(r.code, r.err).toBe(0);
    const res = read();
    expect(res.models.map((m: { D: string }) => m.D)).toEqual(['64', 'inf']);
    // baseline + alpha 0.1, 0.3 + steps 2, 4, 9 + bits 8, 4, for each D
    expect(res.points).toHaveLength(16);
    for (const p of res.points) {
      expect(p.ranges.map((q: { seeds: number[] }) => q.seeds)).toEqual([
        [0, 15],
        [16, 31],
        [32, 47],
      ]);
      expect(p.samplesPerRange).toBe(16);
      for (const q of p.ranges) {
        expect(Number.isFinite(q.frechet) && q.frechet > 0).toBe(true);
        expect(q.confident).toBeGreaterThanOrEqual(0);
        expect(q.confident).toBeLessThanOrEqual(1);
      }
    }
    // The seed ranges are disjoint, so their scores differ.
    const base = res.points[0].ranges.map((q: { frechet: number }) => q.frechet);
    expect(new Set(base).size).toBe(3);
    expect(res.curves).toHaveLength(6);
    expect(decodePng(readFileSync(join(out, 'robustness.png'))).width).toBeGreaterThan(1000);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('`pfgmpp robustness --outdir');
    expect(report).toMatch(/alpha perturbation \(alpha = 0\.3\): the paper's trend/);
    expect(r.out).toContain('Wrote');
  }, 180_000);

  it('resumes: nothing finished is redone, and a redone score is the same', async () => {
    const before = read();
    const scores = join(out, 'scores', 'D64');
    const victim = readdirSync(scores).find((f) => f.startsWith('alpha0.3')) as string;
    const old = JSON.parse(readFileSync(join(scores, victim), 'utf8'));
    rmSync(join(scores, victim));
    const r = await cli('robustness', '--outdir', out, '--quick');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('model 1/2 (D = 64): done');
    expect(r.err).toContain('model 2/2 (D = inf): done');
    expect(r.err).toContain('15 of 16 scores already done');
    expect(r.err.match(/robustness: scored /g)).toHaveLength(1);
    const redone = JSON.parse(readFileSync(join(scores, victim), 'utf8'));
    expect(redone.ranges).toEqual(old.ranges);
    expect(read().points.map((p: PointScore) => p.ranges)).toEqual(
      before.points.map((p: PointScore) => p.ranges),
    );
  }, 120_000);

  it('measures FID with the Inception weights: each range as fid calc --network scores it', async () => {
    const weights = join(dir, 'inception.safetensors');
    writeSyntheticInception(weights);
    const fidOut = join(dir, 'fid');
    const args = ['--D', '64', '--alphas', '0', '--steps', '2', '--bits', '8', '--samples', '2'];
    const r = await cli(
      'robustness',
      '--outdir',
      fidOut,
      '--quick',
      ...args,
      '--fid-ref',
      '8',
      '--weights',
      weights,
    );
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(readFileSync(join(fidOut, 'results.json'), 'utf8'));
    expect(res.points).toHaveLength(3);
    for (const p of res.points) for (const q of p.ranges) expect(q.fid).toBeGreaterThan(0);
    expect(res.curves[0].points[0].fid.values).toHaveLength(3);
    const calc = await cli(
      'fid',
      'calc',
      '--network',
      join(fidOut, res.models[0].snapshot),
      '--seeds',
      '2-3',
      '--ref',
      join(fidOut, 'fid-reference-n8.npz'),
      '--weights',
      weights,
      '--json',
    );
    expect(calc.code, calc.err).toBe(0);
    const fid = JSON.parse(calc.out).fid as number;
    const baseline = res.points.find(
      (p: PointScore) => p.setting.steps === 18 && p.setting.bits === undefined,
    );
    expect(Math.abs(fid - baseline.ranges[1].fid) / fid).toBeLessThan(1e-9);
    // Without the weights file FID is left out and said so; --fid then refuses in one line.
    const missing = await cli(
      'robustness',
      '--outdir',
      join(dir, 'nofid'),
      '--quick',
      '--fid',
      '--weights',
      join(dir, 'none.pth'),
    );
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/option --fid: no Inception weights at/);
  }, 180_000);
});
