/**
 * The kernel rows a training run used (`kernels.json` in its run folder): which row of the
 * convolution and matmul tables ran each shape. `--resume` pins them, so the resumed run
 * computes bit for bit what the uninterrupted run computed, even where the kernel-choice cache
 * is gone or was tuned again to other rows.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@pfgmpp/io/node';
import type { Gpu } from '@pfgmpp/tensor/node';

export const KERNEL_RECORD = 'kernels.json';

export interface KernelRecord {
  format: 'pfgmpp-kernel-rows';
  adapter: { vendor: string; architecture: string; device: string; description: string };
  /** Shape key (see the kernel tables) -> row name. */
  rows: Record<string, string>;
}

/** Writes the rows this process has run so far into `runDir/kernels.json`. */
export async function writeKernelRecord(runDir: string, gpu: Gpu): Promise<void> {
  const info = gpu.adapterInfo;
  const record: KernelRecord = {
    format: 'pfgmpp-kernel-rows',
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
    },
    rows: gpu.kernels.usedRows(),
  };
  const text = `${JSON.stringify(record, null, 1)}\n`;
  await writeFileAtomic(join(runDir, KERNEL_RECORD), new TextEncoder().encode(text));
}

/**
 * The record in `runDir`, or null when there is none. A file that is not a kernel record
 * throws, naming it: resuming with other rows than the original run would go unnoticed.
 */
export async function readKernelRecord(runDir: string): Promise<KernelRecord | null> {
  const path = join(runDir, KERNEL_RECORD);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  let parsed: KernelRecord;
  try {
    parsed = JSON.parse(text) as KernelRecord;
  } catch {
    throw new Error(`${path}: not valid JSON (delete it to choose the kernel rows afresh)`);
  }
  const rows = parsed?.rows;
  if (
    parsed?.format !== 'pfgmpp-kernel-rows' ||
    typeof rows !== 'object' ||
    rows === null ||
    !Object.values(rows).every((v) => typeof v === 'string')
  ) {
    throw new Error(`${path}: not a kernel-rows record (delete it to choose the rows afresh)`);
  }
  return parsed;
}
