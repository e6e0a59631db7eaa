/**
 * Preconditioning wrappers (SPEC 4): D(x; sigma) = c_skip x + c_out F(c_in x; c_noise, labels).
 * The formulas are identical for every PFGM++ D (EDM's sigma is the PFGM++ r / sqrt(D)); EDMPrecond
 * carries D and N = C*H*W for samplers, VEPrecond accepts `pfgmpp`/`D` but keeps neither, as the
 * original. Float32 throughout, like the official forward.
 */
import {
  add,
  broadcastTo,
  div,
  gt,
  keep,
  log,
  mul,
  reshape,
  rsqrt,
  slice,
  sqrt,
  square,
  sum,
  type Tensor,
  tensor,
  zeros,
} from '@pfgmpp/tensor';
import { DhariwalUNet, type DhariwalUNetConfig } from './dhariwal-unet.ts';
import { NnError } from './errors.ts';
import { Module, type Slot } from './module.ts';
import { SongUNet, type SongUNetConfig, type UNet } from './song-unet.ts';

const f32 = Math.fround;

/** The official constructor keywords: precond attributes plus the U-Net's own. */
export interface PrecondKwargs {
  img_resolution: number;
  img_channels: number;
  label_dim?: number;
  use_fp16?: boolean;
  model_type?: 'SongUNet' | 'DhariwalUNet';
  [modelKwarg: string]: unknown;
}

/** c_skip, c_out, c_in as [B, 1, 1, 1] and c_noise as [B]. */
export interface Coefficients {
  cSkip: Tensor | number;
  cOut: Tensor;
  cIn: Tensor;
  cNoise: Tensor;
}

const PRECOND_KEYS = [
  'img_resolution',
  'img_channels',
  'label_dim',
  'use_fp16',
  'model_type',
  'sigma_min',
  'sigma_max',
  'sigma_data',
  'beta_d',
  'beta_min',
  'M',
  'epsilon_t',
  'C_1',
  'C_2',
  'pfgmpp',
  'D',
];

function buildUNet(kw: PrecondKwargs, outChannels: number): UNet {
  const modelType = kw.model_type ?? 'DhariwalUNet';
  const model: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kw)) if (!PRECOND_KEYS.includes(k)) model[k] = v;
  const common = {
    img_resolution: kw.img_resolution,
    in_channels: kw.img_channels,
    out_channels: outChannels,
    label_dim: kw.label_dim ?? 0,
  };
  if (modelType === 'SongUNet')
    return new SongUNet({ ...(model as Partial<SongUNetConfig>), ...common });
  if (modelType === 'DhariwalUNet')
    return new DhariwalUNet({ ...(model as Partial<DhariwalUNetConfig>), ...common });
  throw new NnError(`model_type must be SongUNet or DhariwalUNet, got ${String(modelType)}`);
}

export abstract class Precond extends Module {
  readonly imgResolution: number;
  readonly imgChannels: number;
  readonly labelDim: number;
  abstract readonly sigmaMin: number;
  abstract readonly sigmaMax: number;
  readonly model: UNet;

  constructor(
    readonly kwargs: PrecondKwargs,
    outChannels = kwargs.img_channels,
  ) {
    super();
    this.imgResolution = kwargs.img_resolution;
    this.imgChannels = kwargs.img_channels;
    this.labelDim = kwargs.label_dim ?? 0;
    this.model = buildUNet(kwargs, outChannels);
  }

  /** Registers the U-Net after the precond's own buffers (state-dict order). */
  protected attachModel(): void {
    this.child('model', this.model);
  }

  abstract get className(): string;

  /** The nearest sigma the network supports (identity except iDDPM's table). */
  roundSigma(sigma: number): number {
    return sigma;
  }

  /** sigma [B, 1, 1, 1] -> c_skip, c_out, c_in [B, 1, 1, 1] and c_noise [B]. */
  abstract coefficients(sigma: Tensor): Coefficients;

  /** The U-Net's raw output for the first img_channels channels (iDDPM predicts 2C). */
  protected modelOutput(F: Tensor): Tensor {
    return F;
  }

  /**
   * D(x; sigma). x [B, C, H, W]; sigma a number, [1] or [B] (any shape with B or 1 elements);
   * class labels [B, label_dim] (zeros when the net is conditional and none are given);
   * augment labels [B, augment_dim] or none.
   */
  forward(
    x: Tensor,
    sigma: Tensor | number,
    classLabels: Tensor | null = null,
    augmentLabels: Tensor | null = null,
  ): Tensor {
    const [B, C, H, W] = x.shape as [number, number, number, number];
    if (
      x.rank !== 4 ||
      C !== this.imgChannels ||
      H !== this.imgResolution ||
      W !== this.imgResolution
    ) {
      throw new NnError(
        `${this.className}: x must be [B, ${this.imgChannels}, ${this.imgResolution}, ${this.imgResolution}], got [${x.shape.join(', ')}]`,
      );
    }
    const s0 = typeof sigma === 'number' ? tensor([sigma]) : sigma;
    if (s0.size !== 1 && s0.size !== B) {
      throw new NnError(`${this.className}: sigma has ${s0.size} values for a batch of ${B}`);
    }
    const s =
      s0.size === B
        ? reshape(s0, [B, 1, 1, 1])
        : broadcastTo(reshape(s0, [1, 1, 1, 1]), [B, 1, 1, 1]);
    let labels: Tensor | null = null;
    if (this.labelDim) {
      labels = classLabels ? reshape(classLabels, [B, this.labelDim]) : zeros([B, this.labelDim]);
    }
    const c = this.coefficients(s);
    const F = this.model.forward(mul(x, c.cIn), c.cNoise, labels, augmentLabels);
    const out = mul(this.modelOutput(F), c.cOut);
    return add(mul(x, c.cSkip), out);
  }

  /** The plain attributes samplers and checkpoints read. */
  attributes(): Record<string, unknown> {
    return {
      img_resolution: this.imgResolution,
      img_channels: this.imgChannels,
      label_dim: this.labelDim,
      sigma_min: this.sigmaMin,
      sigma_max: this.sigmaMax,
    };
  }
}

/** EDM's preconditioning (sigma_data 0.5); PFGM++ stores D and N = C*H*W here. */
export class EDMPrecond extends Precond {
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  readonly sigmaData: number;
  readonly pfgmpp: boolean;
  /** PFGM++'s augmented dimensions (Infinity: diffusion). Not used by forward. */
  readonly D: number;
  readonly N: number;

  constructor(kw: PrecondKwargs) {
    super(kw);
    this.sigmaMin = num(kw.sigma_min, 0);
    this.sigmaMax = num(kw.sigma_max, Number.POSITIVE_INFINITY);
    this.sigmaData = num(kw.sigma_data, 0.5);
    this.pfgmpp = kw.pfgmpp === true;
    this.D = num(kw.D, 128);
    this.N = kw.img_channels * kw.img_resolution ** 2;
    this.attachModel();
  }

  get className(): string {
    return 'EDMPrecond';
  }

  coefficients(sigma: Tensor): Coefficients {
    const sd = this.sigmaData;
    const s2 = add(square(sigma), sd * sd); // sigma^2 + sigma_data^2
    const cIn = rsqrt(s2);
    return {
      cSkip: div(sd * sd, s2), // a constant fill, no upload
      cOut: mul(mul(sigma, cIn), sd),
      cIn,
      cNoise: mul(log(reshape(sigma, [sigma.shape[0] as number])), 0.25),
    };
  }

  override attributes(): Record<string, unknown> {
    return {
      ...super.attributes(),
      sigma_data: this.sigmaData,
      pfgmpp: this.pfgmpp,
      D: this.D,
      N: this.N,
    };
  }
}

/** Variance-exploding: c_in 1, c_out sigma, c_noise ln(sigma / 2). */
export class VEPrecond extends Precond {
  readonly sigmaMin: number;
  readonly sigmaMax: number;

  constructor(kw: PrecondKwargs) {
    super(kw);
    this.sigmaMin = num(kw.sigma_min, 0.02);
    this.sigmaMax = num(kw.sigma_max, 100);
    this.attachModel();
  }

  get className(): string {
    return 'VEPrecond';
  }

  coefficients(sigma: Tensor): Coefficients {
    return {
      cSkip: 1,
      cOut: sigma,
      cIn: add(mul(sigma, 0), 1),
      cNoise: log(mul(reshape(sigma, [sigma.shape[0] as number]), 0.5)),
    };
  }
}

/** Variance-preserving (DDPM++ with the VP schedule): c_noise = (M - 1) sigma_VP^-1(sigma). */
export class VPPrecond extends Precond {
  readonly betaD: number;
  readonly betaMin: number;
  readonly M: number;
  readonly epsilonT: number;
  readonly sigmaMin: number;
  readonly sigmaMax: number;

  constructor(kw: PrecondKwargs) {
    super(kw);
    this.betaD = num(kw.beta_d, 19.9);
    this.betaMin = num(kw.beta_min, 0.1);
    this.M = num(kw.M, 1000);
    this.epsilonT = num(kw.epsilon_t, 1e-5);
    this.sigmaMin = this.sigmaF32(this.epsilonT);
    this.sigmaMax = this.sigmaF32(1);
    this.attachModel();
  }

  get className(): string {
    return 'VPPrecond';
  }

  /** sigma(t) = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1), in float32 as the original's attributes. */
  sigmaF32(t: number): number {
    const tt = f32(t);
    const e = f32(f32(f32(f32(0.5 * this.betaD) * f32(tt * tt)) + f32(this.betaMin * tt)));
    return f32(Math.sqrt(f32(f32(Math.exp(e)) - 1)));
  }

  coefficients(sigma: Tensor): Coefficients {
    const B = sigma.shape[0] as number;
    const s2 = square(reshape(sigma, [B]));
    // sigma^-1(sigma) = (sqrt(beta_min^2 + 2 beta_d ln(1 + sigma^2)) - beta_min) / beta_d
    const inner = sqrt(add(mul(log(add(s2, 1)), 2 * this.betaD), this.betaMin ** 2));
    const t = mul(add(inner, -this.betaMin), 1 / this.betaD);
    return {
      cSkip: 1,
      cOut: mul(sigma, -1),
      cIn: rsqrt(add(square(sigma), 1)),
      cNoise: mul(t, this.M - 1),
    };
  }

  override attributes(): Record<string, unknown> {
    return {
      ...super.attributes(),
      beta_d: this.betaD,
      beta_min: this.betaMin,
      M: this.M,
      epsilon_t: this.epsilonT,
    };
  }
}

/** iDDPM's table u_0 > ... > u_M = 0, computed in float32 as the original's buffer. */
export function iddpmTable(M: number, C1: number, C2: number): Float32Array {
  const alphaBar = (j: number) =>
    f32(f32(Math.sin(f32(f32(f32(f32(0.5 * Math.PI) * j) / M) / f32(C2 + 1)))) ** 2);
  const u = new Float32Array(M + 1);
  for (let j = M; j > 0; j--) {
    const ratio = Math.max(f32(alphaBar(j - 1) / alphaBar(j)), f32(C1));
    u[j - 1] = f32(Math.sqrt(f32(f32(f32((u[j] as number) ** 2) + 1) / ratio) - 1));
  }
  return u;
}

/** Improved DDPM (the converted ImageNet-64 ADM): the U-Net predicts 2C channels, c_noise is a table index. */
export class iDDPMPrecond extends Precond {
  readonly C1: number;
  readonly C2: number;
  readonly M: number;
  readonly u: Slot;
  private table: Float32Array;
  /** (u_j + u_{j+1}) / 2 as [1, M] on the GPU, uploaded once per table. */
  private mids: Tensor | null = null;

  constructor(kw: PrecondKwargs) {
    super(kw, kw.img_channels * 2);
    this.C1 = num(kw.C_1, 0.001);
    this.C2 = num(kw.C_2, 0.008);
    this.M = num(kw.M, 1000);
    this.table = iddpmTable(this.M, this.C1, this.C2);
    this.u = this.buffer('u', [this.M + 1], { kind: 'data', values: this.table });
    this.attachModel();
  }

  get className(): string {
    return 'iDDPMPrecond';
  }

  get sigmaMin(): number {
    return this.table[this.M - 1] as number;
  }

  get sigmaMax(): number {
    return this.table[0] as number;
  }

  /** Index of the nearest table entry (the first on ties, as argmin). */
  roundIndex(sigma: number): number {
    let best = 0;
    for (let j = 1; j <= this.M; j++) {
      if (
        Math.abs(sigma - (this.table[j] as number)) < Math.abs(sigma - (this.table[best] as number))
      )
        best = j;
    }
    return best;
  }

  override roundSigma(sigma: number): number {
    return this.table[this.roundIndex(sigma)] as number;
  }

  coefficients(sigma: Tensor): Coefficients {
    const B = sigma.shape[0] as number;
    // The table decreases, so the nearest index is the number of midpoints above sigma.
    const above = sum(gt(this.midpoints(), reshape(sigma, [B, 1])), 1); // [B]
    return {
      cSkip: 1,
      cOut: mul(sigma, -1),
      cIn: rsqrt(add(square(sigma), 1)),
      cNoise: add(mul(above, -1), this.M - 1),
    };
  }

  private midpoints(): Tensor {
    if (!this.mids || this.mids.disposed) {
      const mids = new Float32Array(this.M);
      for (let j = 0; j < this.M; j++)
        mids[j] = ((this.table[j] as number) + (this.table[j + 1] as number)) / 2;
      this.mids = keep(tensor(mids, [1, this.M]));
    }
    return this.mids;
  }

  protected override modelOutput(F: Tensor): Tensor {
    const [B, , H, W] = F.shape as [number, number, number, number];
    return slice(F, [0, 0, 0, 0], [B, this.imgChannels, H, W]);
  }

  override loadStateDict(...args: Parameters<Module['loadStateDict']>) {
    const report = super.loadStateDict(...args);
    const u = args[0].get(`${args[1]?.prefix ?? ''}u`);
    if (u && u.data.length === this.M + 1) {
      this.table = Float32Array.from(u.data);
      this.mids?.dispose();
      this.mids = null;
    }
    return report;
  }

  override attributes(): Record<string, unknown> {
    return { ...super.attributes(), C_1: this.C1, C_2: this.C2, M: this.M };
  }
}

function num(v: unknown, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (v === 'inf' || v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (typeof v !== 'number' || Number.isNaN(v))
    throw new NnError(`expected a number, got ${JSON.stringify(v)}`);
  return v;
}

export const PRECONDS = { EDMPrecond, VEPrecond, VPPrecond, iDDPMPrecond } as const;
export type PrecondName = keyof typeof PRECONDS;

/** Builds a preconditioned network from the official class name and `_init_kwargs`. */
export function buildPrecond(className: string, kwargs: PrecondKwargs): Precond {
  const cls = PRECONDS[className as PrecondName];
  if (!cls)
    throw new NnError(
      `unknown network class ${className}; valid: ${Object.keys(PRECONDS).join(', ')}`,
    );
  return new cls(kwargs);
}
