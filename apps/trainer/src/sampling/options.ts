/**
 * The sampling options that generate.py and its robustness variants share (SPEC 1.2-1.4):
 * seeds, batch, class, and the EDM / ablation sampler settings, parsed once for every command.
 */
import type { AblationSamplerConfig, EdmSamplerConfig } from '@pfgmpp/pfgmpp';
import { type OptionSpec, type OptionValues, UsageError } from '../cli.ts';

export const SAMPLING_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'seeds',
    kind: 'string',
    value: 'LIST',
    help: 'seeds, e.g. 0-63 or 1,5,10-20 (default 0-63)',
  },
  {
    name: 'subdirs',
    kind: 'flag',
    help: 'put images in subfolders of 1000 seeds (always so when sampling a run folder)',
  },
  {
    name: 'class',
    kind: 'int',
    value: 'C',
    help: 'class label for every image (conditional nets; default random per seed)',
  },
  { name: 'batch', kind: 'int', value: 'N', help: 'images per network evaluation (default 64)' },
  { name: 'steps', kind: 'int', value: 'N', help: 'sampling steps (default 18; NFE = 2N - 1)' },
  {
    name: 'sigma_min',
    kind: 'float',
    value: 'S',
    help: 'lowest noise level (default 0.002; ablation: per discretization)',
  },
  {
    name: 'sigma_max',
    kind: 'float',
    value: 'S',
    help: 'highest noise level (default 80; ablation: per discretization)',
  },
  { name: 'rho', kind: 'float', value: 'R', help: 'time-step exponent (default 7)' },
  { name: 'S_churn', kind: 'float', value: 'S', help: 'stochasticity strength (default 0)' },
  { name: 'S_min', kind: 'float', value: 'S', help: 'stochastic range start (default 0)' },
  {
    name: 'S_max',
    kind: 'float',
    value: 'S',
    help: 'stochastic range end (default inf; 0 when sampling a run folder, as PFGM++)',
  },
  {
    name: 'S_noise',
    kind: 'float',
    value: 'S',
    help: 'noise inflation (default 1; 0 when sampling a run folder, as PFGM++)',
  },
  {
    name: 'solver',
    kind: 'string',
    value: 'NAME',
    choices: ['euler', 'heun'],
    help: 'ablation sampler: ODE solver',
  },
  {
    name: 'disc',
    kind: 'string',
    value: 'NAME',
    choices: ['vp', 've', 'iddpm', 'edm'],
    help: 'ablation sampler: time discretization',
  },
  {
    name: 'schedule',
    kind: 'string',
    value: 'NAME',
    choices: ['vp', 've', 'linear'],
    help: 'ablation sampler: noise schedule',
  },
  {
    name: 'scaling',
    kind: 'string',
    value: 'NAME',
    choices: ['vp', 'none'],
    help: 'ablation sampler: signal scaling',
  },
];

/** "0-3,7" -> [0, 1, 2, 3, 7]. */
export function parseSeeds(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UsageError(`--seeds must look like 0-63 or 1,5,10-20; got '${text}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new UsageError(`--seeds range ${part} is reversed`);
    if (b - a > 1e7) throw new UsageError(`--seeds range ${part} is too long`);
    for (let s = a; s <= b; s++) out.push(s);
  }
  if (out.some((s) => s >= 2 ** 32)) throw new UsageError('--seeds must be below 2^32');
  return out;
}

/** --aug_dim: an integer >= 2, or 'inf' where `allowInf` (diffusion). */
export function parseD(text: string | undefined, fallback: number, allowInf = true): number {
  if (text === undefined) return fallback;
  if (text === 'inf' && allowInf) return Number.POSITIVE_INFINITY;
  const D = Number(text);
  if (!Number.isInteger(D) || D < 2)
    throw new UsageError(
      `--aug_dim must be an integer >= 2${allowInf ? " or 'inf'" : ''}; got '${text}'`,
    );
  return D;
}

export function parseBatch(v: OptionValues): number {
  const batch = (v.batch as number | undefined) ?? 64;
  if (batch < 1) throw new UsageError('--batch must be >= 1');
  return batch;
}

export interface SamplerChoice {
  /** Any of --solver, --disc, --schedule, --scaling selects the ablation sampler. */
  ablation: boolean;
  edm: Partial<EdmSamplerConfig>;
  ablationConfig: Partial<AblationSamplerConfig>;
}

/**
 * The sampler settings given on the command line. `runFolder`: PFGM++ generate.py's defaults
 * S_max = 0, S_noise = 0 (SPEC 1.3) and its VP range constant 19.1 (SPEC 13.14).
 */
export function samplerChoice(v: OptionValues, runFolder: boolean): SamplerChoice {
  if (v.steps !== undefined && (v.steps as number) < 1)
    throw new UsageError('--steps must be >= 1');
  const S_max = (v.S_max as number | undefined) ?? (runFolder ? 0 : undefined);
  const S_noise = (v.S_noise as number | undefined) ?? (runFolder ? 0 : undefined);
  const edm: Partial<EdmSamplerConfig> = {
    ...(v.steps !== undefined && { numSteps: v.steps as number }),
    ...(v.sigma_min !== undefined && { sigmaMin: v.sigma_min as number }),
    ...(v.sigma_max !== undefined && { sigmaMax: v.sigma_max as number }),
    ...(v.rho !== undefined && { rho: v.rho as number }),
    ...(v.S_churn !== undefined && { S_churn: v.S_churn as number }),
    ...(v.S_min !== undefined && { S_min: v.S_min as number }),
    ...(S_max !== undefined && { S_max }),
    ...(S_noise !== undefined && { S_noise }),
  };
  const ablationConfig: Partial<AblationSamplerConfig> = {
    ...edm,
    ...(v.solver !== undefined && { solver: v.solver as AblationSamplerConfig['solver'] }),
    ...(v.disc !== undefined && {
      discretization: v.disc as AblationSamplerConfig['discretization'],
    }),
    ...(v.schedule !== undefined && { schedule: v.schedule as AblationSamplerConfig['schedule'] }),
    ...(v.scaling !== undefined && { scaling: v.scaling as AblationSamplerConfig['scaling'] }),
    ...(runFolder && { vpDefaultBetaD: 19.1 }),
  };
  const ablation = ['solver', 'disc', 'schedule', 'scaling'].some((k) => v[k] !== undefined);
  return { ablation, edm, ablationConfig };
}
