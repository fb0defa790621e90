/**
 * A bound on the request bytes a door holds decoded at once.
 *
 * Decoding turns a request's bytes into strings on the V8 heap (up to twice
 * their size for text outside Latin-1), and a request that waits — for a
 * signature check on the thread pool, a key fetch, a store — keeps them alive.
 * Without a bound, a few hundred concurrent 4 MB CheckRequests (the gRPC
 * message limit) exhausted the 160 MB heap the service ships with and the
 * process died. Past the bound the door answers "overloaded" without
 * decoding, so memory stays bounded and the answer is still a denial.
 *
 * Single-threaded use only (the event loop): take and release are plain
 * arithmetic, a few nanoseconds on the hot path.
 */
export class InFlightBudget {
  #usedBytes = 0;

  constructor(readonly limitBytes: number) {
    if (!Number.isSafeInteger(limitBytes) || limitBytes <= 0) throw new TypeError('InFlightBudget limit must be a positive integer');
  }

  /** Bytes taken and not yet released. */
  get usedBytes(): number {
    return this.#usedBytes;
  }

  /** Takes `bytes` when they fit under the limit; false (nothing taken) otherwise. */
  tryTake(bytes: number): boolean {
    if (this.#usedBytes + bytes > this.limitBytes) return false;
    this.#usedBytes += bytes;
    return true;
  }

  /** Gives back what one successful tryTake took; call it exactly once per take. */
  release(bytes: number): void {
    this.#usedBytes -= bytes;
  }
}
