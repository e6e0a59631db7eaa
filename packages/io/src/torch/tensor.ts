/**
 * Torch storages and tensors as the loaders rebuild them: a tensor is a strided view of a
 * storage; `toArray()` copies it out as a contiguous C-ordered array of the storage's dtype.
 */
import {
  type DType,
  itemSize,
  type NdArray,
  sizeOfShape,
  typedFromBytes,
  type TypedData,
} from '../dtype.ts';
import { FormatError } from '../errors.ts';

/** torch.<Name>Storage class names and the element type they hold. */
export const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

/** The largest contiguous copy `toArray` makes (2 GiB, what every JS engine can allocate). */
export const MAX_COPY_BYTES = 2 ** 31 - 1;

export class TorchStorage {
  /** Raw bytes, attached once the loader reaches the storage's data. */
  bytes: Uint8Array | undefined;
  bigEndian = false;

  constructor(
    readonly key: string,
    readonly dtype: DType,
    /** Element count the pickle claims. */
    readonly numel: number,
    readonly location: string,
  ) {}

  attach(bytes: Uint8Array, bigEndian: boolean, source: string): void {
    const need = this.numel * itemSize(this.dtype);
    if (bytes.length < need) {
      throw new FormatError(
        `storage '${this.key}' (${this.dtype}, ${this.numel} elements = ${need} bytes) has only ${bytes.length} bytes in ${source} (truncated?)`,
      );
    }
    this.bytes = bytes;
    this.bigEndian = bigEndian;
  }
}

export class TorchTensor {
  isParameter = false;
  /** Python attributes set by BUILD or `_rebuild_parameter_with_state`, if any. */
  state: unknown = undefined;

  constructor(
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
    public requiresGrad: boolean,
  ) {
    const what = `tensor on storage '${storage.key}'`;
    if (shape.length !== stride.length) {
      throw new FormatError(`${what}: size [${shape}] and stride [${stride}] differ in length`);
    }
    if (!Number.isSafeInteger(storageOffset) || storageOffset < 0) {
      throw new FormatError(`${what}: bad storage offset ${storageOffset}`);
    }
    if (stride.some((s) => !Number.isSafeInteger(s) || s < 0)) {
      throw new FormatError(`${what}: bad stride [${stride}]`);
    }
    const n = sizeOfShape(shape, `${what}: size`);
    if (n > 0) {
      const last = shape.reduce(
        (acc, d, i) => acc + (d - 1) * (stride[i] as number),
        storageOffset,
      );
      if (last >= storage.numel) {
        throw new FormatError(
          `${what}: size [${shape}] stride [${stride}] offset ${storageOffset} reaches element ${last}, but the storage has ${storage.numel}`,
        );
      }
    }
  }

  get dtype(): DType {
    return this.storage.dtype;
  }

  setState(state: unknown): void {
    this.state = state;
  }

  isContiguous(): boolean {
    let expect = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      const d = this.shape[i] as number;
      if (d !== 1 && this.stride[i] !== expect) return false;
      expect *= d;
    }
    return true;
  }

  /** A contiguous copy in the storage's dtype (native byte order). */
  toArray(): NdArray {
    const { storage, shape, stride } = this;
    const n = sizeOfShape(shape);
    const dtype = storage.dtype;
    // Only expanded views (stride 0) can be larger than their storage; refuse what no typed
    // array can hold rather than fail with a RangeError while allocating.
    if (n * itemSize(dtype) > MAX_COPY_BYTES) {
      throw new FormatError(
        `tensor on storage '${storage.key}' of size [${shape}] needs ${n * itemSize(dtype)} bytes, more than the ${MAX_COPY_BYTES} a copy may have`,
      );
    }
    if (n === 0)
      return { dtype, shape: [...shape], data: typedFromBytes(dtype, new Uint8Array(0)) };
    if (!storage.bytes) throw new FormatError(`storage '${storage.key}' has no data in the file`);
    const size = itemSize(dtype);
    const last = shape.reduce((acc, d, i) => acc + (d - 1) * (stride[i] as number), 0);
    const region = storage.bytes.subarray(
      this.storageOffset * size,
      (this.storageOffset + last + 1) * size,
    );
    const src = typedFromBytes(dtype, region, storage.bigEndian);
    if (this.isContiguous()) return { dtype, shape: [...shape], data: src };
    const out = typedFromBytes(dtype, new Uint8Array(n * size));
    gather(src as Indexable, out as Indexable, shape, stride);
    return { dtype, shape: [...shape], data: out };
  }
}

type Indexable = { [i: number]: number | bigint; length: number } & TypedData;

/** out[i] = src[Σ index_k · stride_k] over the C-ordered indices of `shape`. */
function gather(src: Indexable, out: Indexable, shape: number[], stride: number[]): void {
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let at = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = src[at] as number;
    for (let k = rank - 1; k >= 0; k--) {
      idx[k] = (idx[k] as number) + 1;
      at += stride[k] as number;
      if ((idx[k] as number) < (shape[k] as number)) break;
      at -= (shape[k] as number) * (stride[k] as number);
      idx[k] = 0;
    }
  }
}
