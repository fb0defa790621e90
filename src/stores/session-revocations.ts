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
 * replica: back-channel logout across several replicas needs
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

export class MemorySessionRevocations implements SessionRevoker {
  /** key → revoked-at (epoch s); Map order = insertion order, so the oldest is dropped first when full. */
  readonly #bySid = new Map<string, number>();
  readonly #bySub = new Map<string, number>();
  readonly #bySubUnknownSid = new Map<string, number>();
  readonly #jtis = new Map<string, number>();
  readonly #keepSeconds: number;
  readonly #now: () => number;

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

  async revoke(target: LogoutTarget): Promise<number> {
    const nowS = this.#nowSeconds();
    const oldest = nowS - this.#keepSeconds;
    for (const map of [this.#bySid, this.#bySub, this.#bySubUnknownSid]) prune(map, (at) => at < oldest);
    if (target.sid) {
      put(this.#bySid, `${target.provider}\u0000${target.sid}`, nowS);
      if (target.sub) put(this.#bySubUnknownSid, `${target.provider}\u0000${target.sub}`, nowS);
    } else if (target.sub) {
      put(this.#bySub, `${target.provider}\u0000${target.sub}`, nowS);
    }
    // Stateless sessions cannot be counted; the list refuses them when they next show up.
    return 0;
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
