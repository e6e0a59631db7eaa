/**
 * Where training-time randomness of a network comes from (dropout masks, label dropout): one
 * Philox seed and a counter of streams, advanced once per random op in forward order. Saving
 * `{seed, counter}` with a training state makes a resumed run draw the same masks.
 */
export class StreamCounter {
  constructor(
    public seed = 0,
    public counter = 0,
  ) {}

  /** The next unused stream. */
  next(): number {
    return this.counter++;
  }
}
