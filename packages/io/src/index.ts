/**
 * @pfgmpp/io: data and checkpoint formats, browser-safe (bytes in, bytes out): arrays and
 * checkpoints, image datasets (ZIP, labels, subset, x-flip, cache, batch sampler), PNG encoding,
 * Pillow-exact Lanczos resizing, CIFAR-10 tarballs and the dataset tool's conversion; one reader
 * for official and project checkpoints (`readCheckpoint`) and our safetensors layout. In Node,
 * `@pfgmpp/io/node` adds files, PNG decoding (pngjs), MNIST and the dataset tool on paths.
 */
export {
  bfloat16ToNumber,
  checkArray,
  type DType,
  DTYPES,
  float16ToNumber,
  itemSize,
  type NdArray,
  numberToBfloat16,
  numberToFloat16,
  sizeOfShape,
  toFloat32,
  type TypedData,
} from './dtype.ts';
export { type Cifar10, readCifar10 } from './dataset/cifar.ts';
export {
  baseName,
  type DatasetOptions,
  type DatasetSource,
  ImageDataset,
  memorySource,
  zipSource,
} from './dataset/dataset.ts';
export {
  checkImage,
  crop,
  flipChw,
  fromChw,
  grayToRgb,
  type Image,
  type ImageDecoder,
  pad,
  toChw,
} from './dataset/image.ts';
export {
  formatDatasetJson,
  type Labels,
  parseDatasetJson,
  type RawLabel,
  resolveLabels,
} from './dataset/labels.ts';
export {
  archiveName,
  type MnistImages,
  type MnistLayout,
  mnistFromDigits,
  mnistSource,
} from './dataset/mnist.ts';
export { compareCodePoints, comparePathParts, isImageName, isUnsafeName } from './dataset/names.ts';
export { encodePng, MAX_PNG_PIXELS, type PngHeader, readPngHeader } from './dataset/png.ts';
export { Mt19937, permutation, roundHalfEven } from './dataset/random.ts';
export { resizeLanczos } from './dataset/resize.ts';
export {
  type Batch,
  BatchSampler,
  EdmOrder,
  EpochOrder,
  type IndexStream,
  type SamplerOptions,
  yieldToEventLoop,
} from './dataset/sampler.ts';
export { readTar, type TarEntry } from './dataset/tar.ts';
export {
  convertDataset,
  makeTransform,
  parseResolution,
  type ToolItem,
  type ToolOptions,
  type ToolOutput,
  type ToolResult,
  type ToolSource,
  type Transform,
  TRANSFORMS,
} from './dataset/tool.ts';
export {
  CHECKPOINT_FORMAT,
  type CheckpointKind,
  type CheckpointParts,
  checkpointFromSafetensors,
  decodeCheckpoint,
  encodeCheckpoint,
  type TensorInput,
} from './checkpoint/layout.ts';
export {
  type Json,
  type JsonObject,
  parseJson,
  pyToJson,
  stringifyJson,
} from './checkpoint/json.ts';
export { adamState } from './checkpoint/optimizer.ts';
export { type ReadCheckpointOptions, readCheckpoint } from './checkpoint/read.ts';
export type {
  Checkpoint,
  CheckpointContainer,
  CheckpointFormat,
  CheckpointPart,
  OptimizerState,
  TensorMap,
} from './checkpoint/types.ts';
export { CheckpointError, FormatError, UnsafePickleError, withFileName } from './errors.ts';
export { parseDescr, readNpy, readNpyHeader, writeNpy, type NpyHeader } from './npy.ts';
export {
  type ArrayMap,
  decodeJsonArray,
  encodeJsonArray,
  npzJson,
  readNpz,
  writeNpz,
} from './npz.ts';
export {
  MAX_HEADER_BYTES,
  readSafetensors,
  type Safetensors,
  writeSafetensors,
} from './safetensors.ts';
export {
  crc32,
  isZip,
  readZipEntries,
  readZipEntry,
  writeZip,
  type ZipEntry,
  type ZipInput,
} from './zip.ts';
export { NumpyArray, NumpyDType, resolveGlobal } from './pickle/globals.ts';
export {
  type Buildable,
  isRebuilder,
  PyGlobal,
  PyObject,
  pyAttributes,
  type Rebuilder,
  rebuilder,
} from './pickle/types.ts';
export {
  describe as describePyValue,
  unpickle,
  unpickleAt,
  type UnpickleOptions,
} from './pickle/vm.ts';
export { storageDType, torchGlobals } from './torch/globals.ts';
export { type LoadOptions, loadLegacy, loadTorch, type TorchCheckpoint } from './torch/load.ts';
export {
  loadTorchStateDict,
  moduleTensors,
  type StateDict,
  type StateDictEntry,
  stateDictOf,
  tensorEntry,
} from './torch/state-dict.ts';
export { STORAGE_DTYPES, TorchStorage, TorchTensor } from './torch/tensor.ts';
