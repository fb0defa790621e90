/**
 * Issue 13 item 9, the attacker's side: 100 Basic guesses sent at once must
 * not all be checked before the first failure is counted. The attempt is
 * counted before the password hash runs, so per window at most `threshold`
 * hashes run — counted by `kestra_authz_basic_auth_password_checks_total`
 * on /metrics — whatever the concurrency; the rest are refused unhashed.
 * Real service through gRPC Check, users made with the real CLI; users file
 * (in-memory lockout), then PostgreSQL (lockout shared by two replicas).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createUsersWithCli } from '../helpers/cli-users.js';
import type { CheckResponseJs } from '../helpers/grpc-client.js';
import { expectAllowed, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { scrapeMetrics } from '../helpers/scraped-metrics.js';
import { dropSchema, newSchemaName, postgresSkipReason, storeUrl } from '../users-postgres/pg-fixture.js';

const FLOW = '/api/v1/main/flows/company.team/hello';
const USER_THRESHOLD = 3;
const SOURCE_THRESHOLD = 4;
const LOCKOUT = { 'failed-attempts': { threshold: USER_THRESHOLD, 'monitoring-window': 'PT5M', 'lock-duration': 'PT30M' } };
const SOURCE_LOCKOUT = { threshold: SOURCE_THRESHOLD, 'monitoring-window': '5m', 'lock-duration': '15m' };
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, accept: 'application/json' });

function outcome(res: CheckResponseJs): string {
  if ((res.status?.code ?? 0) === 0) return 'ALLOWED';
  return (JSON.parse(res.denied_response?.body ?? '{}') as { error?: string }).error ?? `status ${res.status?.code}`;
}

function tally(answers: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) out[a] = (out[a] ?? 0) + 1;
  return out;
}

async function passwordChecks(door: GrpcDoor): Promise<number> {
  const text = await scrapeMetrics(door.service.managementPort);
  const m = /^kestra_authz_basic_auth_password_checks_total (\d+)$/m.exec(text);
  assert.ok(m, 'kestra_authz_basic_auth_password_checks_total is exported');
  return Number(m[1]);
}

function configYaml(users: Record<string, string>): string {
  return stringify({
    kestra: {
      encryption: { 'secret-key': '0123456789abcdef0123456789abcdef-test' },
      security: { login: LOCKOUT, 'default-role': { name: 'viewer', permissions: { FLOW: ['READ'] } } },
    },
    authz: {
      listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0', management: '127.0.0.1:0' },
      users,
      'source-lockout': SOURCE_LOCKOUT,
      log: { level: 'silent' },
    },
  });
}

/** The attacks, run against `doors` (requests spread over them round-robin). */
function raceTests(doors: () => readonly GrpcDoor[]): void {
  const ask = (i: number, from: string, user: string, password: string) =>
    doors()[i % doors().length]!.check({ path: FLOW, headers: basic(user, password), sourceAddress: `${from}:40000` });

  test('100 parallel wrong guesses for one account from one address: at most `threshold` hashes, the rest refused unchecked', async () => {
    const before = await passwordChecks(doors()[0]!);
    const answers = (await Promise.all(Array.from({ length: 100 }, (_, i) => ask(i, '198.51.100.7', 'ops', `guess-${i}`)))).map(outcome);
    const hashed = (await passwordChecks(doors()[0]!)) - before;
    const counts = tally(answers);
    assert.equal(counts.ALLOWED, undefined, 'no guess allowed');
    assert.ok(hashed <= USER_THRESHOLD, `${hashed} hashes for 100 parallel guesses (at most ${USER_THRESHOLD}): ${JSON.stringify(counts)}`);
    assert.equal(counts.basic_bad_credentials ?? 0, hashed, 'only the checked guesses are told "bad credentials"');
    assert.equal((counts.basic_locked_out ?? 0) + (counts.basic_source_locked_out ?? 0), 100 - hashed, JSON.stringify(counts));
    // One address cannot lock the account for others (its share stops short of the threshold).
    expectAllowed(await ask(0, '198.51.100.8', 'ops', 'correct-horse-1'));
  });

  test('100 parallel wrong guesses over 100 user names from one address: at most the address threshold is hashed', async () => {
    const before = await passwordChecks(doors()[0]!);
    const answers = (await Promise.all(Array.from({ length: 100 }, (_, i) => ask(i, '203.0.113.70', i % 10 === 0 ? 'dev' : `nobody-${i}`, `guess-${i}`)))).map(outcome);
    const hashed = (await passwordChecks(doors()[0]!)) - before;
    const counts = tally(answers);
    assert.equal(counts.ALLOWED, undefined);
    assert.ok(hashed <= SOURCE_THRESHOLD, `${hashed} hashes for 100 parallel guesses from one address (at most ${SOURCE_THRESHOLD}): ${JSON.stringify(counts)}`);
    assert.equal(counts.basic_bad_credentials ?? 0, hashed);
    assert.equal(counts.basic_source_locked_out, 100 - hashed, JSON.stringify(counts));
    // The address is blocked, even with a right password; another address is not.
    assert.equal(outcome(await ask(0, '203.0.113.70', 'dev', 'dev-pass-123')), 'basic_source_locked_out');
    expectAllowed(await ask(1, '203.0.113.71', 'dev', 'dev-pass-123'));
  });

  test('a right password within the budget still works, and resets the account\'s count', async () => {
    for (let i = 0; i < USER_THRESHOLD - 1; i++) assert.equal(outcome(await ask(i, '192.0.2.30', 'ana', 'wrong')), 'basic_bad_credentials');
    expectAllowed(await ask(0, '192.0.2.30', 'ana', 'ana-pass-1234'));
    // Without the reset this failure would be the account's third here, and lock it for this address.
    assert.equal(outcome(await ask(1, '192.0.2.30', 'ana', 'wrong')), 'basic_bad_credentials');
    expectAllowed(await ask(1, '192.0.2.30', 'ana', 'ana-pass-1234'));
  });

  test('a burst from an exempt address (the co-located proxy): the account\'s own budget bounds the hashes', async () => {
    const before = await passwordChecks(doors()[0]!);
    const answers = (await Promise.all(Array.from({ length: 100 }, (_, i) => ask(i, '127.0.0.1', 'bob', `guess-${i}`)))).map(outcome);
    const hashed = (await passwordChecks(doors()[0]!)) - before;
    assert.ok(hashed <= USER_THRESHOLD, `${hashed} hashes (at most ${USER_THRESHOLD}): ${JSON.stringify(tally(answers))}`);
    assert.equal(tally(answers).basic_locked_out, 100 - hashed);
    assert.equal(outcome(await ask(0, '127.0.0.1', 'bob', 'bob-pass-1234')), 'basic_locked_out', 'locked: even the right password is refused unchecked');
  });
}

const USERS = [['ops', 'correct-horse-1'], ['dev', 'dev-pass-123'], ['ana', 'ana-pass-1234'], ['bob', 'bob-pass-1234']] as const;

describe('brute-force race, users file (in-memory lockout), gRPC Check', () => {
  let dir: string;
  let door: GrpcDoor;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-bf-race-'));
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, configYaml({ file: join(dir, 'users.yaml') }));
    await createUsersWithCli(configPath, ...USERS.map((u) => [...u]));
    door = await startGrpcDoor(configPath);
  });
  after(async () => {
    await door?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  raceTests(() => [door]);
});

const pgSkip = await postgresSkipReason();

describe('brute-force race, users and lockout in PostgreSQL, two replicas, gRPC Check', { skip: pgSkip }, () => {
  const schema = newSchemaName();
  let dir: string;
  let doors: GrpcDoor[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-bf-race-pg-'));
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, configYaml({ store: 'postgres', url: storeUrl(schema) }));
    await createUsersWithCli(configPath, ...USERS.map((u) => [...u]));
    doors = [await startGrpcDoor(configPath), await startGrpcDoor(configPath)];
  });
  after(async () => {
    for (const door of doors) await door.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    await dropSchema(schema);
  });

  raceTests(() => doors);
});
