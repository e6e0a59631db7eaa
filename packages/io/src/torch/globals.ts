/**
 * Torch's part of the allow-list: tensor and parameter rebuilders, storage classes (as data for
 * persistent ids), torch.Size/device, and EDM's persistent-class reconstructor, which becomes an
 * inert object holding the class name and instance state (its embedded source is never run).
 */
import { FormatError } from '../errors.ts';
import { isRebuilder, PyObject, type Rebuilder, rebuilder } from '../pickle/types.ts';
import { STORAGE_DTYPES, TorchStorage, TorchTensor } from './tensor.ts';

function ints(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) {
    throw new FormatError(`${what} is not a tuple of ints`);
  }
  return v as number[];
}

function rebuildTensor(args: unknown[]): TorchTensor {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof TorchStorage)) throw new FormatError('tensor rebuild without a storage');
  if (typeof offset !== 'number') throw new FormatError('tensor storage offset is not an int');
  return new TorchTensor(
    storage,
    offset,
    ints(size, 'tensor size'),
    ints(stride, 'tensor stride'),
    requiresGrad === true,
  );
}

function asParameter([tensor, requiresGrad, , state]: unknown[]): TorchTensor {
  if (!(tensor instanceof TorchTensor))
    throw new FormatError('_rebuild_parameter without a tensor');
  tensor.isParameter = true;
  tensor.requiresGrad = requiresGrad === true;
  if (state !== undefined) tensor.state = state;
  return tensor;
}

function persistentObject([meta]: unknown[]): PyObject {
  if (!(meta instanceof Map))
    throw new FormatError('_reconstruct_persistent_obj needs a meta dict');
  const className = meta.get('class_name');
  if (typeof className !== 'string')
    throw new FormatError('persistent object meta has no class_name');
  const obj = new PyObject('torch_utils.persistence', className);
  obj.state = meta.get('state');
  return obj;
}

/**
 * The torch rebuilders keyed 'module.name'. `loadFromBytes` turns a legacy-serialized storage
 * blob (torch.storage._load_from_bytes in plain .pkl files) into its storage.
 */
export function torchGlobals(loadFromBytes: (blob: Uint8Array) => unknown): Map<string, Rebuilder> {
  const list: Rebuilder[] = [
    rebuilder('torch._utils', '_rebuild_tensor_v2', { call: rebuildTensor }),
    rebuilder('torch._utils', '_rebuild_tensor', { call: rebuildTensor }),
    rebuilder('torch._utils', '_rebuild_parameter', { call: asParameter }),
    rebuilder('torch._utils', '_rebuild_parameter_with_state', { call: asParameter }),
    rebuilder('torch._tensor', '_rebuild_from_type_v2', {
      call: ([fn, , args, state]) => {
        if (!isRebuilder(fn) || !fn.call || !Array.isArray(args)) {
          throw new FormatError('_rebuild_from_type_v2 needs an allow-listed rebuild function');
        }
        const t = fn.call(args);
        if (t instanceof TorchTensor && state !== undefined && state !== null) t.state = state;
        return t;
      },
    }),
    rebuilder('torch', 'Size', { call: ([dims]) => [...ints(dims ?? [], 'torch.Size')] }),
    rebuilder('torch', 'device', {
      call: ([type, index]) =>
        typeof index === 'number' ? `${String(type)}:${index}` : String(type),
    }),
    rebuilder('torch.storage', '_load_from_bytes', {
      call: ([blob]) => {
        if (!(blob instanceof Uint8Array)) throw new FormatError('_load_from_bytes needs bytes');
        return loadFromBytes(blob);
      },
    }),
    rebuilder('torch_utils.persistence', '_reconstruct_persistent_obj', { call: persistentObject }),
  ];
  for (const name of Object.keys(STORAGE_DTYPES)) {
    list.push(rebuilder('torch', name, {}), rebuilder('torch.cuda', name, {}));
  }
  list.push(rebuilder('torch.storage', 'UntypedStorage', {}));
  return new Map(list.map((r) => [`${r.module}.${r.name}`, r]));
}

/** The dtype a storage-class global stands for, or undefined when it is not a known storage. */
export function storageDType(cls: unknown): string | undefined {
  if (!isRebuilder(cls)) return undefined;
  if (cls.module !== 'torch' && cls.module !== 'torch.cuda' && cls.module !== 'torch.storage')
    return undefined;
  return STORAGE_DTYPES[cls.name];
}
