/**
 * @pfgmpp/nn: EDM's layers and networks on @pfgmpp/tensor (browser-safe). Parameter names and
 * order equal the official PyTorch state dicts, so official checkpoints load by name.
 */
export { DhariwalUNet, type DhariwalUNetConfig } from './dhariwal-unet.ts';
export { NnError } from './errors.ts';
export {
  fanInit,
  fanScale,
  INIT_MODES,
  type InitKwargs,
  type InitMode,
  type InitSpec,
  initTensor,
} from './init.ts';
export {
  Conv2d,
  type Conv2dConfig,
  FourierEmbedding,
  GroupNorm,
  Linear,
  PositionalEmbedding,
  resampleKernel,
} from './layers.ts';
export {
  addFlops,
  countFlops,
  describeReport,
  type LoadOptions,
  type LoadReport,
  Module,
  ModuleDict,
  reportIsClean,
  Slot,
  type StateDict,
  type TensorData,
} from './module.ts';
export {
  buildPrecond,
  type Coefficients,
  EDMPrecond,
  iDDPMPrecond,
  iddpmTable,
  Precond,
  type PrecondKwargs,
  type PrecondName,
  PRECONDS,
  VEPrecond,
  VPPrecond,
} from './precond.ts';
export { StreamCounter } from './random.ts';
export { SongUNet, type SongUNetConfig, type UNet } from './song-unet.ts';
export { dropLabels, UNetBase, type UNetConfig } from './unet-base.ts';
export { UNetBlock, type UNetBlockConfig, withSkip } from './unet-block.ts';
export {
  type Arch,
  ARCHS,
  type ArchOptions,
  archKwargs,
  type NetworkSpec,
  networkSpec,
  PRECOND_CHOICES,
  type PrecondChoice,
  RECIPES,
} from './presets.ts';
export { Adam, type AdamConfig, type EmaSchedule, emaBeta, updateEma } from './optim.ts';
export { asDenoiser, type PrecondDenoiser } from './denoiser.ts';
