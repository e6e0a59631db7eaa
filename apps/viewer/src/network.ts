/**
 * Checkpoint bytes to a runnable network, in the browser: the same steps as the trainer's
 * loadNetwork (which reads files through @pfgmpp/io/node and cannot be bundled for a page).
 * Every failure names the file, so the page can show which one could not be read and why.
 */
import { type Checkpoint, readCheckpoint } from '@pfgmpp/io';
import { quantizeState, type StateEntry } from '@pfgmpp/pfgmpp';
import {
  buildPrecond,
  describeReport,
  type Precond,
  type PrecondKwargs,
  reportIsClean,
} from '@pfgmpp/nn';

/** What the page shows about a loaded network. */
export interface NetworkInfo {
  fileName: string;
  className: string;
  architecture: string;
  resolution: number;
  channels: number;
  labelDim: number;
  /** The D the network was trained with; Infinity for diffusion networks. */
  D: number;
  parameters: number;
  format: string;
}

export interface Loaded {
  net: Precond;
  info: NetworkInfo;
  /** Bits the weights are fake-quantized to now; undefined = the file's float32 weights. */
  quant?: number | undefined;
  /** The float32 state, kept once quantization is first asked for, to restore or requantize. */
  float?: Map<string, StateEntry>;
  /** Weight tensors quantized now. */
  quantized?: number;
}

/**
 * Puts the network's weights at `bits` (generate_quant.py's selection and rounding, as
 * `pfgmpp generate --quant`), or back to float32 for undefined. Returns the quantized count.
 */
export async function setQuantization(loaded: Loaded, bits: number | undefined): Promise<number> {
  if (loaded.quant === bits) return loaded.quantized ?? 0;
  loaded.float ??= await loaded.net.stateDict();
  if (bits === undefined) {
    loaded.net.loadStateDict(loaded.float);
    loaded.quantized = 0;
  } else {
    const { state, quantized } = quantizeState(loaded.float, bits);
    loaded.net.loadStateDict(state);
    loaded.quantized = quantized.length;
  }
  loaded.quant = bits;
  return loaded.quantized;
}

/** The trainer's rule: PFGM++ networks carry `pfgmpp: true` and D; others are diffusion. */
function trainedD(net: Precond, kwargs: Record<string, unknown>): number {
  const D = typeof kwargs.D === 'number' ? kwargs.D : (net as { D?: number }).D;
  return kwargs.pfgmpp === true && typeof D === 'number' ? D : Number.POSITIVE_INFINITY;
}

export function loadNetworkBytes(bytes: Uint8Array, fileName: string): Loaded {
  let checkpoint: Checkpoint;
  try {
    checkpoint = readCheckpoint(bytes, { fileName, optimizer: false });
  } catch (e) {
    // io's messages already start with the file name when it is given.
    throw new Error(e instanceof Error ? e.message : String(e), { cause: e });
  }
  if (!checkpoint.initKwargs || !checkpoint.className) {
    throw new Error(
      `${fileName}: the file holds weights but not the network's architecture (class name and ` +
        'constructor keywords); load a network snapshot, a training state or a pickled network',
    );
  }
  // Official pickles spell the class with its module path.
  const className = checkpoint.className.split('.').pop() as string;
  let net: Precond;
  try {
    net = buildPrecond(className, checkpoint.initKwargs as unknown as PrecondKwargs);
  } catch (e) {
    throw new Error(`${fileName}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const sd = new Map(
    [...checkpoint.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]),
  );
  // Official snapshots may lack the resampling filters, which our layers rebuild as constants.
  const report = net.checkStateDict(sd);
  const onlyFilters = report.missing.every((n) => n.endsWith('resample_filter'));
  if (
    !reportIsClean(report) &&
    !(onlyFilters && !report.unexpected.length && !report.misshaped.length)
  )
    throw new Error(`${fileName}: ${describeReport(report)}`);
  net.loadStateDict(sd, { strict: false });
  net.eval();
  const kwargs = checkpoint.initKwargs as Record<string, unknown>;
  const arch = kwargs.model_type ?? kwargs.arch;
  return {
    net,
    info: {
      fileName,
      className,
      architecture: typeof arch === 'string' ? arch : 'unknown',
      resolution: net.imgResolution,
      channels: net.imgChannels,
      labelDim: net.labelDim,
      D: trainedD(net, kwargs),
      parameters: net.parameterCount(),
      format: `${checkpoint.format} (${checkpoint.container})`,
    },
  };
}
