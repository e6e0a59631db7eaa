/**
 * CIFAR-10's python tarball (`cifar-10-python.tar.gz`): the five training batches
 * `cifar-10-batches-py/data_batch_1..5` (test_batch is not used, as in the official tool), each a
 * Python-2 pickle of a dict with `data` (uint8 [n, 3072]: 1024 R, 1024 G, 1024 B values per
 * image) and `labels` (n ints in 0..9). Read with the safe pickle reader. The official tool also
 * asserts exactly 50,000 images with pixel range 0..255; we accept any count so that small
 * archives in the same layout (the test fixtures) convert too.
 */
import { FormatError } from '../errors.ts';
import { NumpyArray } from '../pickle/globals.ts';
import { unpickle } from '../pickle/vm.ts';
import { readTar } from './tar.ts';

export interface Cifar10 {
  /** [count, 3, 32, 32] uint8, CHW per image. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

const BATCHES = [1, 2, 3, 4, 5].map((i) => `cifar-10-batches-py/data_batch_${i}`);

/** Reads the training batches of a CIFAR-10 python tarball (gzipped or not). */
export function readCifar10(bytes: Uint8Array): Cifar10 {
  const members = new Map(readTar(bytes).map((e) => [e.name.replace(/^\.\//, ''), e.data]));
  const missing = BATCHES.filter((b) => !members.has(b));
  if (missing.length > 0) {
    throw new FormatError(
      `not a CIFAR-10 python archive: missing ${missing.join(', ')} (has ${[...members.keys()].slice(0, 5).join(', ') || 'no files'})`,
    );
  }
  const data: Uint8Array[] = [];
  const labels: number[] = [];
  for (const name of BATCHES) {
    let batch: unknown;
    try {
      batch = unpickle(members.get(name) as Uint8Array);
    } catch (e) {
      throw new FormatError(`${name}: ${(e as Error).message}`, { cause: e });
    }
    const get = (key: string) => (batch instanceof Map ? batch.get(key) : undefined);
    const arr = get('data');
    const lab = get('labels');
    if (!(arr instanceof NumpyArray) || arr.dtype !== 'uint8' || arr.shape.length !== 2) {
      throw new FormatError(`${name}: 'data' is not a 2-d uint8 array`);
    }
    const [n, width] = arr.shape as [number, number];
    if (width !== 3072)
      throw new FormatError(`${name}: 'data' rows have ${width} values, not 3072`);
    if (!Array.isArray(lab) || lab.length !== n) {
      throw new FormatError(`${name}: 'labels' is not a list of ${n} class ids`);
    }
    lab.forEach((l, i) => {
      if (!(Number.isInteger(l) && l >= 0 && l <= 9)) {
        throw new FormatError(`${name}: label ${i} is ${String(l)}, not in 0..9`);
      }
    });
    data.push(arr.data as Uint8Array);
    for (const l of lab as number[]) labels.push(l);
  }
  const count = labels.length;
  const images = new Uint8Array(count * 3072);
  let at = 0;
  for (const d of data) {
    images.set(d, at);
    at += d.length;
  }
  return { images, labels: Uint8Array.from(labels), count };
}
