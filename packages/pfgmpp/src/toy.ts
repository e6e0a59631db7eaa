/**
 * The toy problem of the PFGM++ notebook (SPEC 11): 2,000 points in 1,000-D from a two-cluster
 * 10-D latent, a width-32 MLP denoiser trained with the EDM loss (sigma_data = 1) for D = 100
 * or D = Infinity, sampled with 50 Heun steps from sigma 50 to 0.001, scored by an RBF MMD.
 *
 * The MLP is built from tensor ops directly (x W + b with W stored [in, out]).
 */
import {
  add,
  adamStep,
  backward,
  concat,
  cos,
  full,
  keep,
  log,
  matmul,
  mul,
  noGrad,
  reciprocal,
  relu,
  rsqrt,
  scope,
  sin,
  sum,
  type Tensor,
  tensor,
  zerosLike,
} from '@pfgmpp/tensor';
import type { Denoiser } from './denoiser.ts';
import { edmSampler } from './edm-sampler.ts';
import { edmLoss } from './losses.ts';
import { gaussianLatents, pfgmppPrior } from './prior.ts';
import { PhiloxStream } from './random.ts';

export interface ToyConfig {
  numPoints: number;
  dim: number;
  /** Augmented dimension of the run: 100 in the notebook, Infinity for diffusion. */
  D: number;
  epochs: number;
  batch: number;
  lr: number;
  width: number;
  numSteps: number;
  sigmaMin: number;
  sigmaMax: number;
  seed: number;
}

export const TOY: Readonly<ToyConfig> = {
  numPoints: 2000,
  dim: 1000,
  D: 100,
  epochs: 200,
  batch: 128,
  lr: 1e-3,
  width: 32,
  numSteps: 50,
  sigmaMin: 0.001,
  sigmaMax: 50,
  seed: 123,
};

/** Batches are divided by this (sqrt(0.2^2 + 1^2)), and sigma_data is then taken as 1. */
export const TOY_SCALE = Math.sqrt(0.2 * 0.2 + 1);

/**
 * The data [numPoints, dim] (float64): half the 10-D latents ~ N(+1, 0.2^2), half N(-1, 0.2^2),
 * times one shared Gaussian [10, dim] matrix, plus N(0, 0.01^2), clipped to [-100, 100].
 */
export function toyData(numPoints: number, dim: number, seed: number): Float64Array {
  const rng = new PhiloxStream(seed, 100);
  const A = Float64Array.from({ length: 10 * dim }, () => rng.normal());
  const out = new Float64Array(numPoints * dim);
  const z = new Float64Array(10);
  for (let i = 0; i < numPoints; i++) {
    const mu = i < numPoints / 2 ? 1 : -1;
    for (let k = 0; k < 10; k++) z[k] = mu + 0.2 * rng.normal();
    for (let j = 0; j < dim; j++) {
      let v = 0.01 * rng.normal();
      for (let k = 0; k < 10; k++) v += (z[k] as number) * (A[k * dim + j] as number);
      out[i * dim + j] = Math.min(100, Math.max(-100, v));
    }
  }
  return out;
}

/** The notebook's MLP; parameters in a fixed order for the optimiser. */
export class ToyMlp {
  readonly params: Tensor[] = [];
  private readonly layers: Record<string, [Tensor, Tensor]> = {};
  private readonly freqs: Tensor;

  constructor(
    readonly dim: number,
    readonly width: number,
    seed: number,
  ) {
    const rng = new PhiloxStream(seed, 101);
    // PyTorch's default Linear init: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)).
    const linear = (name: string, fin: number, fout: number) => {
      const bound = 1 / Math.sqrt(fin);
      const u = (n: number) =>
        Float32Array.from({ length: n }, () => (2 * rng.uniform() - 1) * bound);
      const w = keep(tensor(u(fin * fout), [fin, fout]).requireGrad());
      const b = keep(tensor(u(fout), [1, fout]).requireGrad());
      this.layers[name] = [w, b];
      this.params.push(w, b);
    };
    linear('fc1', dim, width);
    linear('fc_skip', dim, width);
    linear('fc2', width, width);
    linear('fc3', width, width);
    linear('fc1_skip', width, width);
    linear('fc4', width, dim);
    // PositionalEmbedding(width, endpoint=False): freqs (1/10000)^(k / (width/2)).
    const half = width / 2;
    this.freqs = keep(
      tensor(
        Array.from({ length: half }, (_, k) => (1 / 10000) ** (k / half)),
        [1, half],
      ),
    );
  }

  dispose(): void {
    for (const p of this.params) p.dispose();
    this.freqs.dispose();
  }

  private fc(name: string, x: Tensor): Tensor {
    const [w, b] = this.layers[name] as [Tensor, Tensor];
    return add(matmul(x, w), b);
  }

  /**
   * D(x; sigma) for x [B, dim], sigma [B, 1]: c_out F(c_in x, ln(sigma)/4) + c_skip c_in x, with
   * c_in = 1/sqrt(1+sigma^2), c_skip = 1/(1+sigma^2), c_out = sigma/sqrt(1+sigma^2). The skip
   * uses the already scaled input, as in the notebook (EDM would use x).
   */
  forward(x: Tensor, sigma: Tensor): Tensor {
    const s2 = add(mul(sigma, sigma), 1);
    const cIn = rsqrt(s2);
    const xIn = mul(x, cIn);
    const angles = matmul(mul(log(sigma), 0.25), this.freqs);
    const emb = concat([cos(angles), sin(angles)], 1);
    const h1 = add(this.fc('fc1', xIn), emb);
    const h2 = add(relu(this.fc('fc2', relu(h1))), this.fc('fc1_skip', h1));
    const h3 = add(relu(this.fc('fc3', h2)), this.fc('fc_skip', xIn));
    const F = this.fc('fc4', h3);
    return add(mul(F, mul(sigma, cIn)), mul(xIn, reciprocal(s2)));
  }

  /** The network as a sampler's denoiser (float64 in and out, float32 inside). */
  denoiser(): Denoiser {
    return {
      imgChannels: 1,
      imgResolution: 1,
      labelDim: 0,
      sigmaMin: 0,
      sigmaMax: Number.POSITIVE_INFINITY,
      roundSigma: (s) => s,
      denoise: async (x, shape, sigma) => {
        const B = shape[0] as number;
        const out = noGrad(() =>
          scope(() =>
            this.forward(tensor(Float32Array.from(x), [B, this.dim]), full([B, 1], sigma)),
          ),
        );
        const values = await out.read();
        out.dispose();
        return Float64Array.from(values);
      },
    };
  }
}

export interface ToyTrainResult {
  net: ToyMlp;
  /** Per epoch: sum over batches of the batch-mean loss, divided by numPoints (the notebook's print). */
  epochLoss: number[];
}

/** Trains the MLP on `data` (float64 [numPoints, dim], unscaled) with Adam. */
export async function trainToy(data: Float64Array, c: ToyConfig): Promise<ToyTrainResult> {
  const net = new ToyMlp(c.dim, c.width, c.seed);
  const moments = net.params.map((p) => [keep(zerosLike(p)), keep(zerosLike(p))] as const);
  const order = new PhiloxStream(c.seed, 102);
  const epochLoss: number[] = [];
  let step = 0;
  for (let epoch = 0; epoch < c.epochs; epoch++) {
    // Fisher-Yates shuffle per epoch; the last batch may be smaller (no drop_last).
    const perm = Array.from({ length: c.numPoints }, (_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = order.int(i + 1);
      [perm[i], perm[j]] = [perm[j] as number, perm[i] as number];
    }
    const losses: Tensor[] = [];
    for (let start = 0; start < c.numPoints; start += c.batch) {
      const rows = perm.slice(start, start + c.batch);
      const batch = new Float32Array(rows.length * c.dim);
      rows.forEach((r, k) => {
        for (let j = 0; j < c.dim; j++)
          batch[k * c.dim + j] = (data[r * c.dim + j] as number) / TOY_SCALE;
      });
      step++;
      const loss = scope(() => {
        const images = tensor(batch, [rows.length, c.dim]);
        const perElement = edmLoss(
          (x, sigma) => net.forward(x, sigma),
          { images, rng: { seed: c.seed, step } },
          { D: c.D, sigma_data: 1, betaClip: null },
        );
        const l = mul(sum(perElement), 1 / rows.length);
        backward(l);
        return l.detach();
      });
      noGrad(() => {
        net.params.forEach((p, k) => {
          const [m, v] = moments[k] as readonly [Tensor, Tensor];
          adamStep(p, p.grad as Tensor, m, v, { lr: c.lr, step });
          p.grad?.dispose();
          p.grad = null;
        });
      });
      losses.push(loss);
    }
    let total = 0;
    for (const l of losses) {
      total += (await l.read())[0] as number;
      l.dispose();
    }
    epochLoss.push(total / c.numPoints);
  }
  for (const [m, v] of moments) {
    m.dispose();
    v.dispose();
  }
  return { net, epochLoss };
}

/** Samples `count` points with the notebook's sampler; rescaled by TOY_SCALE to data units. */
export async function sampleToy(net: ToyMlp, count: number, c: ToyConfig): Promise<Float64Array> {
  const seeds = Array.from({ length: count }, (_, i) => c.seed * 1_000_003 + i);
  const shape = [count, c.dim];
  const finite = Number.isFinite(c.D);
  const latents = finite
    ? pfgmppPrior(seeds, shape, { D: c.D, sigmaMax: c.sigmaMax })
    : gaussianLatents(seeds, shape);
  const x = await edmSampler(
    net.denoiser(),
    latents,
    shape,
    { numSteps: c.numSteps, sigmaMin: c.sigmaMin, sigmaMax: c.sigmaMax, rho: 7 },
    { prior: finite ? 'pfgmpp' : 'gaussian', seeds },
  );
  return x.map((v) => v * TOY_SCALE);
}

/**
 * RBF MMD^2 estimate (biased, V-statistic) between X [n, dim] and Y [m, dim] with 5 bandwidths
 * b * 2^k, k = 0..4, where b = mean off-diagonal squared distance of the pooled set / 4.
 */
export function rbfMmd(X: Float64Array, Y: Float64Array, dim: number): number {
  const n = X.length / dim;
  const m = Y.length / dim;
  const total = n + m;
  const row = (i: number) =>
    i < n ? X.subarray(i * dim, (i + 1) * dim) : Y.subarray((i - n) * dim, (i - n + 1) * dim);
  const d2 = new Float64Array(total * total);
  let sumD2 = 0;
  for (let i = 0; i < total; i++) {
    const a = row(i);
    for (let j = i + 1; j < total; j++) {
      const b = row(j);
      let acc = 0;
      for (let k = 0; k < dim; k++) {
        const t = (a[k] as number) - (b[k] as number);
        acc += t * t;
      }
      d2[i * total + j] = acc;
      d2[j * total + i] = acc;
      sumD2 += 2 * acc;
    }
  }
  const base = sumD2 / (total * total - total) / 4;
  const bandwidths = [0, 1, 2, 3, 4].map((k) => base * 2 ** k);
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < total; i++) {
    for (let j = 0; j < total; j++) {
      const v = d2[i * total + j] as number;
      let kv = 0;
      for (const bw of bandwidths) kv += Math.exp(-v / bw);
      if (i < n && j < n) xx += kv;
      else if (i >= n && j >= n) yy += kv;
      else xy += kv;
    }
  }
  return xx / (n * n) + yy / (m * m) - xy / (n * m);
}

export interface ToyResult {
  mmd: number;
  /** The generated points [count, dim] in data units. */
  samples: Float64Array;
  epochLoss: number[];
  trainSeconds: number;
  sampleSeconds: number;
}

/** Data, training, sampling and MMD against the data for one D. `mmdPoints` caps both sets. */
export async function runToy(
  config: Partial<ToyConfig> = {},
  mmdPoints?: number,
): Promise<ToyResult> {
  const c = { ...TOY, ...config };
  const data = toyData(c.numPoints, c.dim, c.seed);
  const t0 = performance.now();
  const { net, epochLoss } = await trainToy(data, c);
  const t1 = performance.now();
  const count = Math.min(mmdPoints ?? c.numPoints, c.numPoints);
  const samples = await sampleToy(net, count, c);
  const t2 = performance.now();
  // Every k-th data point, so a reduced set keeps both clusters in proportion.
  const stride = c.numPoints / count;
  const ref = new Float64Array(count * c.dim);
  for (let i = 0; i < count; i++) {
    const r = Math.floor(i * stride);
    ref.set(data.subarray(r * c.dim, (r + 1) * c.dim), i * c.dim);
  }
  const mmd = rbfMmd(ref, samples, c.dim);
  net.dispose();
  return {
    mmd,
    samples,
    epochLoss,
    trainSeconds: (t1 - t0) / 1000,
    sampleSeconds: (t2 - t1) / 1000,
  };
}
