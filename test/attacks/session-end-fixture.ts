/**
 * What the session-ending tests share: two `kestra-authz serve` replicas
 * (redis-fixture.ts) over one users store, a password-form login through the
 * HTTP door, logout, and `auths users …` run as a real CLI process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pollUntil } from '../helpers/poll.js';
import { rm } from 'node:fs/promises';
import type { OidcIdp } from '../helpers/oidc-idp.js';
import { BROWSER, EXTERNAL, cookieHeader, deleteKeys, inspector, merge, whoAmI, type Jar, type Replica } from '../sessions-redis/redis-fixture.js';

const CLI = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));

/** `kestra-authz auths users <args> --config <config>` as its own process. */
export function cli(config: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, 'auths', 'users', ...args, '--config', config], { timeout: 60_000 }, (error, out, err) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, out, err });
    });
  });
}

export async function cliOk(config: string, ...args: string[]): Promise<void> {
  const run = await cli(config, ...args);
  assert.equal(run.code, 0, `auths users ${args[0]}: ${run.err}`);
}

/** The config file of a replica started by startReplica (the CLI reads its users store from it). */
export const replicaConfig = (dir: string, name: string) => join(dir, `${name}.yaml`);

/** POST /login (the password form) on the replica's HTTP door; returns the cookie jar. */
export async function formLogin(replica: Replica, username: string, password: string): Promise<Jar> {
  const res = await fetch(`http://127.0.0.1:${replica.httpPort}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...BROWSER, origin: EXTERNAL, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, redirect: '/app/home' }).toString(),
  });
  await res.text();
  assert.equal(res.status, 302, `form login of ${username}`);
  const jar = merge(new Map(), res.headers.getSetCookie());
  assert.ok(jar.get('JWT'), 'a session cookie');
  return jar;
}

/**
 * formLogin, retried while the replica has not yet seen a user the CLI just
 * created (the users file is re-read within a second; a few failed attempts
 * stay well under the lockout threshold).
 */
export async function formLoginOnceSeen(replica: Replica, username: string, password: string): Promise<Jar> {
  const jar = await pollUntil(() => formLogin(replica, username, password).catch(() => undefined), (j) => j !== undefined, { timeoutMs: 10_000, intervalMs: 300 });
  assert.ok(jar, `${username} can log in on ${replica.name}`);
  return jar;
}

/** POST /logout with the jar's cookies on the replica's HTTP door; returns the status. */
export async function formLogout(replica: Replica, jar: Jar): Promise<{ status: number; cleared: boolean }> {
  const res = await fetch(`http://127.0.0.1:${replica.httpPort}/logout`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...BROWSER, origin: EXTERNAL, cookie: cookieHeader(jar) },
  });
  await res.text();
  const cleared = res.headers.getSetCookie().some((l) => l.startsWith('JWT=') && /max-age=0/i.test(l));
  return { status: res.status, cleared };
}

/**
 * Asks `replica` with the (old) cookies until it refuses them, within a bound
 * far above the promised second (this host is shared; no time is asserted):
 * the last answer, for the caller's assertions.
 */
export function refusedSoon(replica: Replica, jar: Jar): Promise<{ user?: string; status?: number; body?: string }> {
  return pollUntil(() => whoAmI(replica, jar), (r) => r.status !== undefined, { timeoutMs: 10_000, intervalMs: 100 });
}

/**
 * Asks `replica` with the cookies until it names `user`: a password-form
 * session is checked against the users store, and another replica re-reads
 * the users file within a second of a CLI change (a new user, a new
 * password). The last answer, for the caller's assertion.
 */
export function acceptedSoon(replica: Replica, jar: Jar, user: string): Promise<{ user?: string; status?: number; body?: string }> {
  return pollUntil(() => whoAmI(replica, jar), (r) => r.user === user, { timeoutMs: 10_000, intervalMs: 100 });
}

export function errorOf(answer: { body?: string }): string | undefined {
  try {
    return (JSON.parse(answer.body ?? '{}') as { error?: string }).error;
  } catch {
    return undefined;
  }
}

/** Each replica, within refusedSoon's bound, answers the old cookies 401 `session_invalid`. */
export async function refusedOnEvery(replicas: readonly Replica[], jar: Jar, what: string): Promise<void> {
  for (const replica of replicas) {
    const answer = await refusedSoon(replica, jar);
    assert.equal(answer.status, 401, `${what}: the old cookie is refused on ${replica.name}: ${JSON.stringify(answer)}`);
    assert.equal(errorOf(answer), 'session_invalid');
  }
}

/** Stops the replicas and the IdP, deletes the shared Redis keys under `prefix`, removes `dir`. */
export async function stopReplicas(replicas: readonly (Replica | undefined)[], idp: OidcIdp | undefined, prefix: string, dir: string | undefined): Promise<void> {
  for (const replica of replicas) await replica?.stop();
  await idp?.stop();
  const redis = inspector();
  await deleteKeys(redis, prefix);
  redis.disconnect();
  if (dir) await rm(dir, { recursive: true, force: true });
}
