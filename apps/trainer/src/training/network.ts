/**
 * Networks in and out of files: builds the preconditioned network a checkpoint describes (class
 * name + `_init_kwargs`, ours or official) and loads its weights by state-dict name; writes
 * snapshots and training states (safetensors, atomically).
 */
import type { Checkpoint, JsonObject, TensorInput, TensorMap } from '@pfgmpp/io';
import { readCheckpointFile, writeCheckpointFile } from '@pfgmpp/io/node';
import { buildPrecond, type Precond, type PrecondKwargs, type StateDict } from '@pfgmpp/nn';

/** Official pickles spell the class with its module path. */
export function shortClassName(name: string): string {
  return name.split('.').pop() as string;
}

/** The network a checkpoint describes, with the weights to run (EMA when present). */
/** The D a network stores: EDMPrecond's, or the keywords PFGM++'s training passes every net. */
export function storedD(net: Precond, kwargs: Record<string, unknown>): number | undefined {
  const D = (net as { D?: unknown }).D ?? kwargs.D;
  return typeof D === 'number' ? D : undefined;
}

export async function loadNetwork(
  path: string,
  which: 'run' | 'net' | 'ema' = 'run',
): Promise<{ net: Precond; checkpoint: Checkpoint }> {
  const checkpoint = await readCheckpointFile(path, { optimizer: false });
  if (!checkpoint.initKwargs || !checkpoint.className) {
    throw new Error(
      `${path}: the file holds weights but not the network's architecture (class name and constructor keywords); ` +
        'use a training state, a network snapshot or a pickled network',
    );
  }
  const net = buildPrecond(
    shortClassName(checkpoint.className),
    checkpoint.initKwargs as unknown as PrecondKwargs,
  );
  const tensors =
    which === 'net' ? checkpoint.net : which === 'ema' ? checkpoint.ema : checkpoint.tensors;
  if (!tensors) throw new Error(`${path}: the file has no ${which} network`);
  loadInto(net, tensors, path);
  return { net, checkpoint };
}

/** Loads every tensor by name; a mismatch is an error that lists the names. */
export function loadInto(net: Precond, tensors: TensorMap | StateDict, what: string): void {
  try {
    net.loadStateDict(toInputs(tensors), { allowMissingConstants: true });
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

/**
 * What a --transfer source lacks or has extra, or null when it fits exactly (then everything,
 * optimizer and step included, is restored). A tensor of another shape is an error.
 */
export function transferReport(
  net: Precond,
  tensors: TensorMap | StateDict,
  what: string,
): { copied: number; missing: string[]; unexpected: string[] } | null {
  const r = net.checkStateDict(toInputs(tensors));
  if (r.misshaped.length) {
    throw new Error(
      `${what}: cannot transfer, mis-shaped tensors: ${r.misshaped
        .map((m) => `${m.name} (file ${m.got.join('x')}, network ${m.expected.join('x')})`)
        .join(', ')}`,
    );
  }
  // Constant buffers (resample filters) are rebuilt by the network, not taken from files.
  const slots = new Map(net.namedSlots());
  const missing = r.missing.filter((n) => slots.get(n)?.init.kind !== 'data');
  if (!missing.length && !r.unexpected.length) return null;
  return { copied: slots.size - r.missing.length, missing, unexpected: r.unexpected };
}

export function toInputs(tensors: TensorMap | StateDict): Map<string, TensorInput> {
  return new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
}

export interface SnapshotParts {
  className: string;
  initKwargs: JsonObject;
  ema: StateDict;
  step: number;
  extra?: Record<string, string>;
}

export async function writeSnapshot(path: string, p: SnapshotParts): Promise<void> {
  await writeCheckpointFile(path, {
    kind: 'network-snapshot',
    className: p.className,
    initKwargs: p.initKwargs,
    ema: toInputs(p.ema),
    step: p.step,
    ...(p.extra && { extra: p.extra }),
  });
}
