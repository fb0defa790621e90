/**
 * Ended cookie-store sessions shared by every replica through Redis
 * (`authz.sessions.revocations: { store: redis, url, prefix }`).
 *
 * - Ending a session: `SET <prefix>ended:<sid> <until> EXAT <until>`, then
 *   PUBLISH `e <sid> <until>` on `<prefix>ended`. Both must succeed, else the
 *   logout answers 503 (a logout that might not reach every replica is not
 *   reported as done).
 * - The back-channel logout list of the cookie store (session-revocations.ts)
 *   rides along: `<prefix>bcl:<map>:<key b64url>` = `<revoked-at> <until>`,
 *   published as `b <map> <revoked-at> <until> <key b64url>`.
 * - Each replica keeps every entry in memory: the messages of the channel
 *   are applied as they arrive (well under a second), and after each
 *   (re)subscription the keys are read back with SCAN, so entries published
 *   while a replica was away are not missed.
 * - A request's check is a Map lookup. While this replica is not subscribed,
 *   or has not finished reading the keys back since it subscribed, the check
 *   answers 'unknown' and the session is refused with 503 (fail closed): a
 *   logout elsewhere might have been missed.
 */
import type { Logger } from 'pino';
import { storeErrorsTotal } from '../observability/store-metrics.js';
import { EndedSessionList, type EndedCheck, type EndedSessions } from './ended-sessions.js';
import { openRedisConnections, type RedisConnections } from './redis-connection.js';
import { SessionStoreUnavailableError, type MemorySessionRevocations } from './session-revocations.js';

export interface RedisEndedSessionsOptions {
  readonly url: string;
  readonly prefix: string;
  readonly logger?: Logger;
  readonly now?: () => number;
}

const SID = /^[A-Za-z0-9_-]{1,128}$/;
const RESYNC_CHECK_MS = 200;

export class RedisEndedSessions implements EndedSessions {
  readonly #conn: RedisConnections;
  readonly #list: EndedSessionList;
  readonly #channel: string;
  readonly #keyPrefix: string;
  readonly #bclPrefix: string;
  #revocations: MemorySessionRevocations | undefined;
  readonly #logger: Logger | undefined;
  /** The subscription whose read-back finished; entries are complete only while it is the current one. */
  #synced = 0;
  #syncing: Promise<void> | undefined;
  readonly #resync: NodeJS.Timeout;

  constructor(options: RedisEndedSessionsOptions) {
    this.#list = new EndedSessionList(options.now);
    this.#channel = `${options.prefix}ended`;
    this.#keyPrefix = `${options.prefix}ended:`;
    this.#bclPrefix = `${options.prefix}bcl:`;
    this.#logger = options.logger;
    this.#conn = openRedisConnections(options.url, this.#channel, options.logger);
    this.#conn.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.#channel) return;
      const parts = message.split(' ');
      if (parts[0] === 'e') this.#addEnded(parts[1] ?? '', parts[2] ?? '');
      else if (parts[0] === 'b') this.#addRevocation(parts[1] ?? '', parts[4] ?? '', `${parts[2] ?? ''} ${parts[3] ?? ''}`);
    });
    // After a reconnection, read the list back without waiting for a request to notice.
    this.#resync = setInterval(() => {
      const current = this.#conn.subscription();
      if (current !== 0 && current !== this.#synced) void this.sync();
    }, RESYNC_CHECK_MS);
    this.#resync.unref();
  }

  /** True while subscribed and in sync (for /readyz). */
  healthy(): boolean {
    const current = this.#conn.subscription();
    return current !== 0 && current === this.#synced;
  }

  onHealthChange(listener: (healthy: boolean) => void): () => void {
    return this.#conn.onHealthChange(() => listener(this.healthy()));
  }

  check(sid: string): EndedCheck {
    const current = this.#conn.subscription();
    if (current === 0 || current !== this.#synced) {
      if (current !== 0) void this.sync();
      return 'unknown';
    }
    return this.#list.has(sid) ? 'ended' : 'live';
  }

  async end(sid: string, untilSeconds: number): Promise<void> {
    if (!SID.test(sid)) throw new SessionStoreUnavailableError('end-session');
    const until = String(Math.floor(untilSeconds));
    try {
      await this.#conn.commands.set(`${this.#keyPrefix}${sid}`, until, 'EXAT', Number(until));
      await this.#conn.commands.publish(this.#channel, `e ${sid} ${until}`);
    } catch (err) {
      storeErrorsTotal.labels('redis', 'end_session').inc();
      throw new SessionStoreUnavailableError('end-session', { cause: err });
    }
    this.#list.add(sid, Number(until));
  }

  /** Shares the cookie store's back-channel logout list through the same keys and channel. */
  carry(revocations: MemorySessionRevocations): void {
    this.#revocations = revocations;
    revocations.shareWith(async (entries, untilSeconds) => {
      const until = String(Math.floor(untilSeconds));
      try {
        for (const entry of entries) {
          const key = Buffer.from(entry.key, 'utf8').toString('base64url');
          await this.#conn.commands.set(`${this.#bclPrefix}${entry.map}:${key}`, `${entry.at} ${until}`, 'EXAT', Number(until));
          await this.#conn.commands.publish(this.#channel, `b ${entry.map} ${entry.at} ${until} ${key}`);
        }
      } catch (err) {
        storeErrorsTotal.labels('redis', 'backchannel_revoke').inc();
        throw new SessionStoreUnavailableError('backchannel-revoke', { cause: err });
      }
    });
  }

  #addEnded(sid: string, until: string): void {
    if (SID.test(sid) && /^\d{1,12}$/.test(until)) this.#list.add(sid, Number(until));
  }

  /** `value` = `<revoked-at> <until>`. */
  #addRevocation(map: string, key: string, value: string): void {
    const [at = '', until = ''] = value.split(' ');
    if (!this.#revocations || (map !== 'sid' && map !== 'sub' && map !== 'subu')) return;
    if (!/^[A-Za-z0-9_-]{1,8192}$/.test(key) || !/^\d{1,12}$/.test(at) || !/^\d{1,12}$/.test(until)) return;
    this.#revocations.apply({ map, key: Buffer.from(key, 'base64url').toString('utf8'), at: Number(at) });
  }

  /** Reads every entry back (after a (re)subscription); concurrent callers share one run. */
  sync(): Promise<void> {
    this.#syncing ??= this.#readBack().finally(() => { this.#syncing = undefined; });
    return this.#syncing;
  }

  /** Waits (bounded) for the first subscription and read-back; never rejects. */
  async warmUp(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.#conn.subscription() !== 0) {
        await this.sync();
        if (this.healthy()) return true;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.healthy();
  }

  async #readBack(): Promise<void> {
    const subscription = this.#conn.subscription();
    if (subscription === 0 || subscription === this.#synced) return;
    try {
      await this.#scan(`${this.#keyPrefix}*`, (key, value) => this.#addEnded(key.slice(this.#keyPrefix.length), value));
      if (this.#revocations) {
        await this.#scan(`${this.#bclPrefix}*`, (key, value) => {
          const [map = '', encoded = ''] = key.slice(this.#bclPrefix.length).split(':');
          this.#addRevocation(map, encoded, value);
        });
      }
    } catch {
      storeErrorsTotal.labels('redis', 'ended_sessions_sync').inc();
      this.#logger?.warn('ended sessions: cannot read the list back from Redis; cookie sessions fail closed until it can');
      return;
    }
    // Messages that arrived meanwhile were applied as they came; a lost subscription restarts the read-back.
    if (this.#conn.subscription() === subscription) this.#synced = subscription;
  }

  async #scan(pattern: string, each: (key: string, value: string) => void): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.#conn.commands.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      const values = await this.#conn.commands.mget(...keys);
      keys.forEach((key, i) => {
        const value = values[i];
        if (value) each(key, value);
      });
    } while (cursor !== '0');
  }

  close(): Promise<void> {
    clearInterval(this.#resync);
    return this.#conn.close();
  }
}
