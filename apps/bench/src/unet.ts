/**
 * `npm run bench -- unet`: EDM-preconditioned SongUNet forward and forward+backward images/s,
 * ours on the adapter against PyTorch CPU (Debian's python3-torch, 2 threads) running the same
 * architecture in the same run (peers/unet_torch.py). Peak GPU bytes come from the pool.
 */
import { buildPrecond, type Precond, type PrecondKwargs } from '@pfgmpp/nn';
import {
  backward,
  type Gpu,
  mean,
  noGrad,
  randn,
  rand,
  scope,
  square,
  sub,
  type Tensor,
} from '@pfgmpp/tensor/node';
import { runTorchPeer } from './peers/torch.ts';

export interface UnetBenchConfig {
  label: string;
  batch: number;
  iters: number;
  kwargs: PrecondKwargs & {
    model_channels: number;
    channel_mult: number[];
    num_blocks: number;
    attn_resolutions: number[];
    augment_dim: number;
    dropout: number;
  };
}

const SONG = {
  model_type: 'SongUNet' as const,
  embedding_type: 'positional',
  encoder_type: 'standard',
  decoder_type: 'standard',
  channel_mult_noise: 1,
  resample_filter: [1, 1],
};

export const UNET_CONFIGS: Record<'small' | 'cifar', UnetBenchConfig> = {
  small: {
    label: 'small (32x32x3, 32 ch, [1,2,2], 1 block, attn 16), batch 16',
    batch: 16,
    iters: 3,
    kwargs: {
      img_resolution: 32,
      img_channels: 3,
      ...SONG,
      model_channels: 32,
      channel_mult: [1, 2, 2],
      num_blocks: 1,
      attn_resolutions: [16],
      augment_dim: 0,
      dropout: 0,
    },
  },
  cifar: {
    label: 'CIFAR-10 ddpmpp (55.7M params), batch 8',
    batch: 8,
    iters: 1,
    kwargs: {
      img_resolution: 32,
      img_channels: 3,
      ...SONG,
      model_channels: 128,
      channel_mult: [2, 2, 2],
      num_blocks: 4,
      attn_resolutions: [16],
      augment_dim: 9,
      dropout: 0,
    },
  },
};

export interface UnetFigures {
  fwd: number;
  fwdbwd: number;
  params: number;
  peakBytes: number;
}

function inputs(c: UnetBenchConfig) {
  const { batch: B, kwargs: k } = c;
  const shape = [B, k.img_channels, k.img_resolution, k.img_resolution];
  return {
    x: randn(shape, { seed: 1 }),
    y: randn(shape, { seed: 2 }),
    sigma: rand([B], { seed: 3 }).mul(5).add(0.05),
    aug: k.augment_dim ? randn([B, k.augment_dim], { seed: 4 }) : null,
  };
}

/** Our images/s: forward (no autograd) and forward + backward of a mean-square loss. */
export async function oursUnet(gpu: Gpu, c: UnetBenchConfig): Promise<UnetFigures> {
  const net: Precond = buildPrecond('EDMPrecond', c.kwargs).initialize(0);
  const io = inputs(c);
  const fwd = () => scope(() => void noGrad(() => net.forward(io.x, io.sigma, null, io.aug)));
  const step = () =>
    scope(() => {
      const loss = mean(square(sub(net.forward(io.x, io.sigma, null, io.aug), io.y)));
      backward(loss);
      for (const [, s] of net.namedParameters()) {
        s.tensor.grad?.dispose();
        (s.tensor as Tensor).grad = null;
      }
    });
  const time = async (fn: () => void) => {
    await gpu.tuneKernels(fn); // the kernel rows for these shapes (cached per adapter)
    fn(); // compile pipelines, fill the pool
    await gpu.sync();
    const t = performance.now();
    for (let i = 0; i < c.iters; i++) fn();
    await gpu.sync();
    return (c.batch * c.iters * 1000) / (performance.now() - t);
  };
  gpu.pool.resetPeak();
  net.eval();
  const f = await time(fwd);
  net.train();
  const fb = await time(step);
  const peakBytes = gpu.pool.snapshot().peakBytes;
  net.dispose();
  for (const t of [io.x, io.y, io.sigma, io.aug]) t?.dispose();
  return { fwd: f, fwdbwd: fb, params: net.parameterCount(), peakBytes };
}

/** PyTorch CPU figures, or the reason when Debian's python3-torch is missing. */
export function torchUnet(c: UnetBenchConfig): UnetFigures | string {
  const cfg = { ...c.kwargs, batch: c.batch, iters: c.iters, threads: 2 };
  const r = runTorchPeer('unet_torch.py', cfg);
  if (typeof r === 'string') return r;
  return {
    fwd: r.fwd as number,
    fwdbwd: r.fwdbwd as number,
    params: r.params as number,
    peakBytes: Number.NaN,
  };
}
