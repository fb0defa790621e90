/**
 * The raw load engine: C connections × M stream slots of RawH2Connection,
 * posting the frames a FrameSource hands out.
 *
 * - Closed loop (no `rps`): every slot sends again as soon as its answer is in.
 * - Open loop (`rps`): request k is due at t0 + k/rps whatever the server
 *   does; latency counts from that scheduled time (no coordinated omission).
 *   A request that finds every slot busy waits in a bounded backlog and keeps
 *   its scheduled time; beyond ~2 s of backlog requests are dropped and
 *   counted. The schedule is checked on every event-loop turn, so sends
 *   leave within tens of µs of their time; that lag is recorded separately.
 *
 * Every answer is read: a trailers-only reply, a missing message, a reset
 * or a dead connection is an error; the CheckResponse decides allowed vs
 * denied (and the HTTP status Envoy would send), per source kind.
 *
 * The per-request path allocates nothing on the JS heap in the steady
 * state: typed arrays per slot, preallocated message buffers, a typed-array
 * ring for the backlog. Run with --trace-gc to see scavenges stay rare.
 */
import { performance } from 'node:perf_hooks';
import { CHECK_PATH } from './grpc-frames.js';
import { LatencyHistogram, type LatencySummary } from './latency-histogram.js';
import { MAX_STATUS, TRANSPORT_BACKOFF_MS, type LoadPhase, type LoadResult } from './load-types.js';
import { watchCpu } from './proc-cpu.js';
import { RawH2Connection, type StreamSink } from './raw-h2-connection.js';
import type { FrameSource } from './raw-h2-frame-source.js';
import { grpcRequestHeaderBlock, readCheckVerdict, type CheckVerdict } from './raw-h2-protocol.js';
import { drainInFlight, measurementWindow } from './measurement-window.js';
import { round } from './round.js';

export interface RawLoadOptions {
  readonly host: string;
  readonly port: number;
  readonly source: FrameSource;
  readonly connections: number;
  readonly streams: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** Fixed request rate (open loop); undefined = closed loop. */
  readonly rps?: number;
  readonly serverPid?: number;
  /** Stop sending after this many requests in all (warm-up included); the run ends when they are answered. */
  readonly maxRequests?: number;
  /** Emit an IntervalReport this often during the measured window (seconds). */
  readonly reportEveryS?: number;
  readonly onInterval?: (report: IntervalReport) => void;
  /** Highest stream id per connection before a fresh connection is opened (tests; default 2^31−1). */
  readonly maxStreamId?: number;
}

export interface KindCounts {
  sent: number;
  allowed: number;
  denied: number;
  errors: number;
  /** Denials by the HTTP status Envoy would send. */
  deniedByHttpStatus: Record<string, number>;
}

export interface IntervalReport {
  readonly interval: number;
  /** Seconds since the measured window began, at the end of this interval. */
  readonly atS: number;
  readonly requests: number;
  readonly intervalRps: number;
  readonly allowed: number;
  readonly denied: number;
  readonly errors: number;
  readonly latency: LatencySummary;
  readonly sendLagP99Ms: number | null;
}

export interface RawLoadResult extends LoadResult {
  readonly generator: 'raw-h2';
  /** Answers per source kind over the measured window. */
  readonly kinds: Record<string, KindCounts>;
  /** Times a token file was used up and started over (its tokens were then no longer never-seen). */
  readonly tokenWraps: number;
  /** Requests sent in all, warm-up included. */
  readonly sentTotal: number;
  /** Connections opened in all (more than `connections` after failures or stream-id exhaustion). */
  readonly connectionsOpened: number;
}

const MESSAGE_BUFFER_BYTES = 8 * 1024;
const BACKLOG_SECONDS = 2;

export async function runRawLoad(options: RawLoadOptions): Promise<RawLoadResult> {
  const { source, connections } = options;
  const capacity = connections * options.streams;
  const headerBlock = grpcRequestHeaderBlock(`${options.host}:${options.port}`, CHECK_PATH);
  const kinds = source.names.length;

  // Per slot: when its request was scheduled/sent, which source kind, and its answer so far.
  const startedAt = new Float64Array(capacity);
  const kindOf = new Uint8Array(capacity);
  const headersSeen = new Uint8Array(capacity);
  const busy = new Uint8Array(capacity);
  const messageLength = new Int32Array(capacity);
  const messages: Buffer[] = Array.from({ length: capacity }, () => Buffer.allocUnsafe(MESSAGE_BUFFER_BYTES));
  const freeSlots = new Int32Array(capacity);
  let freeHead = 0;
  let freeCount = capacity;
  for (let i = 0; i < capacity; i++) freeSlots[i] = i;

  // Counters of the measured window, and of the current report interval.
  const histogram = new LatencyHistogram();
  const intervalHistogram = new LatencyHistogram();
  const sendLag = new LatencyHistogram();
  const intervalLag = new LatencyHistogram();
  const kindSent = new Float64Array(kinds);
  const kindAllowed = new Float64Array(kinds);
  const kindDenied = new Float64Array(kinds);
  const kindErrors = new Float64Array(kinds);
  const kindStatus = Array.from({ length: kinds }, () => new Float64Array(MAX_STATUS));
  const grpcErrors: Record<string, number> = {};
  let transportErrors = 0;
  const interval = { allowed: 0, denied: 0, errors: 0 };
  // No warm-up asked: measure from the first request (a zero-length window would race the first answers).
  let phase: LoadPhase = options.warmupS > 0 ? 'warmup' : 'measure';
  let inFlight = 0;
  let sentTotal = 0;
  let connectionsOpened = 0;
  let onIdle: (() => void) | undefined;
  let onAllSent: (() => void) | undefined;
  const verdict: CheckVerdict = { code: 0, httpStatus: 0 };

  const conns: (RawH2Connection | undefined)[] = new Array(connections).fill(undefined);
  const lastFailureAt = new Float64Array(connections).fill(-Infinity);

  const sink: StreamSink = {
    onHeaders(slot, endStream) {
      if (!endStream) { headersSeen[slot] = 1; return; }
      if (headersSeen[slot] === 0) settleError(slot, 'trailers-only');
      else settleAnswer(slot);
    },
    onData(slot, buf, start, end, endStream) {
      const have = messageLength[slot]!;
      const need = have + (end - start);
      let message = messages[slot]!;
      if (need > message.length) {
        const bigger = Buffer.allocUnsafe(Math.max(need, message.length * 2));
        message.copy(bigger, 0, 0, have);
        messages[slot] = message = bigger;
      }
      buf.copy(message, have, start, end);
      messageLength[slot] = need;
      if (endStream) settleError(slot, 'no-trailers');
    },
    onStreamError(slot, why) {
      if (why === 'transport' || why === 'goaway' || why === 'closed') {
        if (phase === 'measure') transportErrors++;
        const index = slot % connections;
        lastFailureAt[index] = performance.now();
        settleError(slot, why, TRANSPORT_BACKOFF_MS);
      } else {
        settleError(slot, why);
      }
    },
  };

  function bumpError(label: string): void {
    grpcErrors[label] = (grpcErrors[label] ?? 0) + 1;
  }

  function settleAnswer(slot: number): void {
    const length = messageLength[slot]!;
    const message = messages[slot]!;
    if (length < 5 || message[0] !== 0 || message.readUInt32BE(1) !== length - 5) return settleError(slot, 'bad-frame');
    readCheckVerdict(message, 5, length, verdict);
    if (verdict.code < 0) return settleError(slot, 'bad-message');
    const kind = kindOf[slot]!;
    if (phase === 'measure') {
      if (verdict.code === 0) {
        kindAllowed[kind]!++;
        interval.allowed++;
      } else {
        kindDenied[kind]!++;
        interval.denied++;
        const status = verdict.httpStatus || 403;      // Envoy's default when the response names none
        kindStatus[kind]![status < MAX_STATUS ? status : 0]!++;
      }
    }
    finish(slot, 0);
  }

  function settleError(slot: number, label: string, backoffMs = 0): void {
    if (busy[slot] === 0) return;
    if (phase === 'measure') {
      if (label !== 'transport' && label !== 'goaway' && label !== 'closed') bumpError(label);
      kindErrors[kindOf[slot]!]!++;
      interval.errors++;
    }
    finish(slot, backoffMs);
  }

  function finish(slot: number, backoffMs: number): void {
    busy[slot] = 0;
    inFlight--;
    if (phase === 'measure') {
      const latency = performance.now() - startedAt[slot]!;
      histogram.record(latency);
      intervalHistogram.record(latency);
    }
    if (phase === 'stopped' || sendingDone()) {
      releaseSlot(slot);
      if (inFlight === 0) { onIdle?.(); onAllSent?.(); }
      return;
    }
    if (backoffMs > 0) {
      // A dead server must not turn the loop into a reconnect spin.
      setTimeout(() => { releaseSlot(slot); refill(); flushAll(); }, backoffMs);
      return;
    }
    releaseSlot(slot);
    refill();
  }

  const sendingDone = () => options.maxRequests !== undefined && sentTotal >= options.maxRequests;

  function releaseSlot(slot: number): void {
    freeSlots[(freeHead + freeCount) % capacity] = slot;
    freeCount++;
  }

  function takeSlot(): number {
    const slot = freeSlots[freeHead]!;
    freeHead = freeHead + 1 === capacity ? 0 : freeHead + 1;
    freeCount--;
    return slot;
  }

  function connectionFor(slot: number): RawH2Connection | undefined {
    const index = slot % connections;
    const current = conns[index];
    if (current && current.open) return current;
    if (performance.now() - lastFailureAt[index]! < TRANSPORT_BACKOFF_MS) return undefined;
    // Exhausted stream ids or GOAWAY: the old connection finishes its streams and closes itself.
    connectionsOpened++;
    const fresh = new RawH2Connection({ host: options.host, port: options.port, headerBlock, sink, maxStreamId: options.maxStreamId });
    conns[index] = fresh;
    return fresh;
  }

  /** Sends one request on a free slot, scheduled at `at`. */
  function send(at: number): void {
    const slot = takeSlot();
    const body = source.next();
    const kind = source.lastKind;
    sentTotal++;
    busy[slot] = 1;
    inFlight++;
    startedAt[slot] = at;
    kindOf[slot] = kind;
    headersSeen[slot] = 0;
    messageLength[slot] = 0;
    if (phase === 'measure') kindSent[kind]!++;
    const connection = connectionFor(slot);
    if (!connection) {
      if (phase === 'measure') transportErrors++;
      settleError(slot, 'transport', TRANSPORT_BACKOFF_MS);
      return;
    }
    if (!connection.hasStreamCapacity) {
      settleError(slot, 'max-concurrent-streams', TRANSPORT_BACKOFF_MS);
      return;
    }
    connection.request(slot, body);
  }

  function flushAll(): void {
    for (let i = 0; i < connections; i++) {
      const c = conns[i];
      if (c !== undefined && c.dirty) c.flush();
    }
  }

  // Open loop state: schedule and backlog (a ring of scheduled times).
  const rps = options.rps;
  const intervalMs = rps === undefined ? 0 : 1000 / rps;
  const backlogLimit = rps === undefined ? 0 : Math.max(capacity, Math.ceil(rps * BACKLOG_SECONDS));
  const backlog = new Float64Array(Math.max(1, backlogLimit));
  let backlogHead = 0;
  let backlogCount = 0;
  let maxBacklog = 0;
  let dropped = 0;
  let scheduled = 0;
  let t0 = 0;
  let stopped = false;

  /** A slot came free: closed loop sends again; open loop serves the backlog. */
  function refill(): void {
    if (sendingDone() || phase === 'stopped') return;
    if (rps === undefined) {
      while (freeCount > 0 && !sendingDone()) send(performance.now());
      return;
    }
    while (freeCount > 0 && backlogCount > 0 && !sendingDone()) {
      const at = backlog[backlogHead]!;
      backlogHead = backlogHead + 1 === backlogLimit ? 0 : backlogHead + 1;
      backlogCount--;
      send(at);
    }
  }

  function tick(): void {
    const now = performance.now();
    const due = Math.floor((now - t0) / intervalMs) + 1;
    while (scheduled < due && !sendingDone()) {
      const at = t0 + scheduled * intervalMs;
      scheduled++;
      if (freeCount > 0 && backlogCount === 0) {
        // The generator's own lateness; waiting for a free slot is the server's and not counted here.
        const lag = performance.now() - at;
        if (phase === 'measure') { sendLag.record(lag); intervalLag.record(lag); }
        send(at);
      } else if (backlogCount < backlogLimit) {
        backlog[(backlogHead + backlogCount) % backlogLimit] = at;
        backlogCount++;
        if (backlogCount > maxBacklog) maxBacklog = backlogCount;
      } else if (phase === 'measure') {
        dropped++;
      }
    }
    flushAll();
  }

  // Node's timers fire every ~1 ms at best; checking on every event-loop turn keeps sends within tens of µs.
  const loop = () => {
    if (stopped) return;
    tick();
    setImmediate(loop);
  };

  if (rps === undefined) {
    refill();
    flushAll();
  } else {
    t0 = performance.now();
    setImmediate(loop);
  }

  if (phase === 'warmup') {
    await windowOf(options.warmupS * 1000);
    histogram.reset();
    intervalHistogram.reset();
    sendLag.reset();
    intervalLag.reset();
    maxBacklog = backlogCount;
    phase = 'measure';
  }
  const stopCpuWatch = watchCpu(options.serverPid);
  const measureStart = performance.now();

  let intervalIndex = 0;
  let intervalStart = measureStart;
  let intervalRequests = 0;
  const report = () => {
    const now = performance.now();
    const requests = intervalHistogram.count;
    intervalRequests += requests;
    options.onInterval?.({
      interval: ++intervalIndex,
      atS: round((now - measureStart) / 1000, 3),
      requests,
      intervalRps: round(requests / ((now - intervalStart) / 1000), 1),
      allowed: interval.allowed,
      denied: interval.denied,
      errors: interval.errors,
      latency: intervalHistogram.summary(),
      // No sample when every send of the interval came from the backlog (the server, not the generator, was late).
      sendLagP99Ms: rps === undefined || intervalLag.count === 0 ? null : intervalLag.summary().p99Ms,
    });
    intervalHistogram.reset();
    intervalLag.reset();
    interval.allowed = interval.denied = interval.errors = 0;
    intervalStart = now;
  };
  const reporter = options.reportEveryS ? setInterval(report, options.reportEveryS * 1000) : undefined;

  await windowOf(options.durationS * 1000);
  if (reporter) clearInterval(reporter);
  // A last partial interval, so every measured request appears in some interval.
  if (options.reportEveryS && intervalHistogram.count > 0 && intervalRequests < histogram.count) report();
  phase = 'stopped';
  stopped = true;
  const measuredMs = performance.now() - measureStart;
  const cpu = stopCpuWatch(measuredMs);

  await drainInFlight(inFlight, (idle) => { onIdle = idle; });
  const unfinished = inFlight;
  for (const c of conns) c?.destroy();
  source.close();

  const names = source.names;
  const kindsOut: Record<string, KindCounts> = {};
  names.forEach((name, k) => {
    const deniedByHttpStatus: Record<string, number> = {};
    kindStatus[k]!.forEach((n, status) => { if (n > 0) deniedByHttpStatus[String(status)] = n; });
    kindsOut[name] = { sent: kindSent[k]!, allowed: kindAllowed[k]!, denied: kindDenied[k]!, errors: kindErrors[k]!, deniedByHttpStatus };
  });
  const allDenied: Record<string, number> = {};
  for (const k of Object.values(kindsOut)) {
    for (const [status, n] of Object.entries(k.deniedByHttpStatus)) allDenied[status] = (allDenied[status] ?? 0) + n;
  }
  const allowed = kindAllowed.reduce((a, b) => a + b, 0);
  const denied = kindDenied.reduce((a, b) => a + b, 0);
  const requests = histogram.count;
  return {
    generator: 'raw-h2',
    mode: rps === undefined ? 'closed-loop' : 'open-loop',
    connections,
    streams: options.streams,
    targetRps: rps ?? null,
    distinctFrames: -1,
    warmupS: options.warmupS,
    measuredS: round(measuredMs / 1000, 3),
    requests,
    rps: round(requests / (measuredMs / 1000), 1),
    allowed,
    denied,
    deniedByHttpStatus: allDenied,
    grpcErrors,
    transportErrors,
    unfinished,
    allowPercent: requests ? round((allowed / requests) * 100, 2) : 0,
    latency: histogram.summary(),
    generatorCpuPercent: cpu.generatorPercent,
    serverCpuPercent: cpu.serverPercent,
    otherCpuPercent: cpu.otherPercent,
    maxBacklog,
    dropped,
    sendLagP99Ms: rps === undefined ? null : sendLag.summary().p99Ms,
    kinds: kindsOut,
    tokenWraps: source.wraps,
    sentTotal,
    connectionsOpened,
  };

  function windowOf(ms: number): Promise<void> {
    return measurementWindow(ms, options.maxRequests !== undefined, () => sendingDone() && inFlight === 0, (finish) => { onAllSent = finish; });
  }
}
