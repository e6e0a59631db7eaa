/**
 * `npm run bench -- profile MODEL`: GPU time per kernel family for one training step and one
 * sampling step of MODEL, largest first, from timestamp queries (Gpu.startProfile).
 *
 * Models: `mlp` (a 3-layer MLP on 64x784 inputs: matmul, bias add, SiLU, mean-square loss,
 * backward, SGD update); `unet-small` and `unet-cifar` (the `unet` suite's configurations:
 * EDM-preconditioned SongUNet, mean-square loss, backward, Adam).
 */
import {
  add,
  backward,
  type Gpu,
  type KernelTime,
  matmul,
  mean,
  noGrad,
  randn,
  scope,
  silu,
  square,
  sub,
  type Tensor,
  zeros,
} from '@pfgmpp/tensor/node';
import { Adam, buildPrecond } from '@pfgmpp/nn';
import { UNET_CONFIGS, type UnetBenchConfig } from './unet.ts';

interface ProfileModel {
  /** One training step: forward, backward, parameter update. */
  trainStep: () => void;
  /** One sampling step: a forward pass without gradients. */
  sampleStep: () => void;
  dispose: () => void;
}

function mlp(): ProfileModel {
  const sizes = [784, 512, 512, 784];
  const layers = sizes.slice(1).map((out, i) => ({
    w: randn([sizes[i] as number, out], { seed: 10 + i }).requireGrad(),
    b: zeros([out]).requireGrad(),
  }));
  const x = randn([64, 784], { seed: 1 });
  const forward = () => {
    let h: Tensor = x;
    layers.forEach((l, i) => {
      h = add(matmul(h, l.w), l.b);
      if (i < layers.length - 1) h = silu(h);
    });
    return h;
  };
  return {
    trainStep: () =>
      scope(() => {
        backward(mean(square(sub(forward(), x))));
        noGrad(() => {
          for (const l of layers) {
            for (const p of [l.w, l.b]) {
              const next = sub(p, mul01(p.grad as Tensor));
              p.gpu.copy(next.buffer, 0, p.buffer, 0, p.size * 4);
              p.grad?.dispose();
              p.grad = null;
            }
          }
        });
      }),
    sampleStep: () => scope(() => void noGrad(forward)),
    dispose: () => {
      for (const l of layers) {
        l.w.dispose();
        l.b.dispose();
      }
      x.dispose();
    },
  };
}

const mul01 = (g: Tensor) => g.mul(0.01);

/** A training step (EDM precond forward, mean-square loss, backward, Adam) and a sampling step. */
function unet(config: UnetBenchConfig): () => ProfileModel {
  return () => {
    const net = buildPrecond('EDMPrecond', config.kwargs).initialize(0);
    const adam = new Adam(net);
    const k = config.kwargs;
    const shape = [config.batch, k.img_channels, k.img_resolution, k.img_resolution];
    const x = randn(shape, { seed: 1 });
    const sigma = randn([config.batch], { seed: 2 }).exp();
    const aug = k.augment_dim ? randn([config.batch, k.augment_dim], { seed: 3 }) : null;
    return {
      trainStep: () =>
        scope(() => {
          net.train();
          backward(mean(square(sub(net.forward(x, sigma, null, aug), x))));
          adam.step(1e-4);
        }),
      sampleStep: () =>
        scope(() => {
          net.eval();
          noGrad(() => net.forward(x, sigma, null, aug));
        }),
      dispose: () => {
        adam.dispose();
        net.dispose();
        for (const t of [x, sigma, aug]) t?.dispose();
      },
    };
  };
}

export const PROFILE_MODELS: Record<string, () => ProfileModel> = {
  mlp,
  'unet-small': unet(UNET_CONFIGS.small),
  'unet-cifar': unet(UNET_CONFIGS.cifar),
  'unet-mnist16': unet({
    label: 'the shipped MNIST model (16x16x1, 16 ch, [1,2,2], 1 block), batch 64',
    batch: 64,
    iters: 1,
    kwargs: {
      ...UNET_CONFIGS.small.kwargs,
      img_resolution: 16,
      img_channels: 1,
      model_channels: 16,
      attn_resolutions: [],
    },
  }),
};

function table(title: string, times: KernelTime[]): string {
  const total = times.reduce((p, t) => p + t.ms, 0);
  const lines = [
    `${title}: ${total.toFixed(2)} ms GPU time`,
    '  kernel                       calls        ms     share',
  ];
  for (const t of times) {
    lines.push(
      `  ${t.kernel.padEnd(26)} ${String(t.dispatches).padStart(6)} ${t.ms.toFixed(3).padStart(9)} ${((100 * t.ms) / total).toFixed(1).padStart(8)}%`,
    );
  }
  return lines.join('\n');
}

export async function runProfile(
  gpu: Gpu,
  name: string,
): Promise<{ train: KernelTime[]; sample: KernelTime[] }> {
  const make = PROFILE_MODELS[name];
  if (!make)
    throw new Error(
      `unknown model "${name}"; available: ${Object.keys(PROFILE_MODELS).join(', ')}`,
    );
  const model = make();
  // The kernel rows tuned for the model's shapes (cached per adapter), then a warm-up:
  // pipelines compiled and buffers pooled before timing.
  await gpu.tuneKernels(() => {
    model.trainStep();
    model.sampleStep();
  });
  model.trainStep();
  model.sampleStep();
  await gpu.sync();
  gpu.startProfile();
  model.trainStep();
  const train = await gpu.stopProfile();
  gpu.startProfile();
  model.sampleStep();
  const sample = await gpu.stopProfile();
  model.dispose();
  console.log(table(`${name}: one training step`, train));
  console.log(table(`${name}: one sampling step`, sample));
  return { train, sample };
}
