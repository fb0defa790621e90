/**
 * Sessions ended by a logout, for the cookie store (a signed cookie cannot
 * be deleted: a copy of it stays valid until it expires unless every replica
 * refuses its `sid`).
 *
 * - `MemoryEndedSessions`: this process only (the default; per replica — a
 *   logout on one replica is not seen by the others);
 * - `RedisEndedSessions` (ended-sessions-redis.ts, `authz.sessions.revocations`):
 *   shared by every replica through Redis, pushed to each replica's memory.
 * Either way the check on a request is a Map lookup, never I/O. An entry is
 * kept until the session's own expiry, then forgotten.
 */
export type EndedCheck = 'ended' | 'live' | 'unknown';

export interface EndedSessions {
  /** 'unknown' while a shared list cannot be trusted (not in sync with Redis): the caller fails closed (503). */
  check(sid: string): EndedCheck;
  /** Ends the session `sid` until `untilSeconds` (its expiry). Throws SessionStoreUnavailableError when it cannot be shared. */
  end(sid: string, untilSeconds: number): Promise<void>;
}

export const MAX_ENDED_SESSIONS = 200_000;

/** sid → until (epoch s), bounded; expired entries are dropped first. */
export class EndedSessionList {
  readonly #until = new Map<string, number>();
  readonly #now: () => number;
  readonly #max: number;
  #nextPrune = 0;

  constructor(now: () => number = Date.now, max = MAX_ENDED_SESSIONS) {
    this.#now = now;
    this.#max = max;
  }

  get size(): number {
    return this.#until.size;
  }

  has(sid: string): boolean {
    return this.#until.has(sid);
  }

  add(sid: string, untilSeconds: number): void {
    const nowS = Math.floor(this.#now() / 1000);
    if (!(untilSeconds > nowS)) return; // an expired session is refused anyway
    if (nowS >= this.#nextPrune || this.#until.size >= this.#max) {
      this.#nextPrune = nowS + 60;
      for (const [key, until] of this.#until) if (until <= nowS) this.#until.delete(key);
    }
    // Still full of live entries: the oldest goes (documented limit; 200 000 logouts within one cookie lifetime).
    if (this.#until.size >= this.#max) this.#until.delete(this.#until.keys().next().value!);
    this.#until.set(sid, Math.max(untilSeconds, this.#until.get(sid) ?? 0));
  }
}

export class MemoryEndedSessions implements EndedSessions {
  readonly #list: EndedSessionList;

  constructor(now: () => number = Date.now) {
    this.#list = new EndedSessionList(now);
  }

  check(sid: string): EndedCheck {
    return this.#list.has(sid) ? 'ended' : 'live';
  }

  async end(sid: string, untilSeconds: number): Promise<void> {
    this.#list.add(sid, untilSeconds);
  }
}
