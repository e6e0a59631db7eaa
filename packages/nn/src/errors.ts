/** Wrong configuration or state-dict contents for a network; the message says what and where. */
export class NnError extends Error {
  override name = 'NnError';
}
