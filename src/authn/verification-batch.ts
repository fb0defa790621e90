/**
 * First verifications of bearer tokens, run back to back once per turn of the
 * event loop instead of each in the middle of its own request's handling.
 *
 * Why: under load the gRPC door takes a socket read's worth of Checks at a
 * time, and a verification ran between other streams' HTTP/2 and grpc-js
 * work. Inside the loaded server one RS256 verification measured ~35 µs
 * (~21 µs alone), and a unique-token Check cost ~60 µs more than the same
 * Check with the signature check skipped: the RSA code and the request
 * handling evict each other from the CPU's caches. Run together after the
 * turn's I/O (setImmediate), the same server answered 10–112 % more
 * unique-token Checks than the build before, pair by pair, +32 % by the
 * medians (bench/README.md, "first verifications in a batch").
 * The wait is the rest of the current turn: a request that needs a
 * verification was going to wait for the ones handled before it anyway.
 *
 * Jobs are the synchronous verifications themselves (jws-verify.ts); one that
 * throws rejects its own promise only.
 */
export class VerificationBatch {
  #jobs: (() => void)[] = [];

  readonly #flush = (): void => {
    const jobs = this.#jobs;
    this.#jobs = [];
    for (const job of jobs) job();
  };

  /** `job`'s result, computed with the other jobs of this turn once its I/O is handled. */
  run<T>(job: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#jobs.length === 0) setImmediate(this.#flush);
      this.#jobs.push(() => {
        try {
          resolve(job());
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  /** Jobs waiting for the end of this turn (tests and diagnostics). */
  get waiting(): number {
    return this.#jobs.length;
  }
}

/** The process's batch: every BearerAuthenticator (one per config snapshot) shares it. */
export const firstVerifications = new VerificationBatch();
