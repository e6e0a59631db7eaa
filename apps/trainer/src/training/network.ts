/**
 * What training adds to networks in files: the --transfer check and network snapshots
 * (safetensors, atomically). Building a network from a checkpoint is @pfgmpp/pfgmpp's
 * networkFromCheckpoint (`loadNetwork` on a path in @pfgmpp/pfgmpp/node).
 */
import type { JsonObject, TensorMap } from '@pfgmpp/io';
import { writeCheckpointFile } from '@pfgmpp/io/node';
import type { Precond, StateDict } from '@pfgmpp/nn';
import { tensorInputs } from '@pfgmpp/pfgmpp';

/**
 * What a --transfer source lacks or has extra, or null when it fits exactly (then everything,
 * optimizer and step included, is restored). A tensor of another shape is an error.
 */
export function transferReport(
  net: Precond,
  tensors: TensorMap | StateDict,
  what: string,
): { copied: number; missing: string[]; unexpected: string[] } | null {
  const r = net.checkStateDict(tensorInputs(tensors));
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
    ema: tensorInputs(p.ema),
    step: p.step,
    ...(p.extra && { extra: p.extra }),
  });
}
