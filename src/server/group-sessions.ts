/**
 * The cookie store's logout lists in a `serve --workers N` group. A signed
 * cookie cannot be deleted, so every worker must refuse a session that a
 * /logout (ended sessions) or a back-channel logout (revocations) on ANY
 * worker ended: the worker that took the logout hands the entry to the
 * others through the primary and answers only once they all applied it (a
 * replay on another worker right after the logout is refused). The primary
 * keeps the entries until they expire and replays them to a worker started
 * later (a restarted one).
 *
 * Not used when `authz.sessions.revocations` shares the lists through Redis:
 * every worker then subscribes to Redis itself.
 */
import { EndedSessionList, type EndedCheck, type EndedSessions } from '../stores/ended-sessions.js';
import { SessionStoreUnavailableError, type MemorySessionRevocations } from '../stores/session-revocations.js';
import type { WorkerLink } from './worker-link.js';

/** Ended sessions of the whole group: checked in this worker's memory, ended everywhere. */
export function groupEndedSessions(link: WorkerLink, now: () => number = Date.now): EndedSessions {
  const list = new EndedSessionList(now);
  link.onEvent((event) => {
    if (event.type === 'ended') list.add(event.sid, event.untilSeconds);
  });
  return {
    check: (sid: string): EndedCheck => (list.has(sid) ? 'ended' : 'live'),
    async end(sid, untilSeconds) {
      list.add(sid, untilSeconds);
      try {
        await link.broadcast({ type: 'ended', sid, untilSeconds });
      } catch (err) {
        // Not ended on every worker: the logout answers 503 rather than pretend.
        throw new SessionStoreUnavailableError('end-session', { cause: err });
      }
    },
  };
}

/** Back-channel revocations taken by any worker reach every worker's list. */
export function shareRevocationsInGroup(link: WorkerLink, revocations: MemorySessionRevocations): void {
  link.onEvent((event) => {
    if (event.type === 'revoked') for (const entry of event.entries) revocations.apply(entry);
  });
  revocations.shareWith(async (entries, untilSeconds) => {
    try {
      await link.broadcast({ type: 'revoked', entries, untilSeconds });
    } catch (err) {
      throw new SessionStoreUnavailableError('backchannel-revoke', { cause: err });
    }
  });
}
