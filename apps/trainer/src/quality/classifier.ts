/**
 * A small MNIST classifier, trained by the project, to measure sample quality without
 * Inception weights: the share of samples classified with confidence > 0.9, the class
 * histogram, and a Frechet distance in its 64-d penultimate feature space.
 *
 * Architecture (16x16 or 32x32 gray input in [-1, 1]): conv3x3 1->16, SiLU, avgpool 2,
 * conv3x3 16->32, SiLU, avgpool 2, linear (32 * (R/4)^2) -> 64, SiLU (the features), linear 64->10.
 */
import { Conv2d, Linear, Module } from '@pfgmpp/nn';
import {
  conv2d,
  full,
  logsumexp,
  mean,
  mul,
  noGrad,
  reshape,
  scope,
  silu,
  softmax,
  sub,
  sum,
  type Tensor,
  tensor,
} from '@pfgmpp/tensor';

/** 2x2 average pooling as a depthwise stride-2 convolution (which has a backward). */
function pool2(x: Tensor): Tensor {
  const C = x.shape[1] as number;
  return conv2d(x, full([C, 1, 2, 2], 0.25), null, { stride: 2, groups: C });
}

export class DigitClassifier extends Module {
  readonly conv0: Conv2d;
  readonly conv1: Conv2d;
  readonly fc0: Linear;
  readonly fc1: Linear;

  constructor(readonly resolution: number) {
    super();
    if (resolution % 4 !== 0)
      throw new Error(`classifier: resolution ${resolution} must be a multiple of 4`);
    const init = { mode: 'kaiming_uniform' as const, weight: Math.sqrt(2), bias: 0 };
    this.conv0 = this.child(
      'conv0',
      new Conv2d({ inChannels: 1, outChannels: 16, kernel: 3, init }),
    );
    this.conv1 = this.child(
      'conv1',
      new Conv2d({ inChannels: 16, outChannels: 32, kernel: 3, init }),
    );
    this.fc0 = this.child('fc0', new Linear(32 * (resolution / 4) ** 2, 64, true, init));
    this.fc1 = this.child('fc1', new Linear(64, 10, true, { mode: 'kaiming_uniform', weight: 1 }));
  }

  /** x [B, 1, R, R] -> features [B, 64] and logits [B, 10]. */
  forward(x: Tensor): { features: Tensor; logits: Tensor } {
    const B = x.shape[0] as number;
    let h = pool2(silu(this.conv0.forward(x)));
    h = pool2(silu(this.conv1.forward(h)));
    const features = silu(this.fc0.forward(reshape(h, [B, h.size / B])));
    return { features, logits: this.fc1.forward(features) };
  }

  /** Mean cross-entropy of the logits against one-hot labels [B, 10]. */
  loss(x: Tensor, onehot: Tensor): Tensor {
    const { logits } = this.forward(x);
    return mean(sub(logsumexp(logits, 1), sum(mul(logits, onehot), 1)));
  }
}

export interface ClassifiedBatch {
  /** [n, 64] penultimate features. */
  features: Float32Array;
  /** [n, 10] class probabilities. */
  probs: Float32Array;
}

/** Features and probabilities of uint8-range images already mapped to [-1, 1], `batch` at a time. */
export async function classify(
  net: DigitClassifier,
  images: Float32Array,
  n: number,
  batch = 250,
): Promise<ClassifiedBatch> {
  const R = net.resolution;
  const plane = R * R;
  const features = new Float32Array(n * 64);
  const probs = new Float32Array(n * 10);
  net.eval();
  for (let at = 0; at < n; at += batch) {
    const b = Math.min(batch, n - at);
    const [ft, pt] = scope(() =>
      noGrad(() => {
        const out = net.forward(
          tensor(images.subarray(at * plane, (at + b) * plane), [b, 1, R, R]),
        );
        return [out.features, softmax(out.logits, 1)] as const;
      }),
    );
    const f = await ft.read();
    const p = await pt.read();
    ft.dispose();
    pt.dispose();
    features.set(f, at * 64);
    probs.set(p, at * 10);
  }
  return { features, probs };
}

/**
 * Share with max probability > threshold, the argmax histogram, and when labels are known the
 * top-1 accuracy and the share that is both confident and correct.
 */
export function confidence(
  probs: Float32Array,
  n: number,
  threshold = 0.9,
  labels?: ArrayLike<number>,
) {
  let confident = 0;
  let correct = 0;
  let confidentCorrect = 0;
  const histogram = new Array<number>(10).fill(0);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++)
      if ((probs[i * 10 + k] as number) > (probs[i * 10 + best] as number)) best = k;
    histogram[best] = (histogram[best] as number) + 1;
    const sure = (probs[i * 10 + best] as number) > threshold;
    if (sure) confident++;
    if (labels && labels[i] === best) {
      correct++;
      if (sure) confidentCorrect++;
    }
  }
  return {
    confidentShare: confident / n,
    histogram,
    accuracy: labels ? correct / n : Number.NaN,
    confidentCorrectShare: labels ? confidentCorrect / n : Number.NaN,
  };
}
