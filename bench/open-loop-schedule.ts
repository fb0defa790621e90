/**
 * A fixed-rate send schedule: request k is due at t0 + k/rps whatever the
 * server does. When every stream slot is busy the request waits in a bounded
 * backlog and keeps its scheduled time, so its latency includes the wait.
 * Beyond the backlog bound requests are dropped and counted (the server is
 * far past saturation; the report says so rather than buffering forever).
 */
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from './latency-histogram.js';

export interface OpenLoop {
  /** A stream slot became free: send the oldest waiting request, if any. */
  slotFreed(): void;
  stop(): void;
  /** Starts the counters afresh (at the end of the warm-up). */
  resetCounters(): void;
  readonly maxBacklog: number;
  readonly dropped: number;
  /** How late requests left the generator after their scheduled time, p99 in ms (its own precision). */
  readonly sendLagP99Ms: number;
}

/** Longest backlog kept, in seconds of traffic at the target rate. */
const BACKLOG_SECONDS = 2;

export function startOpenLoop(rps: number, capacity: number, send: (slot: number, scheduledAt: number) => void): OpenLoop {
  const intervalMs = 1000 / rps;
  const backlogLimit = Math.max(capacity, Math.ceil(rps * BACKLOG_SECONDS));
  const t0 = performance.now();
  const waiting: number[] = [];
  let head = 0;
  let scheduled = 0;
  let busy = 0;
  let nextSlot = 0;
  let maxBacklog = 0;
  let dropped = 0;
  let stopped = false;
  const lag = new LatencyHistogram();

  const dispatch = (scheduledAt: number) => {
    busy++;
    send(nextSlot, scheduledAt);
    nextSlot = nextSlot + 1 === capacity ? 0 : nextSlot + 1;
  };

  const tick = () => {
    const due = Math.floor((performance.now() - t0) / intervalMs) + 1;
    while (scheduled < due) {
      const at = t0 + scheduled * intervalMs;
      scheduled++;
      if (busy < capacity) {
        // Lag of the generator itself; time spent waiting for a free slot is the server's and not counted here.
        lag.record(performance.now() - at);
        dispatch(at);
      } else if (waiting.length - head < backlogLimit) {
        waiting.push(at);
        maxBacklog = Math.max(maxBacklog, waiting.length - head);
      } else {
        dropped++;
      }
    }
  };
  // Node's timers fire every ~1 ms at best, which would add up to a millisecond of
  // send lag to every latency. Checking the schedule on every turn of the event
  // loop keeps the lag to tens of µs, at the price of the load core spinning
  // (an open loop measures latency at a rate, not the generator's CPU).
  const loop = () => {
    if (stopped) return;
    tick();
    setImmediate(loop);
  };
  setImmediate(loop);

  return {
    slotFreed() {
      busy--;
      if (head < waiting.length) {
        dispatch(waiting[head++]!);
        if (head > 4096 && head * 2 > waiting.length) {
          waiting.splice(0, head);
          head = 0;
        }
      }
    },
    stop() {
      stopped = true;
    },
    resetCounters() {
      maxBacklog = waiting.length - head;
      dropped = 0;
      lag.reset();
    },
    get maxBacklog() { return maxBacklog; },
    get dropped() { return dropped; },
    get sendLagP99Ms() { return lag.summary().p99Ms; },
  };
}
