/**
 * The Redis session store (`authz.sessions: { store: redis, url, prefix }`):
 * sessions live in Redis, the browser holds only their id, so ending a
 * session ends it on every replica at once.
 *
 * Keys (all under the configured prefix):
 * - `session:<id>`                → the sealed StoredSession (stored-session.ts), TTL = remaining lifetime;
 * - `idp-sid:<provider>:<sid>`    → set of ids with that IdP session id (back-channel logout);
 * - `sub:<provider>:<sub>`        → set of ids of that subject;
 * - `lock:refresh:<id>`           → the cross-replica refresh lock (SET NX PX, compare-and-delete);
 * - `bcl-jti:<provider>:<hash>`   → logout-token ids already used, until the token expires;
 * - channel `revoked`             → ids whose stored value was deleted or replaced.
 *
 * Each replica may answer from a short in-memory cache, but only while it
 * is subscribed to `revoked`: every delete/replace is published there and
 * drops the entry everywhere (well under a second). An entry is kept only
 * when no invalidation arrived while it was being read, and the whole cache
 * is disowned when the subscription is lost (subscription number changes).
 *
 * Every failed Redis operation is counted in
 * kestra_authz_store_errors_total{store="redis",op} and surfaces as a
 * SessionStoreUnavailableError: callers fail closed (503), never allow.
 */
import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { storeErrorsTotal } from '../observability/store-metrics.js';
import { openRedisConnections, type RedisConnections } from './redis-connection.js';
import { SessionStoreUnavailableError, type LogoutTarget, type SessionRevoker } from './session-revocations.js';
import { openStoredSession, sealStoredSession, type StoredSession, type StoredSessionKeys } from './stored-session.js';

export interface RedisSessionStoreOptions {
  readonly url: string;
  readonly prefix: string;
  readonly keys: StoredSessionKeys;
  readonly logger?: Logger;
  /** Clock, epoch ms (default Date.now). */
  readonly now?: () => number;
  /** Lifetime of a replica-local cache entry, ms (default 30 000; 0 = no cache). */
  readonly cacheTtlMs?: number;
}

/** How long a refresh may hold the lock; a loser waits a little longer than this at most. */
export const REFRESH_LOCK_MS = 5000;

const RELEASE_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

interface CacheEntry {
  readonly session: StoredSession;
  readonly subscription: number;
}

export class RedisSessionStore implements SessionRevoker {
  readonly prefix: string;
  readonly #conn: RedisConnections;
  readonly #keys: StoredSessionKeys;
  readonly #now: () => number;
  readonly #cache: LRUCache<string, CacheEntry> | undefined;
  readonly #channel: string;
  /** Bumped on every invalidation: a read that overlapped one must not be cached. */
  #invalidations = 0;

  constructor(options: RedisSessionStoreOptions) {
    this.prefix = options.prefix;
    this.#keys = options.keys;
    this.#now = options.now ?? Date.now;
    this.#channel = `${options.prefix}revoked`;
    const ttl = options.cacheTtlMs ?? 30_000;
    this.#cache = ttl > 0 ? new LRUCache({ max: 10_000, ttl }) : undefined;
    this.#conn = openRedisConnections(options.url, this.#channel, options.logger);
    this.#conn.subscriber.on('message', (channel: string, id: string) => {
      if (channel === this.#channel) this.#invalidate(id);
    });
  }

  healthy(): boolean {
    return this.#conn.healthy();
  }

  onHealthChange(listener: (healthy: boolean) => void): () => void {
    return this.#conn.onHealthChange(listener);
  }

  whenReady(timeoutMs: number): Promise<boolean> {
    return this.#conn.whenReady(timeoutMs);
  }

  /** The session with this id, or undefined (never existed, ended, expired in Redis, garbled). */
  async get(id: string, options: { readonly fresh?: boolean } = {}): Promise<StoredSession | undefined> {
    const subscription = this.#conn.subscription();
    if (this.#cache && subscription !== 0 && !options.fresh) {
      const hit = this.#cache.get(id);
      if (hit && hit.subscription === subscription) return hit.session;
    }
    const invalidations = this.#invalidations;
    const sealed = await this.#run('get', (r) => r.get(this.#sessionKey(id)));
    if (sealed === null) return undefined;
    const session = await openStoredSession(this.#keys.seal, id, sealed);
    if (session && this.#cache && subscription !== 0 && this.#conn.subscription() === subscription && this.#invalidations === invalidations) {
      this.#cache.set(id, { session, subscription });
    }
    return session;
  }

  /** Stores a new session with TTL = its remaining lifetime, and indexes it for back-channel logout. */
  async create(id: string, session: StoredSession): Promise<void> {
    const ttlMs = this.#ttlMs(session);
    const sealed = await sealStoredSession(this.#keys.seal, id, session);
    await this.#run('create', (r) => {
      const tx = r.multi().set(this.#sessionKey(id), sealed, 'PX', ttlMs);
      this.#index(tx, id, session, ttlMs);
      return tx.exec();
    });
  }

  /** Replaces a session after a refresh, keeping its TTL; false when it ended meanwhile (never resurrected). */
  async replace(id: string, session: StoredSession): Promise<boolean> {
    const ttlMs = this.#ttlMs(session);
    const sealed = await sealStoredSession(this.#keys.seal, id, session);
    const results = await this.#run('replace', (r) => {
      const tx = r.multi().set(this.#sessionKey(id), sealed, 'KEEPTTL', 'XX');
      this.#index(tx, id, session, ttlMs);
      return tx.publish(this.#channel, id).exec();
    });
    this.#invalidate(id);
    return results?.[0]?.[1] === 'OK';
  }

  /** Ends one session on every replica. */
  async delete(id: string): Promise<void> {
    await this.#run('delete', (r) => r.multi().del(this.#sessionKey(id)).publish(this.#channel, id).exec());
    this.#invalidate(id);
  }

  async revoke(target: LogoutTarget): Promise<number> {
    const sidKey = target.sid ? `${this.prefix}idp-sid:${target.provider}:${target.sid}` : undefined;
    const subKey = target.sub ? `${this.prefix}sub:${target.provider}:${target.sub}` : undefined;
    const ids = new Set(sidKey ? await this.#run('revoke', (r) => r.smembers(sidKey)) : []);
    if (subKey) {
      const ofSubject = await this.#run('revoke', (r) => r.smembers(subKey));
      for (const id of ofSubject) {
        if (ids.has(id)) continue;
        // With a sid: only the subject's sessions whose IdP sid is unknown (see session-revocations.ts).
        if (!sidKey || (await this.get(id, { fresh: true }))?.idpSid === undefined) ids.add(id);
      }
    }
    if (!ids.size) return 0;
    const results = await this.#run('revoke', (r) => {
      const tx = r.multi();
      for (const id of ids) tx.del(this.#sessionKey(id));
      if (sidKey) tx.del(sidKey);
      else if (subKey) tx.del(subKey);
      for (const id of ids) tx.publish(this.#channel, id);
      return tx.exec();
    });
    for (const id of ids) this.#invalidate(id);
    return (results ?? []).slice(0, ids.size).filter(([, deleted]) => deleted === 1).length;
  }

  async rememberLogoutToken(provider: string, jti: string, untilSeconds: number): Promise<boolean> {
    const hash = createHash('sha256').update(jti).digest('base64url');
    const seconds = Math.max(1, Math.ceil(untilSeconds - this.#now() / 1000));
    const set = await this.#run('jti', (r) => r.set(`${this.prefix}bcl-jti:${provider}:${hash}`, '1', 'EX', seconds, 'NX'));
    return set === 'OK';
  }

  /** Takes the refresh lock of session `id`: its token, or undefined when another holds it. */
  async tryLock(id: string): Promise<string | undefined> {
    const token = randomBytes(16).toString('base64url');
    const set = await this.#run('lock', (r) => r.set(this.#lockKey(id), token, 'PX', REFRESH_LOCK_MS, 'NX'));
    return set === 'OK' ? token : undefined;
  }

  /** Releases the lock only if it is still ours (it may have expired and been taken by another replica). */
  async unlock(id: string, token: string): Promise<void> {
    await this.#run('unlock', (r) => r.eval(RELEASE_LOCK, 1, this.#lockKey(id), token));
  }

  async close(): Promise<void> {
    await this.#conn.close();
  }

  #sessionKey(id: string): string {
    return `${this.prefix}session:${id}`;
  }

  #lockKey(id: string): string {
    return `${this.prefix}lock:refresh:${id}`;
  }

  #ttlMs(session: StoredSession): number {
    return Math.max(1000, session.record.expiresAt * 1000 - this.#now());
  }

  /** Index sets live as long as the newest session in them (every session of a config has the same lifetime). */
  #index(tx: ReturnType<RedisConnections['commands']['multi']>, id: string, session: StoredSession, ttlMs: number): void {
    const { provider, subject } = session.record;
    if (provider === '') return; // Basic-form sessions: no IdP to log out from
    const subKey = `${this.prefix}sub:${provider}:${subject}`;
    tx.sadd(subKey, id).pexpire(subKey, ttlMs);
    if (session.idpSid) {
      const sidKey = `${this.prefix}idp-sid:${provider}:${session.idpSid}`;
      tx.sadd(sidKey, id).pexpire(sidKey, ttlMs);
    }
  }

  #invalidate(id: string): void {
    this.#invalidations++;
    this.#cache?.delete(id);
  }

  async #run<T>(op: string, command: (redis: RedisConnections['commands']) => Promise<T>): Promise<T> {
    try {
      return await command(this.#conn.commands);
    } catch (err) {
      storeErrorsTotal.labels('redis', op).inc();
      throw new SessionStoreUnavailableError(op, { cause: err });
    }
  }
}
