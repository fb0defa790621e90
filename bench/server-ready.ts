/**
 * How a bench server process tells its parent it is ready (one JSON line on
 * stdout) and how it stops on SIGTERM/SIGINT (close, then exit 0).
 */

export interface ReadyLine {
  readonly ready: true;
  readonly kind: 'null' | 'real';
  readonly grpcPort: number;
  /** The real service's management port (/metrics), for runs that watch its memory. */
  readonly managementPort?: number;
  readonly pid: number;
}

export function announceReady(kind: ReadyLine['kind'], grpcPort: number, managementPort?: number): void {
  const line: ReadyLine = { ready: true, kind, grpcPort, ...(managementPort === undefined ? {} : { managementPort }), pid: process.pid };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

export function closeOnSignal(close: () => Promise<void>): void {
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    // A server that will not close in time is not worth waiting for.
    setTimeout(() => process.exit(0), 3000).unref();
    close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
