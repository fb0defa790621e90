/**
 * Brute-force locks by what was locked: `scope="user"` (a user name,
 * `kestra.security.login.failed-attempts`) or `scope="source"` (a client
 * address group, `authz.source-lockout`). Never the name or the address
 * itself. `basic_auth_lockouts_total` (no labels) keeps counting user locks
 * only, as before. `basic_auth_password_checks_total` counts the scrypt runs
 * themselves: what the lockout budget bounds.
 */
import client from 'prom-client';
import { basicAuthLockoutsTotal, registry } from './metrics.js';

export type LockScope = 'user' | 'source';

export const lockoutsTotal = new client.Counter({
  name: 'kestra_authz_lockouts_total',
  help: 'Brute-force locks started, by scope (user name or source address group).',
  labelNames: ['scope'] as const,
  registers: [registry],
});
// Both series from the start, so an alert on rate() works before the first lock.
for (const scope of ['user', 'source'] as const) lockoutsTotal.labels(scope).inc(0);

export const basicPasswordChecksTotal = new client.Counter({
  name: 'kestra_authz_basic_auth_password_checks_total',
  help: 'Password hashes computed for Basic auth and the login form (cache hits and refused attempts compute none).',
  registers: [registry],
});

/** Counts one lock that was just started. */
export function countLock(scope: LockScope): void {
  lockoutsTotal.labels(scope).inc();
  if (scope === 'user') basicAuthLockoutsTotal.inc();
}
