/**
 * PyTorch checkpoints without PyTorch: the zip format of torch.save (torch >= 1.6), the legacy
 * format (magic number, protocol, sys_info, object pickle, storage keys, raw storages; also the
 * blobs inside plain .pkl files) and plain pickles such as EDM's network snapshots. Only the
 * allow-listed globals are rebuilt (see pickle/globals.ts and torch/globals.ts).
 */
import { type DType, itemSize } from '../dtype.ts';
import { FormatError } from '../errors.ts';
import { decodeLatin1 } from '../latin1.ts';
import { describe, type UnpickleOptions, unpickle, unpickleAt } from '../pickle/vm.ts';
import { isZip, readZipEntries, readZipEntry, type ZipEntry } from '../zip.ts';
import { storageDType, torchGlobals } from './globals.ts';
import { TorchStorage } from './tensor.ts';

export interface TorchCheckpoint {
  format: 'zip' | 'legacy' | 'pickle';
  /** The unpickled object: usually a Map (state dict) or inert PyObjects (pickled modules). */
  value: unknown;
  /** Every storage the file defines, by key ('<blob index>/<key>' for blobs inside a plain pickle). */
  storages: Map<string, TorchStorage>;
}

export interface LoadOptions {
  /** Limits for the pickle machine (see UnpickleOptions). */
  limits?: Pick<UnpickleOptions, 'maxStack' | 'maxMemo' | 'maxMarks'>;
  /** Verify ZIP CRCs (default true). */
  verifyCrc?: boolean;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** A pid ('storage', class, key, location, numel[, view_metadata]) as a storage, created once. */
function storageLoader(storages: Map<string, TorchStorage>) {
  return (pid: unknown): TorchStorage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
      // describe(), not String(): a hostile id can be a list nested 100,000 deep.
      const head =
        Array.isArray(pid) && typeof pid[0] === 'string' ? ` '${pid[0].slice(0, 40)}'` : '';
      throw new FormatError(
        `unsupported persistent id (a ${describe(pid)}${head}; not a torch storage)`,
      );
    }
    const [, cls, key, location, numel, view] = pid;
    const dtype = storageDType(cls) as DType | undefined;
    if (!dtype) {
      const name = (cls as { module?: string; name?: string }) ?? {};
      throw new FormatError(`unsupported storage type ${name.module}.${name.name}`);
    }
    if (
      typeof key !== 'string' ||
      typeof numel !== 'number' ||
      !Number.isSafeInteger(numel) ||
      numel < 0
    ) {
      throw new FormatError('malformed storage persistent id (key or numel)');
    }
    if (view !== undefined && view !== null) {
      throw new FormatError('storage views (view_metadata, torch < 0.4 files) are not supported');
    }
    const seen = storages.get(key);
    if (seen) {
      if (seen.dtype !== dtype)
        throw new FormatError(`storage '${key}' is used as ${seen.dtype} and ${dtype}`);
      return seen;
    }
    const s = new TorchStorage(key, dtype, numel, String(location));
    storages.set(key, s);
    return s;
  };
}

function options(storages: Map<string, TorchStorage>, opts: LoadOptions): UnpickleOptions {
  // Storages embedded as legacy blobs (.pkl files) join the outer list as '<blob index>/<key>'.
  let blobs = 0;
  const globals = torchGlobals((blob) => {
    const inner = loadLegacy(blob, opts);
    for (const s of inner.storages.values()) storages.set(`${blobs}/${s.key}`, s);
    blobs++;
    return inner.value;
  });
  return { ...opts.limits, globals, persistentLoad: storageLoader(storages) };
}

/** Reads any torch checkpoint: zip, legacy, or a plain pickle (EDM .pkl). */
export function loadTorch(bytes: Uint8Array, opts: LoadOptions = {}): TorchCheckpoint {
  if (isZip(bytes)) return loadZip(bytes, opts);
  const head = decodeLatin1(bytes.subarray(0, 8));
  if (head === 'PYTORCH1')
    throw new FormatError(
      'the PYTORCH1 preview format is not supported (not a checkpoint torch.load reads either)',
    );
  if (bytes.length > 262 && decodeLatin1(bytes.subarray(257, 262)) === 'ustar') {
    throw new FormatError(
      'tar-format torch checkpoints (torch < 0.4) are not supported; re-save with torch.save',
    );
  }
  if (bytes[0] !== 0x80) {
    throw new FormatError(
      'not a torch checkpoint: neither a ZIP archive nor a pickle (wrong magic bytes)',
    );
  }
  if (isLegacy(bytes)) return loadLegacy(bytes, opts);
  const storages = new Map<string, TorchStorage>();
  const value = unpickle(bytes, options(storages, opts));
  return { format: 'pickle', value, storages };
}

/** Legacy files open with the pickled magic number: PROTO n, LONG1 of 10 bytes, STOP. */
function isLegacy(bytes: Uint8Array): boolean {
  if (bytes.length < 15 || bytes[2] !== 0x8a || bytes[3] !== 10 || bytes[14] !== 0x2e) return false;
  let v = 0n;
  for (let k = 13; k >= 4; k--) v = (v << 8n) | BigInt(bytes[k] as number);
  return v === LEGACY_MAGIC;
}

function loadZip(bytes: Uint8Array, opts: LoadOptions): TorchCheckpoint {
  const entries = readZipEntries(bytes);
  const first = entries[0];
  if (!first) throw new FormatError('torch zip archive is empty');
  // The folder name is the file's stem ("archive" when saved to a stream): take it from an entry.
  const pkl = entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (!pkl) {
    const code = entries.some((e) => e.name.endsWith('/constants.pkl'));
    throw new FormatError(
      code
        ? 'this is a TorchScript archive, not a torch.save checkpoint'
        : 'torch zip archive has no <folder>/data.pkl',
    );
  }
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const byName = new Map<string, ZipEntry>(entries.map((e) => [e.name, e]));
  const order = byName.get(`${prefix}byteorder`);
  const orderText = order ? new TextDecoder().decode(readZipEntry(bytes, order)).trim() : 'little';
  if (orderText !== 'little' && orderText !== 'big')
    throw new FormatError(`unknown byteorder record '${orderText}'`);
  const storages = new Map<string, TorchStorage>();
  const value = unpickle(readZipEntry(bytes, pkl, opts.verifyCrc ?? true), options(storages, opts));
  for (const s of storages.values()) {
    const name = `${prefix}data/${s.key}`;
    const entry = byName.get(name);
    if (!entry) throw new FormatError(`storage '${s.key}' has no record ${name} in the archive`);
    s.attach(readZipEntry(bytes, entry, opts.verifyCrc ?? true), orderText === 'big', name);
  }
  return { format: 'zip', value, storages };
}

/** The legacy format; also what torch.storage._load_from_bytes reads. */
export function loadLegacy(bytes: Uint8Array, opts: LoadOptions = {}): TorchCheckpoint {
  let at = 0;
  const next = (o?: UnpickleOptions) => {
    const r = unpickleAt(bytes, at, o ?? { ...opts.limits });
    at = r.end;
    return r.value;
  };
  if (next() !== LEGACY_MAGIC) throw new FormatError('not a legacy torch file: wrong magic number');
  const protocol = next();
  if (protocol !== LEGACY_PROTOCOL)
    throw new FormatError(`unsupported legacy torch protocol ${String(protocol)} (1001 is read)`);
  const sysInfo = next();
  const littleEndian = !(sysInfo instanceof Map) || sysInfo.get('little_endian') !== false;
  const storages = new Map<string, TorchStorage>();
  const value = next(options(storages, opts));
  const keys = next();
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) {
    throw new FormatError('legacy torch file: the storage key list is not a list of strings');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys as string[]) {
    const s = storages.get(key);
    if (!s)
      throw new FormatError(`legacy torch file lists storage '${key}' that the object never uses`);
    if (at + 8 > bytes.length)
      throw new FormatError(`truncated legacy torch file: storage '${key}' missing`);
    const count = view.getBigInt64(at, littleEndian);
    if (count !== BigInt(s.numel)) {
      throw new FormatError(
        `legacy torch file: storage '${key}' holds ${count} elements, the pickle says ${s.numel}`,
      );
    }
    const size = s.numel * itemSize(s.dtype);
    if (at + 8 + size > bytes.length) {
      throw new FormatError(
        `truncated legacy torch file: storage '${key}' needs ${size} bytes at ${at + 8}, file has ${bytes.length}`,
      );
    }
    s.attach(bytes.subarray(at + 8, at + 8 + size), !littleEndian, `storage '${key}'`);
    at += 8 + size;
  }
  for (const s of storages.values()) {
    if (!s.bytes)
      throw new FormatError(`legacy torch file: storage '${s.key}' is used but never stored`);
  }
  return { format: 'legacy', value, storages };
}
