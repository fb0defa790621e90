/**
 * The load engine behind grpc-load: node:http2 sessions posting pre-encoded
 * Check frames, C connections × M streams. Closed loop by default (each
 * stream slot sends again as soon as its answer is in); with `rps` an open
 * loop that sends on a fixed schedule and measures each latency from the
 * request's *scheduled* time, so a stalled server shows up in the tail
 * instead of silently slowing the generator down (coordinated omission).
 *
 * Every answer is read: HTTP status, `grpc-status` (trailers, or headers for
 * a trailers-only reply) and the CheckResponse itself, so allows and denials
 * are counted apart — a run where everything is denied measures nothing.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { CHECK_PATH, messageOfFrame } from './grpc-frames.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { LoadOptions, LoadResult } from './load-types.js';
import { drainInFlight } from './measurement-window.js';
import { watchCpu } from './proc-cpu.js';
import { startOpenLoop, type OpenLoop } from './open-loop-schedule.js';
import { round } from './round.js';

export type { LoadOptions, LoadResult } from './load-types.js';

type Phase = 'warmup' | 'measure' | 'stopped';
const TRANSPORT_BACKOFF_MS = 10;

export async function runCheckLoad(options: LoadOptions): Promise<LoadResult> {
  const { frames, codec } = options;
  const authority = `${options.host}:${options.port}`;
  const histogram = new LatencyHistogram();
  const counts = { allowed: 0, denied: 0, transport: 0 };
  const deniedByHttpStatus: Record<string, number> = {};
  const grpcErrors: Record<string, number> = {};
  let phase: Phase = 'warmup';
  let inFlight = 0;
  let frameIndex = 0;
  let onIdle: (() => void) | undefined;
  const bump = (map: Record<string, number>, key: string) => { map[key] = (map[key] ?? 0) + 1; };
  const sessions: (http2.ClientHttp2Session | undefined)[] = new Array(options.connections).fill(undefined);
  const sessionFor = (slot: number): http2.ClientHttp2Session => {
    const index = slot % options.connections;
    let session = sessions[index];
    if (!session || session.closed || session.destroyed) {
      // Nagle off, as h2load and grpc-js do: with it, small request frames wait for ACKs and the server idles.
      session = http2.connect(`http://${authority}`, {
        createConnection: () => net.connect({ host: options.host, port: options.port, noDelay: true }),
      });
      // Errors surface on each stream too; the session handler only keeps the process alive.
      session.on('error', () => { sessions[index] = undefined; });
      session.on('close', () => { if (sessions[index] === session) sessions[index] = undefined; });
      sessions[index] = session;
    }
    return session;
  };

  /** `backoffMs` > 0 after a transport failure: a dead server must not turn the loop into a reconnect spin. */
  function settle(ok: 'allowed' | 'denied' | 'error', startedAt: number, slot: number, backoffMs = 0): void {
    inFlight--;
    if (phase === 'measure') {
      if (ok === 'allowed') counts.allowed++;
      else if (ok === 'denied') counts.denied++;
      histogram.record(performance.now() - startedAt);
    }
    if (phase === 'stopped') {
      if (inFlight === 0) onIdle?.();
      return;
    }
    if (backoffMs) setTimeout(() => { if (phase !== 'stopped') next(slot); }, backoffMs);
    else next(slot);
  }

  function classify(httpStatus: number, grpcStatus: string | undefined, chunks: Buffer[]): 'allowed' | 'denied' | 'error' {
    const measured = phase === 'measure';
    if (httpStatus !== 200 || grpcStatus === undefined) {
      if (measured) bump(grpcErrors, httpStatus !== 200 ? `http-${httpStatus}` : 'no-grpc-status');
      return 'error';
    }
    if (grpcStatus !== '0') {
      if (measured) bump(grpcErrors, `grpc-${grpcStatus}`);
      return 'error';
    }
    const message = messageOfFrame(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    if (!message) {
      if (measured) bump(grpcErrors, 'bad-frame');
      return 'error';
    }
    const response = codec.deserializeResponse(message);
    if ((response.status?.code ?? 0) === 0) return 'allowed';
    if (measured) bump(deniedByHttpStatus, String(response.denied_response?.status?.code ?? 403));
    return 'denied';
  }

  function send(slot: number, startedAt: number): void {
    inFlight++;
    const frame = frames[frameIndex]!;
    frameIndex = frameIndex + 1 === frames.length ? 0 : frameIndex + 1;
    let httpStatus = 0;
    let grpcStatus: string | undefined;
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (outcome: 'allowed' | 'denied' | 'error', backoffMs = 0) => {
      if (done) return;
      done = true;
      settle(outcome, startedAt, slot, backoffMs);
    };
    let stream: http2.ClientHttp2Stream;
    try {
      stream = sessionFor(slot).request({
        ':method': 'POST', ':path': CHECK_PATH, ':scheme': 'http', ':authority': authority,
        'content-type': 'application/grpc', te: 'trailers',
      });
    } catch {
      if (phase === 'measure') counts.transport++;
      finish('error', TRANSPORT_BACKOFF_MS);
      return;
    }
    stream.on('response', (headers) => {
      httpStatus = Number(headers[':status']);
      const early = headers['grpc-status'];
      if (typeof early === 'string') grpcStatus = early;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('trailers', (trailers) => {
      const status = trailers['grpc-status'];
      if (typeof status === 'string') grpcStatus = status;
    });
    stream.on('error', () => {
      if (phase === 'measure') counts.transport++;
      finish('error', TRANSPORT_BACKOFF_MS);
    });
    stream.on('close', () => {
      if (stream.rstCode) {
        if (phase === 'measure') bump(grpcErrors, `rst-${stream.rstCode}`);
        finish('error');
      } else {
        finish(classify(httpStatus, grpcStatus, chunks));
      }
    });
    stream.end(frame);
  }

  let openLoop: OpenLoop | undefined;
  // Closed loop: a completion sends again on the same slot. Open loop: the schedule decides.
  let next = (slot: number) => send(slot, performance.now());
  const capacity = options.connections * options.streams;
  if (options.rps !== undefined) {
    openLoop = startOpenLoop(options.rps, capacity, send);
    next = () => openLoop!.slotFreed();
  } else {
    for (let slot = 0; slot < capacity; slot++) send(slot, performance.now());
  }

  await delay(options.warmupS * 1000);
  histogram.reset();
  openLoop?.resetCounters();
  phase = 'measure';
  const stopCpuWatch = watchCpu(options.serverPid);
  const measureStart = performance.now();
  await delay(options.durationS * 1000);
  phase = 'stopped';
  const measuredMs = performance.now() - measureStart;
  const cpu = stopCpuWatch(measuredMs);
  openLoop?.stop();

  await drainInFlight(inFlight, (idle) => { onIdle = idle; });
  const unfinished = inFlight;
  for (const session of sessions) session?.destroy();

  const requests = histogram.count;
  return {
    mode: options.rps === undefined ? 'closed-loop' : 'open-loop',
    connections: options.connections,
    streams: options.streams,
    targetRps: options.rps ?? null,
    distinctFrames: frames.length,
    warmupS: options.warmupS,
    measuredS: round(measuredMs / 1000, 3),
    requests,
    rps: round(requests / (measuredMs / 1000), 1),
    allowed: counts.allowed,
    denied: counts.denied,
    deniedByHttpStatus,
    grpcErrors,
    transportErrors: counts.transport,
    unfinished,
    allowPercent: requests ? round((counts.allowed / requests) * 100, 2) : 0,
    latency: histogram.summary(),
    generatorCpuPercent: cpu.generatorPercent,
    serverCpuPercent: cpu.serverPercent,
    otherCpuPercent: cpu.otherPercent,
    maxBacklog: openLoop?.maxBacklog ?? 0,
    dropped: openLoop?.dropped ?? 0,
    sendLagP99Ms: openLoop?.sendLagP99Ms ?? null,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
