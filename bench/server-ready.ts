/**
 * How a bench server process tells its parent it is ready (one JSON line on
 * stdout) and how it stops on SIGTERM/SIGINT (close, then exit 0).
 */

export interface ReadyLine {
  readonly ready: true;
  readonly kind: 'null' | 'real' | 'http-null';
  /** The gRPC door's port; every server has one except the HTTP-only null server (`http-null`). */
  readonly grpcPort?: number;
  /** The real service's management port (/metrics), for runs that watch its memory. */
  readonly managementPort?: number;
  /** The HTTP door's port (Envoy's ext_authz `http_service`), for servers that have one. */
  readonly httpPort?: number;
  readonly pid: number;
}

/**
 * Prints the ready line. Fields come in a fixed order and are left out when
 * absent, so the line of a gRPC server reads as it always did
 * (`{"ready":true,"kind":…,"grpcPort":…,"pid":…}`) and readers that know
 * only grpcPort/managementPort keep working.
 */
export function announceReady(kind: ReadyLine['kind'], grpcPort: number | undefined, managementPort?: number, httpPort?: number): void {
  const line: ReadyLine = {
    ready: true,
    kind,
    ...(grpcPort === undefined ? {} : { grpcPort }),
    ...(managementPort === undefined ? {} : { managementPort }),
    ...(httpPort === undefined ? {} : { httpPort }),
    pid: process.pid,
  };
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
