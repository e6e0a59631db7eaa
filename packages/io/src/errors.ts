/** Errors raised by the io package; messages say what is wrong with the bytes and where. */

/** Malformed, truncated or unsupported input, or arguments that cannot be written. */
export class FormatError extends Error {
  override name = 'FormatError';
  /** The file the bytes came from, when known (set by the Node entry or a `fileName` option). */
  file?: string;
}

/**
 * A pickle asked for something the safe reader refuses to do: call or instantiate a global that
 * is not on the allow-list. Nothing was executed; the message names the global.
 */
export class UnsafePickleError extends FormatError {
  override name = 'UnsafePickleError';
}

/**
 * The container was read, but it is not a checkpoint this package understands, or a part the
 * caller needs (network, optimizer state, architecture keywords, step) is missing or malformed.
 */
export class CheckpointError extends FormatError {
  override name = 'CheckpointError';
}

/**
 * The same error with `file: ` in front of its message, keeping its class (so callers can still
 * tell an unsafe pickle from a corrupt one). Errors that are not FormatErrors pass unchanged:
 * they are bugs or I/O failures, not statements about the file's bytes.
 */
export function withFileName(e: unknown, file: string | undefined): unknown {
  if (!(e instanceof FormatError) || file === undefined || e.file === file) return e;
  const Err = e.constructor as new (message: string, options?: ErrorOptions) => FormatError;
  const err = new Err(`${file}: ${e.message}`, { cause: e });
  err.file = file;
  return err;
}
