/**
 * @pfgmpp/pfgmpp: PFGM++ and EDM in the paper's notation (browser-safe). The perturbation kernel
 * and losses run on GPU tensors with autograd; the samplers keep x and t in float64 on the CPU and
 * call a `Denoiser`; randomness is Philox, one stream per seed and purpose. `networkFromCheckpoint`
 * turns a parsed checkpoint into a network and the D to sample it with (`/node`: from a path).
 */
export { type Denoiser, type OnStep, type SamplerStep, trajectoryRecorder } from './denoiser.ts';
export { blocksPerRow, PhiloxStream, philoxBlock, seededNormals, STREAM } from './random.ts';
export {
  checkSteps,
  edmTimeSteps,
  iddpmLevels,
  roundHalfEven,
  vpFit,
  vpSigma,
  vpSigmaDeriv,
  vpSigmaInv,
} from './schedule.ts';
export {
  checkD,
  type KernelConfig,
  perturbation,
  radiusOverSigma,
  TRAINING_KERNEL,
} from './kernel.ts';
export {
  classLabels,
  gaussianLatents,
  oneHotLabels,
  type PriorConfig,
  pfgmppPrior,
  seedClasses,
} from './prior.ts';
export {
  churnGamma,
  EDM_SAMPLER,
  type EdmSamplerConfig,
  edmSampler,
  edmSamplerSteps,
  type SampleOptions,
} from './edm-sampler.ts';
export {
  ABLATION_SAMPLER,
  type AblationPlan,
  type AblationSamplerConfig,
  ablationPlan,
  ablationSampler,
} from './ablation-sampler.ts';
export { type GenerateOptions, generate, toUint8 } from './generate.ts';
export {
  type LoadedNetwork,
  loadWeights,
  type NetworkPart,
  networkFromCheckpoint,
  samplingD,
  shortClassName,
  storedD,
  tensorInputs,
} from './network.ts';
export {
  EDM_LOSS,
  type EdmLossConfig,
  edmLoss,
  LSUN_SIGMA_SCALE,
  type LossBatch,
  type LossDraws,
  type LossNet,
  lossAtDraws,
  lossWeight,
  VE_LOSS,
  type VeLossConfig,
  veLoss,
  VP_LOSS,
  type VpLossConfig,
  vpLoss,
} from './losses.ts';
export { stfTargets, stfTargetsRef } from './stf.ts';
export {
  alignFactor,
  alignSampler,
  expectedRadiusSq,
  rFromSigma,
  sigmaFromR,
  transferPrior,
} from './transfer.ts';
export {
  ALPHA_SWEEP,
  alphaSweep,
  fakeQuantize,
  isQuantized,
  QUANT_BITS,
  quantizeState,
  type StateEntry,
  STEP_SWEEP,
  stepSweep,
} from './robustness.ts';
export {
  rbfMmd,
  runToy,
  sampleToy,
  TOY,
  TOY_SCALE,
  type ToyConfig,
  ToyMlp,
  type ToyResult,
  toyData,
  trainToy,
} from './toy.ts';
export {
  AUGMENT_DIM,
  AUGMENT_KWARGS,
  type AugmentDraw,
  applyAugment,
  augmentLabels,
  augmentPipe,
  drawAugment,
  IDENTITY_DRAW,
  inverseMatrix,
  type Mat3,
  matmul3,
  type ResamplePlan,
  resampleImages,
  resamplePlan,
} from './augment.ts';
