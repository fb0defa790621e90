/**
 * What the load generator is asked to do and what it reports (one JSON
 * object on stdout; the orchestrator reads it back).
 */
import type { CheckCodec } from './grpc-frames.js';
import type { LatencySummary } from './latency-histogram.js';

export interface LoadOptions {
  readonly host: string;
  readonly port: number;
  readonly frames: readonly Buffer[];
  readonly connections: number;
  readonly streams: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** Fixed request rate (open loop); undefined = closed loop. */
  readonly rps?: number;
  readonly codec: CheckCodec;
  /** The server's pid, to report its CPU use over the measured window. */
  readonly serverPid?: number;
}

export interface LoadResult {
  readonly mode: 'closed-loop' | 'open-loop';
  readonly connections: number;
  readonly streams: number;
  readonly targetRps: number | null;
  readonly distinctFrames: number;
  readonly warmupS: number;
  readonly measuredS: number;
  readonly requests: number;
  readonly rps: number;
  readonly allowed: number;
  readonly denied: number;
  /** Denials by the HTTP status Envoy would send (401, 403, …). */
  readonly deniedByHttpStatus: Record<string, number>;
  /** Non-OK gRPC statuses by code, and replies that were not a valid gRPC answer. */
  readonly grpcErrors: Record<string, number>;
  readonly transportErrors: number;
  readonly unfinished: number;
  readonly allowPercent: number;
  readonly latency: LatencySummary;
  /** The generator's own CPU use over the measured window, % of one core: near 100 means it was the bottleneck. */
  readonly generatorCpuPercent: number;
  /** The server's CPU use over the measured window, % of one core (null when unknown): below ~95 the server was not the bottleneck. */
  readonly serverCpuPercent: number | null;
  /** CPU used by every other process on the machine over the window, % of one core: above ~10 the run was not clean. */
  readonly otherCpuPercent: number | null;
  /** Open loop only: most requests ever waiting for a free stream slot. */
  readonly maxBacklog: number;
  /** Open loop only: requests dropped because the backlog was full (server far past saturation). */
  readonly dropped: number;
  /** Open loop only: p99 of how late requests were sent after their scheduled time (the generator's own precision), ms. */
  readonly sendLagP99Ms: number | null;
}

/** Where a raw generator's run is: answers count only in 'measure'. */
export type LoadPhase = 'warmup' | 'measure' | 'stopped';
/** A connection that failed is not reused for this long, so a dead server is not hammered in a tight loop. */
export const TRANSPORT_BACKOFF_MS = 10;
/** Answer statuses are tallied in arrays indexed by status, this size (every HTTP status fits). */
export const MAX_STATUS = 600;
