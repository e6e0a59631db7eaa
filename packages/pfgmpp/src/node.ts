/**
 * Node entry: everything of `@pfgmpp/pfgmpp` plus the network loader on a file path (the
 * browser-safe index takes checkpoint bytes already parsed; files need @pfgmpp/io/node).
 */
import { readCheckpointFile } from '@pfgmpp/io/node';
import { type LoadedNetwork, type NetworkPart, networkFromCheckpoint } from './network.ts';

export * from './index.ts';

/** Reads `path` (ours or an official .pt/.pkl) and builds its network; errors start with it. */
export async function loadNetwork(
  path: string,
  which: NetworkPart = 'run',
): Promise<LoadedNetwork> {
  const checkpoint = await readCheckpointFile(path, { optimizer: false });
  return networkFromCheckpoint(checkpoint, { which, name: path });
}
