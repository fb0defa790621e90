/**
 * Per-address brute-force limits for Basic auth (`authz.source-lockout`),
 * next to the per-user lock (`kestra.security.login.failed-attempts`).
 *
 * The policy, for one failed attempt (wrong password or unknown user) from
 * address A for user name U:
 * 1. A's group (IPv4 address, IPv6 /64 — source-address.ts) counts one
 *    failure; `threshold` failures within `monitoring-window` block the group
 *    for `lock-duration`. While blocked, every Basic attempt from it is
 *    refused (`basic_source_locked_out`) before the user is looked up or the
 *    password checked, and such refused attempts count toward nothing: they
 *    neither extend the block nor add to any user's count.
 * 2. U's own settings (`threshold` T, `monitoring-window`, `lock-duration`)
 *    are applied to the pair (U, A): T failures from A lock U *for A only*
 *    (`basic_locked_out`, exactly what Kestra shows the one client that
 *    guessed wrong).
 * 3. The lock of U for everyone needs failures from two or more addresses:
 *    one address adds at most T − 1 failures to U's count per window (its
 *    "share"). So no single address can lock an account out for others —
 *    it only locks itself out of that account and, past its own threshold,
 *    gets blocked — while a spread-out attack still locks U as Kestra does.
 *    (With T = 1 there is no share: any single failure locks U for all.)
 * 4. A success never clears A's count (else an attacker holding one valid
 *    account could reset his own counter between guesses); it clears U's
 *    count and the (U, A) counts, as before (never a lock).
 * Addresses in `exempt` (default: loopback — a co-located proxy, not a
 * client) and attempts with no usable address are counted the Kestra way:
 * toward the user only, never blocked per address.
 *
 * State lives in two LockoutStores, in memory or in PostgreSQL like the
 * per-user one, under keys that cannot be user names (they contain ':').
 */
import { AddressSet, sourceGroupOf } from './source-address.js';
import type { LockoutStore } from './lockout-store.js';

export interface SourceLockoutSettings {
  readonly enabled: boolean;
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly lockSeconds: number;
  /** CIDRs never blocked per address. */
  readonly exempt: readonly string[];
}

export interface SourceLockoutStores {
  /** `source:<group>` → failures and blocks of one address group. */
  readonly sources: LockoutStore;
  /** Per (user, address) stores; absent when the user threshold is 1. */
  readonly perUser?: {
    /** `user-at:<group>:<user>` with the user's settings: the lock of one user for one address. */
    readonly locks: LockoutStore;
    /** `share:<group>:<user>` → failures one address added to the user's count; "locked" = share used up. */
    readonly shares: LockoutStore;
  };
}

export class SourceLockout {
  readonly #stores: SourceLockoutStores;
  readonly #exempt: AddressSet;

  constructor(settings: Pick<SourceLockoutSettings, 'exempt'>, stores: SourceLockoutStores) {
    this.#stores = stores;
    this.#exempt = new AddressSet(settings.exempt);
  }

  /** The counting group of a request's source address; undefined when unknown or exempt (Kestra-style counting then). */
  groupOf(address: string): string | undefined {
    if (!address || this.#exempt.has(address)) return undefined;
    return sourceGroupOf(address);
  }

  /** True while the group is blocked. Throws when a shared store is down (the caller fails closed). */
  async isBlocked(group: string): Promise<boolean> {
    return this.#stores.sources.isLocked(sourceKey(group));
  }

  /** True while `username` is locked for this address only (rule 2). Throws when a shared store is down. */
  async isUserLockedHere(group: string, username: string): Promise<boolean> {
    return (await this.#stores.perUser?.locks.isLocked(pairKey(group, username))) === true;
  }

  /**
   * Counts one failed attempt of `username` from `group`. Returns whether the
   * failure also counts toward the user's own lock (false once this address
   * used up its share of that user's threshold).
   */
  async recordFailure(group: string, username: string): Promise<boolean> {
    await this.#stores.sources.recordFailure(sourceKey(group));
    const perUser = this.#stores.perUser;
    if (!perUser) return true;
    await perUser.locks.recordFailure(pairKey(group, username));
    const share = shareKey(group, username);
    if (await perUser.shares.isLocked(share)) return false;
    await perUser.shares.recordFailure(share);
    return true;
  }

  /**
   * Counts one attempt of `username` from `group` before its password is
   * checked (the address, the (user, address) lock, the address's share of the
   * user's count — in that order). `refused`: the address is blocked (or used
   * up its attempts in flight), or the user is locked for this address — the
   * slots taken so far are given back, since refused attempts count toward
   * nothing. `countsForUser`: whether the user's own count takes it too.
   */
  async reserve(group: string, username: string): Promise<SourceReservation> {
    const source = sourceKey(group);
    if (!(await this.#stores.sources.reserve(source))) return REFUSED_SOURCE;
    const perUser = this.#stores.perUser;
    if (!perUser) return COUNTS_FOR_USER;
    if (!(await perUser.locks.reserve(pairKey(group, username)))) {
      await this.#stores.sources.release(source);
      return REFUSED_USER;
    }
    return (await perUser.shares.reserve(shareKey(group, username))) ? COUNTS_FOR_USER : NOT_FOR_USER;
  }

  /** The reserved attempt failed: may start the address block, the (user, address) lock, use up the share. */
  async confirmFailure(group: string, username: string, reservation: SourceReservation): Promise<void> {
    await this.#stores.sources.confirmFailure(sourceKey(group));
    const perUser = this.#stores.perUser;
    if (!perUser) return;
    await perUser.locks.confirmFailure(pairKey(group, username));
    if (reservation.countsForUser) await perUser.shares.confirmFailure(shareKey(group, username));
  }

  /** The reserved attempt does not count (it succeeded, or the user's own lock refused it): its slots are given back. */
  async release(group: string, username: string, reservation: SourceReservation): Promise<void> {
    await this.#stores.sources.release(sourceKey(group));
    const perUser = this.#stores.perUser;
    if (!perUser) return;
    await perUser.locks.release(pairKey(group, username));
    if (reservation.countsForUser) await perUser.shares.release(shareKey(group, username));
  }

  /** A successful login of `username` from `group` clears the (user, address) counts (never the address's own count). */
  async recordSuccess(group: string, username: string): Promise<void> {
    const perUser = this.#stores.perUser;
    if (!perUser) return;
    await perUser.locks.recordSuccess(pairKey(group, username));
    await perUser.shares.recordSuccess(shareKey(group, username));
  }
}

export interface SourceReservation {
  readonly refused?: 'source' | 'user';
  readonly countsForUser: boolean;
}
const REFUSED_SOURCE: SourceReservation = Object.freeze({ refused: 'source', countsForUser: false });
const REFUSED_USER: SourceReservation = Object.freeze({ refused: 'user', countsForUser: false });
const COUNTS_FOR_USER: SourceReservation = Object.freeze({ countsForUser: true });
const NOT_FOR_USER: SourceReservation = Object.freeze({ countsForUser: false });

const sourceKey = (group: string) => `source:${group}`;
const pairKey = (group: string, username: string) => `user-at:${group}:${username}`;
const shareKey = (group: string, username: string) => `share:${group}:${username}`;

/**
 * Settings of the share store: a share of `threshold − 1` counted failures
 * per user window; undefined when the user threshold is 1 (no share limit).
 */
export function shareSettings(user: { threshold: number; windowSeconds: number }): { threshold: number; windowSeconds: number; lockSeconds: number } | undefined {
  if (user.threshold <= 1) return undefined;
  return { threshold: user.threshold - 1, windowSeconds: user.windowSeconds, lockSeconds: user.windowSeconds };
}
