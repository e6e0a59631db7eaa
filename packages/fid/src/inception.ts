/**
 * The FID Inception-v3 forward pass on WebGPU, built from the tensor package's ops (conv2d with
 * folded BatchNorm, relu, pools, concat, bilinear resize, matmul). Forward only, float32.
 * Input: images [n, 3, H, W] with values in [0, 255]; output: pool3 features [n, 2048] and,
 * when asked and the weights have fc, the 1008 logits without bias (as Inception Score uses them).
 */
import {
  affine,
  avgPool2d,
  concat,
  conv2d,
  type Gpu,
  globalAvgPool,
  keep,
  matmul,
  maxPool2d,
  mean,
  noGrad,
  relu,
  reshape,
  resizeBilinear,
  scope,
  type Tensor,
  type TuneResult,
  tensor,
  zeros,
} from '@pfgmpp/tensor';
import { CLASSES, FEATURES, INPUT_SIZE, UNITS } from './architecture.ts';
import type { InceptionWeights } from './weights.ts';

/**
 * 'edm' (default): NVIDIA's detector as EDM/PFGM++ fid.py runs it: TF1 bilinear resize to 299
 * (source = dst * in/out), then (x - 128) / 128. 'pytorch-fid': half-pixel bilinear resize
 * (align_corners=False), then x / 127.5 - 1.
 */
export type Detector = 'edm' | 'pytorch-fid';
export const DETECTORS: readonly Detector[] = ['edm', 'pytorch-fid'];

/** Resize to 299x299 and normalise as the detector does: [n, 3, H, W] in [0, 255] -> [n, 3, 299, 299]. */
export function preprocess(x: Tensor, detector: Detector): Tensor {
  return scope(() => {
    const [, , H, W] = x.shape;
    let y = x;
    // Both mappings are the identity at 299x299 (source = dst exactly), so skip the pass.
    if (H !== INPUT_SIZE || W !== INPUT_SIZE) {
      y = resizeBilinear(x, [INPUT_SIZE, INPUT_SIZE], {
        mode: detector === 'edm' ? 'tf1' : 'half-pixel',
      });
    }
    return detector === 'edm' ? affine(y, 1 / 128, -1) : affine(y, 1 / 127.5, -1);
  });
}

export interface EmbedOptions {
  detector?: Detector;
  /** Also return the 1008 logits (needs fc in the weights). */
  logits?: boolean;
  /** Also return per-image channel means of the first three pytorch-fid blocks (tests). */
  blockMeans?: boolean;
}

export interface Embedding {
  /** [n, 2048] pool3 features. */
  features: Float32Array;
  /** [n, 1008] logits without the fc bias. */
  logits?: Float32Array;
  /** [n, 64], [n, 192], [n, 768]: spatial means after the stem pools and after Mixed_6e. */
  blockMeans?: Float32Array[];
}

/** A unit on the GPU: folded conv weights [out, in, kh, kw] and bias [out]. */
interface GpuUnit {
  w: Tensor;
  b: Tensor;
  stride: number;
  padding: readonly [number, number];
}

/** Bytes of the largest activation per 299x299 image (64 x 147 x 147 floats). */
const PEAK_BYTES_PER_IMAGE = 64 * 147 * 147 * 4;

export class InceptionV3 {
  /** The kernel tuning of the first embed() (once per network). */
  private tuned: Promise<TuneResult[]> | undefined;

  private constructor(
    readonly gpu: Gpu,
    private readonly units: Map<string, GpuUnit>,
    private readonly fcT: Tensor | null,
    /** Images per forward pass, so that no activation outgrows a storage binding. */
    readonly maxBatch: number,
  ) {}

  /** Uploads folded weights (95 MB) to `gpu`; call dispose() when done. */
  static create(
    gpu: Gpu,
    weights: InceptionWeights,
    options: { maxBatch?: number } = {},
  ): InceptionV3 {
    const units = new Map<string, GpuUnit>();
    for (const u of UNITS) {
      const f = weights.units.get(u.name);
      if (!f) throw new Error(`Inception weights lack unit ${u.name}`);
      units.set(u.name, {
        w: keep(tensor(f.w, u.shape, gpu)),
        b: keep(tensor(f.b, [u.shape[0]], gpu)),
        stride: u.stride,
        padding: u.padding,
      });
    }
    const fcT = weights.fcT ? keep(tensor(weights.fcT, [FEATURES, CLASSES], gpu)) : null;
    const limits = gpu.device.limits;
    const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    const fit = Math.max(1, Math.floor(binding / PEAK_BYTES_PER_IMAGE));
    return new InceptionV3(gpu, units, fcT, Math.min(fit, options.maxBatch ?? 64));
  }

  get hasLogits(): boolean {
    return this.fcT !== null;
  }

  dispose(): void {
    for (const u of this.units.values()) {
      u.w.dispose();
      u.b.dispose();
    }
    this.fcT?.dispose();
    this.units.clear();
  }

  /** conv (BatchNorm folded in) + ReLU of the unit `name`. */
  private unit(x: Tensor, name: string): Tensor {
    const u = this.units.get(name);
    if (!u) throw new Error(`InceptionV3: no unit ${name} (disposed?)`);
    return relu(conv2d(x, u.w, u.b, { stride: u.stride, padding: u.padding as [number, number] }));
  }

  private chain(x: Tensor, p: string, names: readonly string[]): Tensor {
    let y = x;
    for (const n of names) y = this.unit(y, `${p}.${n}`);
    return y;
  }

  /** InceptionA/C pool branch and E_1's: 3x3 stride-1 average that ignores the padding. */
  private avgPoolBranch(x: Tensor, p: string): Tensor {
    const pooled = avgPool2d(x, { kernel: 3, stride: 1, padding: 1, countIncludePad: false });
    return this.unit(pooled, `${p}.branch_pool`);
  }

  private blockA(x: Tensor, p: string): Tensor {
    return concat(
      [
        this.unit(x, `${p}.branch1x1`),
        this.chain(x, p, ['branch5x5_1', 'branch5x5_2']),
        this.chain(x, p, ['branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3']),
        this.avgPoolBranch(x, p),
      ],
      1,
    );
  }

  private blockB(x: Tensor, p: string): Tensor {
    return concat(
      [
        this.unit(x, `${p}.branch3x3`),
        this.chain(x, p, ['branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3']),
        maxPool2d(x, { kernel: 3, stride: 2 }),
      ],
      1,
    );
  }

  private blockC(x: Tensor, p: string): Tensor {
    const dbl = [1, 2, 3, 4, 5].map((i) => `branch7x7dbl_${i}`);
    return concat(
      [
        this.unit(x, `${p}.branch1x1`),
        this.chain(x, p, ['branch7x7_1', 'branch7x7_2', 'branch7x7_3']),
        this.chain(x, p, dbl),
        this.avgPoolBranch(x, p),
      ],
      1,
    );
  }

  private blockD(x: Tensor, p: string): Tensor {
    return concat(
      [
        this.chain(x, p, ['branch3x3_1', 'branch3x3_2']),
        this.chain(x, p, ['branch7x7x3_1', 'branch7x7x3_2', 'branch7x7x3_3', 'branch7x7x3_4']),
        maxPool2d(x, { kernel: 3, stride: 2 }),
      ],
      1,
    );
  }

  /** E_1 (Mixed_7b) pools by average without padding; E_2 (Mixed_7c) by max, as the TF graph. */
  private blockE(x: Tensor, p: string, pool: 'avg' | 'max'): Tensor {
    const t = this.unit(x, `${p}.branch3x3_1`);
    const d = this.chain(x, p, ['branch3x3dbl_1', 'branch3x3dbl_2']);
    const poolBranch =
      pool === 'avg'
        ? this.avgPoolBranch(x, p)
        : this.unit(maxPool2d(x, { kernel: 3, stride: 1, padding: 1 }), `${p}.branch_pool`);
    return concat(
      [
        this.unit(x, `${p}.branch1x1`),
        this.unit(t, `${p}.branch3x3_2a`),
        this.unit(t, `${p}.branch3x3_2b`),
        this.unit(d, `${p}.branch3x3dbl_3a`),
        this.unit(d, `${p}.branch3x3dbl_3b`),
        poolBranch,
      ],
      1,
    );
  }

  /**
   * The network on a [n, 3, H, W] tensor in [0, 255]: { features [n, 2048], logits? [n, 1008],
   * means? } as tensors. Each stage runs in its own scope, so only one stage's activations live.
   */
  forward(
    images: Tensor,
    options: EmbedOptions = {},
  ): { features: Tensor; logits?: Tensor; means: Tensor[] } {
    if (images.rank !== 4 || images.shape[1] !== 3) {
      throw new Error(`InceptionV3: images must be [n, 3, H, W], got [${images.shape.join(', ')}]`);
    }
    if (options.logits && !this.fcT) {
      throw new Error(
        'these Inception weights have no fc layer (fc.weight, fc.bias): logits and Inception Score need the full weight file',
      );
    }
    return noGrad(() => {
      const means: Tensor[] = [];
      const tapMean = (x: Tensor) => {
        if (!options.blockMeans) return;
        const [n, c] = x.shape as unknown as [number, number];
        means.push(keep(scope(() => reshape(mean(x, [2, 3]), [n, c]))));
      };
      const stage = (x: Tensor, fn: (x: Tensor) => Tensor): Tensor => {
        const y = scope(() => fn(x));
        x.dispose();
        return y;
      };
      let x = preprocess(images, options.detector ?? 'edm');
      const stem = (v: Tensor, names: string[]) => {
        let y = v;
        for (const name of names) y = this.unit(y, name);
        return maxPool2d(y, { kernel: 3, stride: 2 });
      };
      x = stage(x, (v) => stem(v, ['Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3']));
      tapMean(x);
      x = stage(x, (v) => stem(v, ['Conv2d_3b_1x1', 'Conv2d_4a_3x3']));
      tapMean(x);
      for (const p of ['Mixed_5b', 'Mixed_5c', 'Mixed_5d']) x = stage(x, (v) => this.blockA(v, p));
      x = stage(x, (v) => this.blockB(v, 'Mixed_6a'));
      for (const p of ['Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e'])
        x = stage(x, (v) => this.blockC(v, p));
      tapMean(x);
      x = stage(x, (v) => this.blockD(v, 'Mixed_7a'));
      x = stage(x, (v) => this.blockE(v, 'Mixed_7b', 'avg'));
      x = stage(x, (v) => this.blockE(v, 'Mixed_7c', 'max'));
      const n = x.shape[0] as number;
      const features = stage(x, (v) => reshape(globalAvgPool(v), [n, FEATURES]));
      const logits = options.logits && this.fcT ? matmul(features, this.fcT) : undefined;
      return { features, ...(logits && { logits }), means };
    });
  }

  /**
   * Features (and logits) of CPU images: `data` holds [n, 3, H, W] values in [0, 255] (uint8
   * or float). Runs in slices of at most maxBatch images and reads the results back.
   */
  async embed(
    data: Uint8Array | Float32Array,
    shape: readonly [number, number, number, number],
    options: EmbedOptions = {},
  ): Promise<Embedding> {
    const [n, c, H, W] = shape;
    if (c !== 3) throw new Error(`InceptionV3: images need 3 channels, got ${c}`);
    if (data.length !== n * c * H * W) {
      throw new Error(`InceptionV3: ${data.length} values do not fill [${shape.join(', ')}]`);
    }
    // Kernel rows for the network's shapes, chosen before the first image is computed (every
    // convolution after the resize has the same shape for any input size and batch).
    this.tuned ??= this.gpu.tuneKernels(() =>
      scope(() => {
        const x = zeros([Math.min(n, this.maxBatch), c, H, W]);
        void this.forward(x, { ...options, blockMeans: false });
      }),
    );
    await this.tuned;
    const per = c * H * W;
    const features = new Float32Array(n * FEATURES);
    const logits = options.logits ? new Float32Array(n * CLASSES) : undefined;
    const means = options.blockMeans
      ? [64, 192, 768].map((d) => new Float32Array(n * d))
      : undefined;
    for (let s = 0; s < n; s += this.maxBatch) {
      const m = Math.min(this.maxBatch, n - s);
      const x = tensor(
        Float32Array.from(data.subarray(s * per, (s + m) * per)),
        [m, c, H, W],
        this.gpu,
      );
      const out = this.forward(x, options);
      x.dispose();
      features.set(await out.features.read(), s * FEATURES);
      out.features.dispose();
      if (logits && out.logits) {
        logits.set(await out.logits.read(), s * CLASSES);
        out.logits.dispose();
      }
      for (const [i, t] of out.means.entries()) {
        const d = t.shape[1] as number;
        means?.[i]?.set(await t.read(), s * d);
        t.dispose();
      }
    }
    return { features, ...(logits && { logits }), ...(means && { blockMeans: means }) };
  }
}
