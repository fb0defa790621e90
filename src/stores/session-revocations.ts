/**
 * Ending sessions from outside the browser (OIDC back-channel logout), and
 * the in-memory form of it for the cookie store.
 *
 * Which sessions a logout token ends (both stores):
 * - token with `sid`: the sessions whose ID token carried that IdP `sid`;
 *   and, when it also names `sub`, that subject's sessions whose IdP sid is
 *   unknown (a session without a recorded ID token cannot be matched by sid:
 *   ending it is the safe side);
 * - token with `sub` only: every session of that subject at that provider.
 *
 * Signed-cookie sessions cannot be deleted: the cookie store keeps a
 * revocation list in this process's memory — (provider, sid or sub,
 * revoked-at) — and refuses sessions that logged in before it. It is per
 * replica unless `authz.sessions.revocations` shares it through Redis
 * (ended-sessions-redis.ts pushes every entry to every replica's memory);
 * else back-channel logout across several replicas needs
 * `authz.sessions.store: redis`.
 */

export interface LogoutTarget {
  readonly provider: string;
  readonly sid?: string;
  readonly sub?: string;
}

/** A store operation could not be done (Redis unreachable, timed out): the request fails closed with 503. */
export class SessionStoreUnavailableError extends Error {
  readonly code = 'ERR_SESSIONS_STORE_UNAVAILABLE' as const;
  constructor(op: string, options?: { cause?: unknown }) {
    super(`the session store is unavailable (${op})`, options);
    this.name = 'SessionStoreUnavailableError';
  }
}

export interface SessionRevoker {
  /** Remembers a logout token's `jti` until `untilSeconds`; false when it was already seen (a replay). */
  rememberLogoutToken(provider: string, jti: string, untilSeconds: number): Promise<boolean>;
  /** Ends the matching sessions (every replica for the Redis store); returns how many were found. */
  revoke(target: LogoutTarget): Promise<number>;
}

/** What the cookie store knows of a session when checking it. */
export interface SessionFacts {
  readonly provider: string;
  readonly subject: string;
  /** Login time, epoch seconds. */
  readonly loginAt: number;
  readonly idpSid?: string;
}

const MAX_ENTRIES = 100_000;

/** One entry of the list: which map, its key (provider NUL sid-or-sub), revoked-at (epoch s). */
export interface RevocationEntry {
  readonly map: 'sid' | 'sub' | 'subu';
  readonly key: string;
  readonly at: number;
}

/** Sends entries to every other replica (and stores them for late joiners); throws SessionStoreUnavailableError. */
export type ShareRevocations = (entries: readonly RevocationEntry[], untilSeconds: number) => Promise<void>;

export class MemorySessionRevocations implements SessionRevoker {
  /** key → revoked-at (epoch s); Map order = insertion order, so the oldest is dropped first when full. */
  readonly #bySid = new Map<string, number>();
  readonly #bySub = new Map<string, number>();
  readonly #bySubUnknownSid = new Map<string, number>();
  readonly #jtis = new Map<string, number>();
  readonly #keepSeconds: number;
  readonly #now: () => number;
  #share: ShareRevocations | undefined;

  /** `keepSeconds`: the session lifetime; a revocation older than that can match no live session. */
  constructor(keepSeconds: number, now: () => number = Date.now) {
    this.#keepSeconds = keepSeconds;
    this.#now = now;
  }

  /** Revocations held; 0 = no session needs checking. */
  get size(): number {
    return this.#bySid.size + this.#bySub.size + this.#bySubUnknownSid.size;
  }

  async rememberLogoutToken(provider: string, jti: string, untilSeconds: number): Promise<boolean> {
    const nowS = this.#nowSeconds();
    prune(this.#jtis, (until) => until <= nowS);
    const key = `${provider}\u0000${jti}`;
    const until = this.#jtis.get(key);
    if (until !== undefined && until > nowS) return false;
    put(this.#jtis, key, untilSeconds);
    return true;
  }

  /** Shares every later revocation with the other replicas (authz.sessions.revocations). */
  shareWith(share: ShareRevocations): void {
    this.#share = share;
  }

  async revoke(target: LogoutTarget): Promise<number> {
    const nowS = this.#nowSeconds();
    const entries: RevocationEntry[] = [];
    if (target.sid) {
      entries.push({ map: 'sid', key: `${target.provider}\u0000${target.sid}`, at: nowS });
      if (target.sub) entries.push({ map: 'subu', key: `${target.provider}\u0000${target.sub}`, at: nowS });
    } else if (target.sub) {
      entries.push({ map: 'sub', key: `${target.provider}\u0000${target.sub}`, at: nowS });
    }
    for (const entry of entries) this.apply(entry);
    // Not shared = not done on every replica: the caller answers 503 and the IdP may retry.
    if (entries.length && this.#share) await this.#share(entries, nowS + this.#keepSeconds);
    // Stateless sessions cannot be counted; the list refuses them when they next show up.
    return 0;
  }

  /** Adds one entry (from this process, another replica, or read back from the shared store). */
  apply(entry: RevocationEntry): void {
    const oldest = this.#nowSeconds() - this.#keepSeconds;
    if (entry.at < oldest) return;
    for (const map of [this.#bySid, this.#bySub, this.#bySubUnknownSid]) prune(map, (at) => at < oldest);
    const map = entry.map === 'sid' ? this.#bySid : entry.map === 'sub' ? this.#bySub : this.#bySubUnknownSid;
    put(map, entry.key, Math.max(entry.at, map.get(entry.key) ?? 0));
  }

  isRevoked(facts: SessionFacts): boolean {
    const sub = `${facts.provider}\u0000${facts.subject}`;
    const revokedAt = [
      this.#bySub.get(sub),
      facts.idpSid ? this.#bySid.get(`${facts.provider}\u0000${facts.idpSid}`) : this.#bySubUnknownSid.get(sub),
    ];
    // A later login is a new session (the user logged in again). Times are whole seconds: a login in the
    // very second of the revocation is refused too — a needless re-login beats a session escaping its logout.
    return revokedAt.some((at) => at !== undefined && facts.loginAt <= at);
  }

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000);
  }
}

function put(map: Map<string, number>, key: string, value: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
}

function prune(map: Map<string, number>, stale: (value: number) => boolean): void {
  for (const [key, value] of map) {
    if (!stale(value)) break; // insertion order ≈ time order
    map.delete(key);
  }
}
