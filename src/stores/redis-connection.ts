/**
 * The two connections of the Redis session store: one for commands, one
 * subscribed to the revocation channel (a subscribed connection can do
 * nothing else).
 *
 * Failure behaviour, chosen for an authorization service:
 * - commands never wait in an offline queue: while Redis is unreachable a
 *   command fails at once and the request needing it fails closed (503), it
 *   does not hang until Envoy's timeout;
 * - a command in flight when the connection drops is not retried (it may
 *   have been a lock or a revocation; the caller decides), and one that gets
 *   no answer fails after COMMAND_TIMEOUT_MS;
 * - ioredis reconnects forever with a capped back-off; `healthy()` is true
 *   only while the command connection is ready, for /readyz and gRPC health.
 */
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { storeErrorsTotal, storeUp } from '../observability/store-metrics.js';

const CONNECT_TIMEOUT_MS = 2000;
const COMMAND_TIMEOUT_MS = 2000;
const MAX_RECONNECT_DELAY_MS = 2000;

export interface RedisConnections {
  readonly commands: Redis;
  readonly subscriber: Redis;
  /** True while the command connection is ready. */
  healthy(): boolean;
  /**
   * Number of the current subscription to the revocation channel, or 0 while
   * not subscribed. It changes on every re-subscription, so a cache entry
   * remembered under an older number may have missed a revocation: a
   * replica-local cache is only safe while this is non-zero and unchanged.
   */
  subscription(): number;
  /** `listener(healthy)` on every change of healthy(); returns an unsubscribe function. */
  onHealthChange(listener: (healthy: boolean) => void): () => void;
  /** Resolves true once connected, false after `timeoutMs` (never rejects). */
  whenReady(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The URL without its password, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable redis url>';
  }
}

export function openRedisConnections(url: string, channel: string, logger: Logger | undefined): RedisConnections {
  const options = {
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(100 * times, MAX_RECONNECT_DELAY_MS),
    autoResubscribe: false,
  };
  const commands = new Redis(url, options);
  // The subscriber subscribes on every 'ready' (below) and never runs commands that must fail fast.
  const subscriber = new Redis(url, { ...options, enableOfflineQueue: true, commandTimeout: undefined });
  const events = new EventEmitter();
  const where = redactRedisUrl(url);
  let healthy = false;
  let subscription = 0;
  let subscriptions = 0;
  let loggedDown = false;

  const setHealthy = (value: boolean) => {
    if (value === healthy) return;
    healthy = value;
    storeUp.labels('redis').set(value ? 1 : 0);
    if (value) {
      logger?.info({ redis: where }, 'session store connected');
      loggedDown = false;
    } else if (!loggedDown) {
      loggedDown = true;
      logger?.warn({ redis: where }, 'session store unreachable: session requests fail closed (503) until it is back');
    }
    events.emit('health', value);
  };
  storeUp.labels('redis').set(0);

  commands.on('ready', () => setHealthy(true));
  for (const event of ['close', 'end', 'reconnecting']) commands.on(event, () => setHealthy(false));
  commands.on('error', (err: Error & { code?: string }) => {
    storeErrorsTotal.labels('redis', 'connect').inc();
    if (!loggedDown) logger?.warn({ redis: where, error: err.code ?? err.name }, 'session store connection error');
  });
  subscriber.on('error', () => storeErrorsTotal.labels('redis', 'subscribe').inc());
  for (const event of ['close', 'end', 'reconnecting']) subscriber.on(event, () => void (subscription = 0));
  // Counted as subscribed only once Redis confirmed the SUBSCRIBE (again after every reconnect; repeating it is harmless).
  const subscribe = () => {
    subscriber.subscribe(channel).then(
      () => void (subscription = subscriber.status === 'ready' ? ++subscriptions : 0),
      () => storeErrorsTotal.labels('redis', 'subscribe').inc(),
    );
  };
  subscriber.on('ready', subscribe);

  return {
    commands,
    subscriber,
    healthy: () => healthy,
    subscription: () => (healthy ? subscription : 0),
    onHealthChange(listener) {
      events.on('health', listener);
      return () => events.off('health', listener);
    },
    whenReady(timeoutMs) {
      if (healthy) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => done(false), timeoutMs);
        const done = (value: boolean) => {
          clearTimeout(timer);
          events.off('health', onHealth);
          resolve(value);
        };
        const onHealth = (value: boolean) => value && done(true);
        events.on('health', onHealth);
      });
    },
    async close() {
      events.removeAllListeners();
      commands.disconnect();
      subscriber.disconnect();
    },
  };
}
