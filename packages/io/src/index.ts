/**
 * @pfgmpp/io: data and checkpoint formats, browser-safe (bytes in, bytes out). In Node,
 * `@pfgmpp/io/node` adds file reading and atomic writing.
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
export { FormatError, UnsafePickleError } from './errors.ts';
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
} from './torch/state-dict.ts';
export { STORAGE_DTYPES, TorchStorage, TorchTensor } from './torch/tensor.ts';
