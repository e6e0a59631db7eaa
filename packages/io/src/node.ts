/**
 * Node entry: the formats of `@pfgmpp/io` on files, PNG decoding (pngjs), datasets from files
 * and the built-in MNIST digits, and the dataset tool. Reads name the file in their errors; writes
 * are atomic (a temporary file in the same folder, then rename), so a failed or interrupted
 * write never leaves a partial file under the final name.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { NdArray } from './dtype.ts';
import { withFileName } from './errors.ts';
import { type ArrayMap, readNpz as decodeNpz, writeNpz as encodeNpz } from './npz.ts';
import {
  readSafetensors as decodeSafetensors,
  type Safetensors,
  writeSafetensors as encodeSafetensors,
} from './safetensors.ts';
import { type CheckpointParts, encodeCheckpoint } from './checkpoint/layout.ts';
import { type ReadCheckpointOptions, readCheckpoint } from './checkpoint/read.ts';
import type { Checkpoint } from './checkpoint/types.ts';
import { type LoadOptions, loadTorch, type TorchCheckpoint } from './torch/load.ts';
import { type StateDict, stateDictOf } from './torch/state-dict.ts';

export * from './index.ts';
export {
  decodeImage,
  folderSource,
  loadMnist,
  mnistDataset,
  openDataset,
  openSource,
} from './node/dataset.ts';
export { decodePng } from './node/png.ts';
export { type DatasetToolOptions, openToolSource, runDatasetTool } from './node/tool.ts';

/** Re-raises a format error with the file name in front, keeping its class. */
function withFile<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw withFileName(e, path);
  }
}

async function read(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`, { cause: e });
  }
}

/** Writes `bytes` to `path` through a temporary sibling and a rename. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, bytes, { flush: true });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new Error(`${path}: cannot write (${(e as Error).message})`, { cause: e });
  }
}

export async function readNpz(path: string): Promise<Map<string, NdArray>> {
  const bytes = await read(path);
  return withFile(path, () => decodeNpz(bytes));
}

export async function writeNpz(
  path: string,
  arrays: ArrayMap,
  options: { compress?: boolean } = {},
): Promise<void> {
  const bytes = withFile(path, () => encodeNpz(arrays, options));
  await writeFileAtomic(path, bytes);
}

export async function readSafetensors(path: string): Promise<Safetensors> {
  const bytes = await read(path);
  return withFile(path, () => decodeSafetensors(bytes));
}

export async function writeSafetensors(
  path: string,
  tensors: Map<string, NdArray> | Record<string, NdArray>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const bytes = withFile(path, () => encodeSafetensors(tensors, metadata));
  await writeFileAtomic(path, bytes);
}

/** Loads a torch checkpoint (.pt zip or legacy, or a plain .pkl). */
export async function loadTorchFile(
  path: string,
  opts: LoadOptions = {},
): Promise<TorchCheckpoint> {
  const bytes = await read(path);
  return withFile(path, () => loadTorch(bytes, opts));
}

/** The state dict of a torch checkpoint file; `key` selects e.g. 'ema' from a dict. */
export async function loadTorchStateDictFile(
  path: string,
  opts: LoadOptions & { key?: string } = {},
): Promise<StateDict> {
  const bytes = await read(path);
  return withFile(path, () => stateDictOf(loadTorch(bytes, opts).value, opts.key));
}

/** Reads any checkpoint file (official .pt/.pkl or ours); errors start with the path. */
export async function readCheckpointFile(
  path: string,
  opts: ReadCheckpointOptions = {},
): Promise<Checkpoint> {
  const bytes = await read(path);
  return readCheckpoint(bytes, { ...opts, fileName: opts.fileName ?? path });
}

/** Writes a checkpoint of ours (safetensors) atomically: never a partial file under `path`. */
export async function writeCheckpointFile(path: string, parts: CheckpointParts): Promise<void> {
  const bytes = withFile(path, () => encodeCheckpoint(parts));
  await writeFileAtomic(path, bytes);
}
