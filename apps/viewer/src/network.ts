/**
 * Checkpoint bytes to a runnable network, in the browser: @pfgmpp/pfgmpp's networkFromCheckpoint
 * (the loader the command line uses) on the bytes, plus what the page shows about the network
 * and the weight quantization it switches on and off.
 */
import { readCheckpoint } from '@pfgmpp/io';
import type { Precond } from '@pfgmpp/nn';
import { networkFromCheckpoint, quantizeState, type StateEntry } from '@pfgmpp/pfgmpp';

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

export function loadNetworkBytes(bytes: Uint8Array, fileName: string): Loaded {
  // io's errors and the loader's start with the file name, so the page can show which failed.
  const { net, checkpoint, className, D } = networkFromCheckpoint(
    readCheckpoint(bytes, { fileName, optimizer: false }),
  );
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
      D,
      parameters: net.parameterCount(),
      format: `${checkpoint.format} (${checkpoint.container})`,
    },
  };
}
