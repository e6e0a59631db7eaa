/**
 * The PFGM++ explainer panel: histograms of the starting radius for the chosen D and for
 * diffusion (D -> infinity), from kernel samples, with the exact densities drawn over them.
 */
import { formatD } from './params.ts';
import { density, histogram, kernelRadii, quantile } from './radius.ts';

export const SAMPLES = 4096;
const BINS = 64;
const COLORS = { pfgmpp: '#2a6fdb', gaussian: '#777' };

export interface RadiusSummary {
  N: number;
  /** null: diffusion only. */
  D: number | null;
  samples: number;
  /** Sample mean of rho^2 for D, and the exact D / (D - 2) (null for D = 2 or diffusion). */
  meanSqD: number | null;
  exactMeanSqD: number | null;
  meanSqGaussian: number;
  /** Ends of the plot and the D samples past the right one. */
  lo: number;
  hi: number;
  beyond: number;
}

const meanSq = (v: Float64Array) => v.reduce((a, x) => a + x * x, 0) / v.length;

export async function drawRadiusPanel(
  canvas: HTMLCanvasElement,
  N: number,
  D: number,
): Promise<RadiusSummary> {
  const gauss = await kernelRadii(N, Number.POSITIVE_INFINITY, SAMPLES, 1);
  const pf = Number.isFinite(D) ? await kernelRadii(N, D, SAMPLES, 2) : null;
  // Room for the bulk of the heavy-tailed D samples, but never so wide the Gaussian is a line.
  const hi = Math.min(
    6,
    Math.max(1.6, 1.1 * quantile(gauss, 0.999), pf ? 1.15 * quantile(pf, 0.98) : 0),
  );
  // Left end: just below the smallest radii drawn (radii near 0 are vanishingly rare for N > 2).
  const low = Math.min(quantile(gauss, 0.001), pf ? quantile(pf, 0.001) : 1);
  const lo = Math.max(0, Math.floor(10 * 0.9 * low) / 10);
  const hG = histogram(gauss, lo, hi, BINS);
  const hD = pf ? histogram(pf, lo, hi, BINS) : null;
  const xs = Array.from({ length: 400 }, (_, i) => lo + ((i + 0.5) * (hi - lo)) / 400);
  const dG = density(xs, N, Number.POSITIVE_INFINITY);
  const dD = pf ? density(xs, N, D) : null;

  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const W = canvas.width;
  const H = canvas.height;
  const pad = { l: 36, r: 8, t: 8, b: 28 };
  const top = Math.max(...hG.heights, ...(hD?.heights ?? []), ...dG, ...(dD ?? [])) * 1.05;
  const px = (x: number) => pad.l + ((x - lo) / (hi - lo)) * (W - pad.l - pad.r);
  const py = (y: number) => H - pad.b - (y / top) * (H - pad.t - pad.b);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  const bars = (h: typeof hG, color: string) => {
    ctx.fillStyle = color;
    ctx.globalAlpha = 0.35;
    const w = (W - pad.l - pad.r) / BINS;
    h.heights.forEach((v, i) => {
      const x = px(lo + (i * (hi - lo)) / BINS);
      ctx.fillRect(x, py(v), Math.max(w - 0.5, 0.5), py(0) - py(v));
    });
    ctx.globalAlpha = 1;
  };
  const curve = (d: number[], color: string) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    xs.forEach((x, i) => {
      const y = py(d[i] as number);
      if (i === 0) ctx.moveTo(px(x), y);
      else ctx.lineTo(px(x), y);
    });
    ctx.stroke();
  };
  bars(hG, COLORS.gaussian);
  curve(dG, COLORS.gaussian);
  if (hD && dD) {
    bars(hD, COLORS.pfgmpp);
    curve(dD, COLORS.pfgmpp);
  }
  // Axes with ticks at whole and half units of rho.
  ctx.strokeStyle = '#333';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(pad.l, pad.t);
  ctx.lineTo(pad.l, py(0));
  ctx.lineTo(W - pad.r, py(0));
  ctx.stroke();
  ctx.fillStyle = '#333';
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center';
  const step = hi - lo > 3 ? 1 : hi - lo > 1.2 ? 0.5 : 0.1;
  for (let j = Math.ceil(lo / step - 1e-9); j * step <= hi + 1e-9; j++)
    ctx.fillText(String(Number((j * step).toFixed(1))), px(j * step), H - pad.b + 13);
  ctx.fillText('r / (σ √N)', (pad.l + W - pad.r) / 2, H - 3);
  ctx.textAlign = 'left';
  ctx.fillStyle = COLORS.gaussian;
  ctx.fillText('D = ∞ (diffusion)', pad.l + 8, pad.t + 12);
  if (pf) {
    ctx.fillStyle = COLORS.pfgmpp;
    ctx.fillText(`D = ${formatD(D)} (PFGM++)`, pad.l + 8, pad.t + 26);
  }
  return {
    N,
    D: pf ? D : null,
    samples: SAMPLES,
    meanSqD: pf ? meanSq(pf) : null,
    exactMeanSqD: pf && D > 2 ? D / (D - 2) : null,
    meanSqGaussian: meanSq(gauss),
    lo,
    hi,
    beyond: hD?.beyond ?? 0,
  };
}
