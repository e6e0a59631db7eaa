/** Errors raised by the io package; messages say what is wrong with the bytes and where. */

/** Malformed, truncated or unsupported input, or arguments that cannot be written. */
export class FormatError extends Error {
  override name = 'FormatError';
  /** The file the bytes came from, when known (set by the Node entry). */
  file?: string;
}

/**
 * A pickle asked for something the safe reader refuses to do: call or instantiate a global that
 * is not on the allow-list. Nothing was executed; the message names the global.
 */
export class UnsafePickleError extends FormatError {
  override name = 'UnsafePickleError';
}
