/**
 * A parsed checkpoint (ours or an official .pt/.pkl, from @pfgmpp/io's readCheckpoint) to a
 * network ready to sample: the preconditioned network its class name and constructor keywords
 * describe, its weights loaded by state-dict name, and the D to sample with.
 *
 * It lives here because it needs io's Checkpoint and nn's buildPrecond, both browser-safe, so
 * the viewer bundles the same code the command line runs; and the D rule is PFGM++'s (the
 * `pfgmpp` keyword of its training loop), which nn does not know. Reading a file by path is in
 * the Node entry (`@pfgmpp/pfgmpp/node`).
 */
import type { Checkpoint, TensorInput, TensorMap } from '@pfgmpp/io';
import { buildPrecond, type Precond, type PrecondKwargs, type StateDict } from '@pfgmpp/nn';

/** Which tensors to load: `run` = the EMA when the file has one (as generate.py), else its net. */
export type NetworkPart = 'run' | 'net' | 'ema';

export interface LoadedNetwork {
  /** In eval mode, weights loaded. */
  net: Precond;
  checkpoint: Checkpoint;
  /** The class name without the module path, e.g. 'EDMPrecond'. */
  className: string;
  /** The D to sample with by default: samplingD's rule. */
  D: number;
}

/** Official pickles spell the class with its module path. */
export function shortClassName(name: string): string {
  return name.split('.').pop() as string;
}

/** The D a network stores: EDMPrecond's, or the keywords PFGM++'s training passes every net. */
export function storedD(net: Precond, kwargs: Record<string, unknown>): number | undefined {
  const D = (net as { D?: unknown }).D ?? kwargs.D;
  return typeof D === 'number' ? D : undefined;
}

/**
 * The D to sample with: the stored one if trained as PFGM++ (`pfgmpp: true`), else Infinity
 * (diffusion). EDMPrecond stores a D even for diffusion, so the flag decides, not the D.
 */
export function samplingD(net: Precond, kwargs: Record<string, unknown>): number {
  const D = storedD(net, kwargs);
  return kwargs.pfgmpp === true && D !== undefined ? D : Number.POSITIVE_INFINITY;
}

/** Tensors of a file or of a network as the inputs `loadStateDict` and the writers take. */
export function tensorInputs(tensors: TensorMap | StateDict): Map<string, TensorInput> {
  return new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
}

/**
 * Loads every tensor by name; a mismatch is one error, starting with `what`, that lists the
 * names. Missing constant buffers are rebuilt, as some official snapshots omit them.
 */
export function loadWeights(net: Precond, tensors: TensorMap | StateDict, what: string): void {
  try {
    net.loadStateDict(tensorInputs(tensors), { allowMissingConstants: true });
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The network `checkpoint` describes with the `which` tensors loaded. Errors start with `name`
 * (default: the checkpoint's file name). The caller owns the network (dispose it).
 */
export function networkFromCheckpoint(
  checkpoint: Checkpoint,
  options: { which?: NetworkPart; name?: string } = {},
): LoadedNetwork {
  const which = options.which ?? 'run';
  const name = options.name ?? checkpoint.fileName ?? 'checkpoint';
  if (!checkpoint.initKwargs || !checkpoint.className) {
    throw new Error(
      `${name}: the file holds weights but not the network's architecture (class name and ` +
        'constructor keywords); use a training state, a network snapshot or a pickled network',
    );
  }
  const tensors =
    which === 'net' ? checkpoint.net : which === 'ema' ? checkpoint.ema : checkpoint.tensors;
  if (!tensors) throw new Error(`${name}: the file has no ${which} network`);
  const className = shortClassName(checkpoint.className);
  const kwargs = checkpoint.initKwargs as Record<string, unknown>;
  let net: Precond;
  try {
    net = buildPrecond(className, kwargs as unknown as PrecondKwargs);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`, { cause: e });
  }
  try {
    loadWeights(net, tensors, name);
  } catch (e) {
    net.dispose();
    throw e;
  }
  net.eval();
  return { net, checkpoint, className, D: samplingD(net, kwargs) };
}
