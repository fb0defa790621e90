/**
 * The raw HTTP/1.1 load engine, for the service's HTTP door (Envoy's
 * ext_authz `http_service` mode, Istio `envoyExtAuthzHttp`): C keep-alive
 * connections on bare `node:net` sockets, **one request in flight per
 * connection** — no pipelining, since Envoy's HTTP/1.1 pool never pipelines
 * (a busy connection waits; more load needs more connections).
 *
 * - Closed loop (no `rps`): every connection sends again as soon as its
 *   answer is in, so C requests are always in flight.
 * - Open loop (`rps`): open-loop-schedule.ts decides when request k is due
 *   (t0 + k/rps, whatever the server does); a "slot" there is an idle
 *   connection here. A request that finds none waits in the schedule's
 *   backlog and keeps its scheduled time; latency counts from that time.
 *
 * Every answer is read (raw-h1-protocol.ts): 200 = allowed (Envoy's rule for
 * the HTTP service), 3xx/401/403 = denied (by status), anything else = an
 * error `http-NNN`; a response that cannot be framed is an error with the
 * reader's label and the connection is reopened. A connection lost with a
 * request on it is a transport error; the generator reconnects (after a
 * short backoff) and carries on. `connection: close` from the server is not
 * an error: the connection is reopened for the next request and counted.
 *
 * Per request the engine allocates next to nothing on the JS heap: the
 * request bytes are encoded once and written as they are, each connection
 * reads into its own preallocated buffer (`onread`) and parses in place,
 * per-connection state lives in typed arrays.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from './latency-histogram.js';
import { MAX_STATUS, TRANSPORT_BACKOFF_MS, type LoadPhase, type LoadResult } from './load-types.js';
import { startOpenLoop, type OpenLoop } from './open-loop-schedule.js';
import { watchCpu } from './proc-cpu.js';
import { H1ResponseReader, type ResponseSink } from './raw-h1-protocol.js';
import { drainInFlight, measurementWindow } from './measurement-window.js';
import { round } from './round.js';

export interface RawH1LoadOptions {
  readonly host: string;
  readonly port: number;
  /** Whole HTTP/1.1 requests (head and body), written as they are, in turn. */
  readonly requests: readonly Buffer[];
  /** Connections = requests in flight (one each). */
  readonly connections: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** Fixed request rate (open loop); undefined = closed loop. */
  readonly rps?: number;
  readonly serverPid?: number;
  /** Closed loop only: stop sending after this many requests in all (warm-up included); the run ends when they are answered. */
  readonly maxRequests?: number;
}

export interface RawH1LoadResult extends LoadResult {
  readonly generator: 'raw-h1';
  /** Requests sent in all, warm-up included. */
  readonly sentTotal: number;
  /** Connections opened in all (more than `connections` after failures or `connection: close`). */
  readonly connectionsOpened: number;
  /** Answers of the measured window that carried `connection: close` (reconnected; not errors). */
  readonly serverCloses: number;
}

/** Per connection; an answer of the service is a few hundred bytes, a larger one just takes several reads. */
const READ_BUFFER_BYTES = 16 * 1024;

export async function runRawH1Load(options: RawH1LoadOptions): Promise<RawH1LoadResult> {
  const { requests, connections } = options;
  if (requests.length === 0) throw new RangeError('raw-h1: no requests to send');
  if (options.rps !== undefined && options.maxRequests !== undefined) throw new RangeError('raw-h1: maxRequests is for the closed loop only');
  const rps = options.rps;

  // Per connection: its socket and reader (a fresh pair per reconnect), and its request in flight.
  const sockets: (net.Socket | undefined)[] = new Array<net.Socket | undefined>(connections).fill(undefined);
  const readers: (H1ResponseReader | undefined)[] = new Array<H1ResponseReader | undefined>(connections).fill(undefined);
  const readBuffers = Array.from({ length: connections }, () => Buffer.allocUnsafe(READ_BUFFER_BYTES));
  const busy = new Uint8Array(connections);
  const startedAt = new Float64Array(connections);
  // Idle connections (open loop), a stack: the most recently freed goes first, so at a modest
  // rate a few warm connections carry the traffic and the rest are there for bursts — a proxy's
  // pool, too, reuses a ready connection rather than spreading requests over all of them.
  const idle = new Int32Array(connections);
  let idleCount = 0;

  const histogram = new LatencyHistogram();
  const deniedStatus = new Float64Array(MAX_STATUS);
  const errors: Record<string, number> = {};
  let allowed = 0;
  let denied = 0;
  let transportErrors = 0;
  let serverCloses = 0;
  // No warm-up asked: measure from the first request (a zero-length window would race the first answers).
  let phase: LoadPhase = options.warmupS > 0 ? 'warmup' : 'measure';
  let inFlight = 0;
  let sentTotal = 0;
  let connectionsOpened = 0;
  let nextRequest = 0;
  let onIdle: (() => void) | undefined;
  let onAllSent: (() => void) | undefined;
  let open: OpenLoop | undefined;

  const sendingDone = () => options.maxRequests !== undefined && sentTotal >= options.maxRequests;

  function bumpError(label: string): void {
    errors[label] = (errors[label] ?? 0) + 1;
  }

  const sink: ResponseSink = {
    onResponse(i, status, closeAfter) {
      if (busy[i] === 0) {
        // An answer to nothing: the byte stream is not what we think it is.
        if (phase === 'measure') bumpError('unexpected-response');
        drop(i);
        return;
      }
      if (closeAfter) {
        if (phase === 'measure') serverCloses++;
        drop(i);
      }
      if (phase === 'measure') {
        if (status === 200) {
          allowed++;
        } else if (status === 401 || status === 403 || (status >= 300 && status < 400)) {
          denied++;
          deniedStatus[status]!++;
        } else {
          bumpError(`http-${status}`);          // rare by construction: a string per error is fine
        }
      }
      finish(i, 0);
    },
    onMalformed(i, why) {
      if (phase === 'measure') bumpError(why);
      drop(i);
      if (busy[i] === 1) finish(i, TRANSPORT_BACKOFF_MS);
    },
  };

  /** The connection's socket, opened (with a fresh reader) when there is none. */
  function socketFor(i: number): net.Socket {
    const current = sockets[i];
    if (current !== undefined) return current;
    connectionsOpened++;
    const reader = new H1ResponseReader(i, sink);
    const socket: net.Socket = net.connect({
      host: options.host,
      port: options.port,
      noDelay: true,                       // as Envoy and h2load: a request must not wait for an ACK
      onread: {
        buffer: readBuffers[i]!,
        callback: (n: number, buf: Uint8Array) => {
          if (readers[i] === reader) reader.feed(buf, 0, n);
          return true;
        },
      },
    });
    const lost = () => {
      if (sockets[i] !== socket) return;   // already dropped by us, or the second of error + close
      sockets[i] = undefined;
      reader.halt();
      if (busy[i] === 1) {
        if (phase === 'measure') transportErrors++;
        finish(i, TRANSPORT_BACKOFF_MS);
      }
    };
    socket.on('error', lost);
    socket.on('close', lost);
    sockets[i] = socket;
    readers[i] = reader;
    return socket;
  }

  /** Forgets the connection (its reader reads nothing more) and closes it; the next request opens another. */
  function drop(i: number): void {
    const socket = sockets[i];
    readers[i]?.halt();
    readers[i] = undefined;
    sockets[i] = undefined;
    socket?.destroy();
  }

  function send(i: number, at: number): void {
    busy[i] = 1;
    inFlight++;
    sentTotal++;
    startedAt[i] = at;
    const request = requests[nextRequest]!;
    nextRequest = nextRequest + 1 === requests.length ? 0 : nextRequest + 1;
    socketFor(i).write(request);
  }

  function finish(i: number, backoffMs: number): void {
    busy[i] = 0;
    inFlight--;
    if (phase === 'measure') histogram.record(performance.now() - startedAt[i]!);
    if (phase === 'stopped' || sendingDone()) {
      if (inFlight === 0) { onIdle?.(); onAllSent?.(); }
      return;
    }
    // A dead server must not turn the loop into a reconnect spin (a closure per failure only).
    if (backoffMs > 0) setTimeout(() => next(i), backoffMs);
    else next(i);
  }

  /** Connection i is free again: closed loop sends on it at once; open loop hands it back to the schedule. */
  function next(i: number): void {
    if (phase === 'stopped') return;
    if (open === undefined) {
      if (!sendingDone()) send(i, performance.now());
      return;
    }
    idle[idleCount++] = i;
    open.slotFreed();
  }

  // Connect everything up front, so no measured request pays for a TCP handshake.
  for (let i = 0; i < connections; i++) socketFor(i);
  if (rps === undefined) {
    for (let i = 0; i < connections && !sendingDone(); i++) send(i, performance.now());
  } else {
    for (let i = connections - 1; i >= 0; i--) idle[idleCount++] = i;
    // The schedule's slot number is ignored: it counts busy slots, the idle stack says which connection.
    open = startOpenLoop(rps, connections, (_slot, scheduledAt) => send(idle[--idleCount]!, scheduledAt));
  }

  if (phase === 'warmup') {
    await windowOf(options.warmupS * 1000);
    histogram.reset();
    open?.resetCounters();
    phase = 'measure';
  }
  const stopCpuWatch = watchCpu(options.serverPid);
  const measureStart = performance.now();
  await windowOf(options.durationS * 1000);
  phase = 'stopped';
  open?.stop();
  const measuredMs = performance.now() - measureStart;
  const cpu = stopCpuWatch(measuredMs);

  await drainInFlight(inFlight, (idle) => { onIdle = idle; });
  const unfinished = inFlight;
  for (let i = 0; i < connections; i++) drop(i);

  const deniedByHttpStatus: Record<string, number> = {};
  deniedStatus.forEach((n, status) => { if (n > 0) deniedByHttpStatus[String(status)] = n; });
  const count = histogram.count;
  return {
    generator: 'raw-h1',
    mode: rps === undefined ? 'closed-loop' : 'open-loop',
    connections,
    streams: 1,
    targetRps: rps ?? null,
    distinctFrames: requests.length,
    warmupS: options.warmupS,
    measuredS: round(measuredMs / 1000, 3),
    requests: count,
    rps: round(count / (measuredMs / 1000), 1),
    allowed,
    denied,
    deniedByHttpStatus,
    grpcErrors: errors,
    transportErrors,
    unfinished,
    allowPercent: count ? round((allowed / count) * 100, 2) : 0,
    latency: histogram.summary(),
    generatorCpuPercent: cpu.generatorPercent,
    serverCpuPercent: cpu.serverPercent,
    otherCpuPercent: cpu.otherPercent,
    maxBacklog: open?.maxBacklog ?? 0,
    dropped: open?.dropped ?? 0,
    sendLagP99Ms: open === undefined ? null : open.sendLagP99Ms,
    sentTotal,
    connectionsOpened,
    serverCloses,
  };

  function windowOf(ms: number): Promise<void> {
    return measurementWindow(ms, options.maxRequests !== undefined, () => sendingDone() && inFlight === 0, (finish) => { onAllSent = finish; });
  }
}
