/**
 * What the page exposes on `window.viewer`: its state and the last run's pixels. The test reads
 * it to wait for the page and to compare the images with Node's; people can read it in the
 * console. Plain data only (it crosses the Playwright boundary).
 */
import type { RadiusSummary } from './explainer.ts';
import type { NetworkInfo } from './network.ts';

export interface RunResult {
  seeds: number[];
  /** D actually used (Infinity does not survive JSON; null means diffusion). */
  D: number | null;
  steps: number;
  shape: [number, number, number, number];
  /** Final samples as float32 values, NCHW. */
  x: number[];
  /** The uint8 pixels drawn, NCHW (generate.py's PNG rounding). */
  pixels: number[];
  /** Columns of each trajectory strip (one per step). */
  columns: number;
  zoom: { final: number; strip: number };
  nfe: number;
  ms: number;
  /** 'edm' or 'ablation', and the settings that chose it. */
  sampler: 'edm' | 'ablation';
  /** Bits of the weight quantization used, null for float32. */
  quant: number | null;
  /** The uint8 pixels of x after each step (NCHW), for the step slider. */
  stepPixels: number[][];
  /** The sampler's time at the end of each step. */
  times: number[];
  /** Step (1-based) shown on the grid canvas now. */
  shownStep: number;
}

export interface ViewerState {
  status: 'starting' | 'loading' | 'ready' | 'sampling' | 'done' | 'error';
  adapter: string | null;
  error: string | null;
  info: (Omit<NetworkInfo, 'D'> & { D: number | null }) | null;
  result: RunResult | null;
  /** The explainer panel's figures once drawn. */
  radius: RadiusSummary | null;
}

declare global {
  interface Window {
    viewer: ViewerState;
  }
}

export const state: ViewerState = {
  status: 'starting',
  adapter: null,
  error: null,
  info: null,
  result: null,
  radius: null,
};
window.viewer = state;
