/**
 * EDM's augmentation pipeline (SPEC 7.7): the GPU resampling against PyTorch run in float64 on the
 * same matrices and draws (test/fixtures/pfgmpp/augment.npz, tools/reference/make_augment_fixtures.py),
 * the near-identity round trip at p = 0, exact mirrors, the labels, the application rates and the
 * determinism of the draws.
 */
import { scope, tensor } from '@pfgmpp/tensor/node';
import { expectCloseToScale, GPU_SKIP_REASON, testGpu } from '@pfgmpp/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AUGMENT_DIM,
  type AugmentDraw,
  applyAugment,
  augmentLabels,
  augmentPipe,
  drawAugment,
  IDENTITY_DRAW,
  inverseMatrix,
  resampleImages,
  resamplePlan,
} from '../src/index.ts';
import { f64, npz } from './fixtures.ts';

const Z = npz('augment.npz');

// float32 GPU against float64 PyTorch, as max |error| / max |ref|. Measured (lavapipe): 3e-7 for
// the identity, flips and the clamped zoom-out, up to 4.8e-6 for rotated and scaled images. The
// larger figure is the float32 source coordinate: up to ~100 px into the 2x upsampled image, so
// its ulp is 7.6e-6 px, times the slope of noise images (~0.5 per px). AUG_REPORT=1 prints them.
const RTOL = 1e-5;

const shapeOf = (key: string) => (Z.get(key) as { shape: number[] }).shape;

function drawsOf(rows: Float64Array): AugmentDraw[] {
  const out: AugmentDraw[] = [];
  for (let b = 0; b < rows.length / 8; b++) {
    const r = Array.from(rows.subarray(8 * b, 8 * b + 8));
    out.push({
      xflip: r[0] ? 1 : 0,
      yflip: r[1] ? 1 : 0,
      scale: r[2] as number,
      rotate: r[3] as number,
      aniso: r[4] as number,
      anisoAngle: r[5] as number,
      tx: r[6] as number,
      ty: r[7] as number,
    });
  }
  return out;
}

function matricesOf(flat: Float64Array): number[][] {
  return Array.from({ length: flat.length / 9 }, (_, b) =>
    Array.from(flat.subarray(9 * b, 9 * b + 9)),
  );
}

describe('augmentation draws and labels (CPU)', () => {
  it('labels: the 9-value layout of SPEC 7.7', () => {
    const d: AugmentDraw = {
      xflip: 1,
      yflip: 0,
      scale: 0.5,
      rotate: 0.3,
      aniso: -1.2,
      anisoAngle: 2.0,
      tx: 0.25,
      ty: -0.75,
    };
    const l = augmentLabels([IDENTITY_DRAW, d]);
    expect(l.length).toBe(2 * AUGMENT_DIM);
    expect(Array.from(l.subarray(0, 9))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const want = [
      1,
      0,
      0.5,
      Math.cos(0.3) - 1,
      Math.sin(0.3),
      -1.2 * Math.cos(2),
      -1.2 * Math.sin(2),
      0.25,
      -0.75,
    ];
    for (let i = 0; i < 9; i++) expect(l[9 + i]).toBeCloseTo(want[i] as number, 15);
  });

  it('labels match the fixture for the given draws', () => {
    for (const name of ['draw_rgb16', 'draw_gray11x13', 'draw_identity16', 'draw_xflip9']) {
      const l = augmentLabels(drawsOf(f64(Z, `${name}.draws`)));
      const ref = f64(Z, `${name}.labels`);
      for (let i = 0; i < ref.length; i++) expect(l[i]).toBeCloseTo(ref[i] as number, 14);
    }
  });

  it('the margins match PyTorch, including the clamp to size - 1', () => {
    for (const name of [
      'mat_rgb16',
      'mat_gray11x13',
      'mat_clamp8',
      'draw_rgb16',
      'draw_gray11x13',
    ]) {
      const [B, , H, W] = shapeOf(`${name}.images`) as [number, number, number, number];
      const ginv = name.startsWith('mat')
        ? matricesOf(f64(Z, `${name}.ginv`))
        : drawsOf(f64(Z, `${name}.draws`)).map((d) => inverseMatrix(d, W, H));
      expect(ginv.length).toBe(B);
      const { margins, gridSize } = resamplePlan(ginv, W, H);
      const ref = Array.from(f64(Z, `${name}.margins`));
      expect([margins.left, margins.right, margins.top, margins.bottom], name).toEqual(ref);
      expect(gridSize).toEqual([2 * H + 12, 2 * W + 12]);
    }
  });

  it('p = 0 applies nothing; labels are zero exactly where a transform is not applied', () => {
    // The anisotropy axis is drawn regardless (as in EDM); with no anisotropy it changes nothing.
    const none = drawAugment(64, 0, { seed: 5, step: 3 });
    for (const d of none) expect({ ...d, anisoAngle: 0 }).toEqual(IDENTITY_DRAW);
    expect(Array.from(augmentLabels(none)).every((v) => v === 0)).toBe(true);
    const draws = drawAugment(2000, 0.5, { seed: 11, step: 0 });
    const labels = augmentLabels(draws);
    draws.forEach((d, b) => {
      const l = labels.subarray(b * 9, b * 9 + 9);
      expect(l[0]).toBe(d.xflip);
      expect(l[1]).toBe(d.yflip);
      const zero = (...v: (number | undefined)[]) => v.every((x) => x === 0);
      if (d.scale === 0) expect(zero(l[2])).toBe(true);
      if (d.rotate === 0) expect(zero(l[3], l[4])).toBe(true);
      if (d.aniso === 0) expect(zero(l[5], l[6])).toBe(true);
      if (d.tx === 0) expect(zero(l[7], l[8])).toBe(true);
      // A transform not applied draws nothing else: translation shifts both axes or neither.
      expect(d.tx === 0).toBe(d.ty === 0);
    });
  });

  it('application rates: xflip 1/2 at any p > 0, yflip p/2, the geometric ones p', () => {
    const n = 4000;
    // Binomial standard deviation at most sqrt(0.25 / 4000) = 0.0079: allow 5 of them.
    const tol = 0.04;
    for (const p of [0.5, 1]) {
      const draws = drawAugment(n, p, { seed: 1234, step: 7 });
      const rate = (f: (d: AugmentDraw) => boolean) => draws.filter(f).length / n;
      expect(rate((d) => d.xflip === 1)).toBeCloseTo(0.5, 1);
      expect(Math.abs(rate((d) => d.xflip === 1) - 0.5)).toBeLessThan(tol);
      expect(Math.abs(rate((d) => d.yflip === 1) - p / 2)).toBeLessThan(tol);
      expect(Math.abs(rate((d) => d.scale !== 0) - p)).toBeLessThan(tol);
      expect(Math.abs(rate((d) => d.rotate !== 0) - p)).toBeLessThan(tol);
      expect(Math.abs(rate((d) => d.aniso !== 0) - p)).toBeLessThan(tol);
      expect(Math.abs(rate((d) => d.tx !== 0) - p)).toBeLessThan(tol);
      // The anisotropy axis is rotated half the time, whether or not aniso is applied.
      expect(Math.abs(rate((d) => d.anisoAngle !== 0) - 0.5)).toBeLessThan(tol);
      // Values: xi ~ N(0, 1), theta ~ U(-pi, pi).
      const xs = draws.filter((d) => d.scale !== 0).map((d) => d.scale);
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length;
      expect(Math.abs(m)).toBeLessThan(0.1);
      expect(Math.abs(v - 1)).toBeLessThan(0.1);
      const th = draws.filter((d) => d.rotate !== 0).map((d) => d.rotate);
      expect(Math.max(...th)).toBeLessThanOrEqual(Math.PI);
      expect(Math.min(...th)).toBeGreaterThanOrEqual(-Math.PI);
      expect(
        Math.abs(th.reduce((a, b) => a + Math.abs(b), 0) / th.length - Math.PI / 2),
      ).toBeLessThan(0.1);
    }
  });

  it('draws are a function of (seed, step, image index) only', () => {
    const a = drawAugment(16, 0.5, { seed: 3, step: 9 });
    expect(drawAugment(16, 0.5, { seed: 3, step: 9 })).toEqual(a);
    // Image k does not depend on the batch it is drawn in.
    expect(drawAugment(6, 0.5, { seed: 3, step: 9 }, 10)).toEqual(a.slice(10));
    expect(drawAugment(16, 0.5, { seed: 3, step: 10 })).not.toEqual(a);
    expect(drawAugment(16, 0.5, { seed: 4, step: 9 })).not.toEqual(a);
  });

  it('refuses p outside [0, 1]', () => {
    expect(() => drawAugment(1, -0.1, { seed: 0, step: 0 })).toThrow(/p must be in \[0, 1\]/);
    expect(() => drawAugment(1, 1.5, { seed: 0, step: 0 })).toThrow(/p must be in \[0, 1\]/);
    expect(() => drawAugment(1, Number.NaN, { seed: 0, step: 0 })).toThrow(/p must be in/);
  });
});

describe.skipIf(GPU_SKIP_REASON)('augmentation on the GPU', () => {
  beforeAll(async () => {
    await testGpu();
  });

  it('resampling with given matrices and flips matches PyTorch', async () => {
    for (const name of ['mat_rgb16', 'mat_gray11x13', 'mat_clamp8']) {
      const shape = shapeOf(`${name}.images`);
      const got = await scope(() =>
        resampleImages(
          tensor(f64(Z, `${name}.images`), shape),
          matricesOf(f64(Z, `${name}.ginv`)),
          f64(Z, `${name}.flips`),
        ),
      ).read();
      const err = expectCloseToScale(got, f64(Z, `${name}.out`), RTOL, name);
      if (process.env.AUG_REPORT) console.log(name, err);
    }
  });

  it('the full pipeline from given draws matches PyTorch (matrices, flips, labels)', async () => {
    for (const name of ['draw_rgb16', 'draw_gray11x13', 'draw_identity16', 'draw_xflip9']) {
      const shape = shapeOf(`${name}.images`);
      const { images, labels } = applyAugment(
        tensor(f64(Z, `${name}.images`), shape),
        drawsOf(f64(Z, `${name}.draws`)),
      );
      expect(images.shape).toEqual(shape);
      expect(labels.shape).toEqual([shape[0], 9]);
      const err = expectCloseToScale(await images.read(), f64(Z, `${name}.out`), RTOL, name);
      if (process.env.AUG_REPORT) console.log(name, err);
      expectCloseToScale(await labels.read(), f64(Z, `${name}.labels`), 1e-7, `${name} labels`);
      images.dispose();
      labels.dispose();
    }
  });

  it('p = 0 is a near-identity round trip (max change ~1e-5); x-flips alone are exact mirrors', async () => {
    const [B, C, H, W] = [4, 3, 16, 16];
    const x = Float64Array.from({ length: B * C * H * W }, (_, i) => Math.sin(i * 0.37) * 0.9);
    const xt = tensor(x, [B, C, H, W]);
    const { images, labels, draws } = augmentPipe(xt, 0, { seed: 1, step: 0 });
    expect(draws.every((d) => d.xflip === 0)).toBe(true);
    expect(Array.from(await labels.read()).every((v) => v === 0)).toBe(true);
    const same = await images.read();
    let maxChange = 0;
    for (let i = 0; i < x.length; i++)
      maxChange = Math.max(maxChange, Math.abs((same[i] as number) - (x[i] as number)));
    expect(maxChange).toBeLessThan(1e-5);
    if (process.env.AUG_REPORT) console.log('p=0 max change', maxChange);
    const mirror = { ...IDENTITY_DRAW, xflip: 1 as const };
    const flipped = applyAugment(xt, [
      mirror,
      IDENTITY_DRAW,
      mirror,
      { ...IDENTITY_DRAW, yflip: 1 },
    ]);
    const got = await flipped.images.read();
    const want = new Float64Array(x.length);
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++)
        for (let i = 0; i < H; i++)
          for (let j = 0; j < W; j++) {
            const [si, sj] = b === 3 ? [H - 1 - i, j] : b % 2 === 0 ? [i, W - 1 - j] : [i, j];
            want[((b * C + c) * H + i) * W + j] = x[((b * C + c) * H + si) * W + sj] as number;
          }
    const flipErr = expectCloseToScale(got, want, 1e-5, 'flips');
    if (process.env.AUG_REPORT) console.log('flip error', flipErr);
    for (const t of [xt, images, labels, flipped.images, flipped.labels]) t.dispose();
  });
});
