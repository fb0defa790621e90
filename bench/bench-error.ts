/**
 * The benchmark's own typed errors. Bench programs exit non-zero with the
 * message; callers that need to tell failures apart branch on `code`.
 */
export type BenchErrorCode =
  | 'ERR_BENCH_USAGE'      // a bad or missing command-line flag
  | 'ERR_BENCH_FRAMES'     // a frames file that is not a sequence of gRPC frames
  | 'ERR_BENCH_CHILD'      // a server or generator process failed to start or to report
  | 'ERR_BENCH_PREFLIGHT'  // the real client did not get the answer the scenario needs
  | 'ERR_BENCH_H2LOAD';    // h2load ran but its output could not be read

export class BenchError extends Error {
  readonly code: BenchErrorCode;
  constructor(code: BenchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'BenchError';
  }
}

/** Runs a bench program's main, printing a typed failure on stderr and setting the exit code. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    // The service's own typed errors (a ConfigError from real-server…) keep their code.
    const own = (err as { code?: unknown } | null)?.code;
    const code = typeof own === 'string' ? own : 'ERR_BENCH_UNEXPECTED';
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${code}: ${message}\n`);
    process.exitCode = 1;
  });
}
