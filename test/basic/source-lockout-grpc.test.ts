/**
 * Per-address brute-force limits end to end: the real service, users created
 * with the real CLI, Envoy-shaped CheckRequests from distinct client
 * addresses (`attributes.source.address`), answers and /metrics as an
 * operator sees them. Then the same with users (and lockout state) in
 * PostgreSQL shared by two replicas: a block started through one replica is
 * seen by the other.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { expectAllowed, expectDenied, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import type { CheckResponseJs } from '../helpers/grpc-client.js';
import { scrapeMetrics } from '../helpers/scraped-metrics.js';
import { dropSchema, newSchemaName, postgresSkipReason, storeUrl } from '../users-postgres/pg-fixture.js';

const FLOW = '/api/v1/main/flows/company.team/hello';
const LOCKOUT = { 'failed-attempts': { threshold: 3, 'monitoring-window': 'PT5M', 'lock-duration': 'PT30M' } };
const SOURCE_LOCKOUT = { threshold: 4, 'monitoring-window': '5m', 'lock-duration': '15m' };
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, accept: 'application/json' });
const errorOf = (res: CheckResponseJs) => (JSON.parse(expectDenied(res, 401).body ?? '{}') as { error?: string }).error;

describe('per-address lockout through gRPC Check', () => {
  let dir: string;
  let door: GrpcDoor;
  const ask = (from: string, user: string, password: string) => door.check({ path: FLOW, headers: basic(user, password), sourceAddress: `${from}:40000` });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-source-lockout-'));
    const configPath = join(dir, 'config.yaml');
    const yaml = bearerServiceYaml({ dir, issuer: 'https://issuer.invalid', security: { login: LOCKOUT } })
      .replace('authz:\n', `authz:\n  source-lockout: ${JSON.stringify(SOURCE_LOCKOUT)}\n`);
    await writeFile(configPath, yaml);
    await createUsersWithCli(configPath, ['ops', 'correct-horse-1'], ['dev', 'dev-pass-123']);
    door = await startGrpcDoor(configPath);
  });
  after(async () => {
    await door?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('one address guessing: locked out of that account itself, the account still works elsewhere', async () => {
    for (let i = 0; i < 3; i++) assert.equal(errorOf(await ask('198.51.100.1', 'ops', 'wrong')), 'basic_bad_credentials');
    assert.equal(errorOf(await ask('198.51.100.1', 'ops', 'correct-horse-1')), 'basic_locked_out');
    expectAllowed(await ask('198.51.100.2', 'ops', 'correct-horse-1'));
  });

  test('an address over its own threshold is blocked for every user, others are not', async () => {
    for (const user of ['dev', 'nobody-1', 'nobody-2', 'nobody-3']) {
      assert.equal(errorOf(await ask('203.0.113.9', user, 'wrong')), 'basic_bad_credentials');
    }
    const blocked = await ask('203.0.113.9', 'dev', 'dev-pass-123');
    assert.equal(errorOf(blocked), 'basic_source_locked_out');
    assert.doesNotMatch(blocked.denied_response?.body ?? '', /203\.0\.113|dev-pass/);
    expectAllowed(await ask('203.0.113.10', 'dev', 'dev-pass-123'));
    // IPv6 neighbours in one /64 share the block.
    for (let i = 1; i <= 4; i++) await ask(`[2001:db8:5:6::${i}]`, `nobody-v6-${i}`, 'wrong');
    assert.equal(errorOf(await ask('[2001:db8:5:6::99]', 'dev', 'dev-pass-123')), 'basic_source_locked_out');
    expectAllowed(await ask('[2001:db8:5:7::1]', 'dev', 'dev-pass-123'));
  });

  test('failures from two addresses lock the account for everyone', async () => {
    for (const from of ['198.51.100.20', '198.51.100.20', '198.51.100.21']) await ask(from, 'dev', 'wrong');
    assert.equal(errorOf(await ask('198.51.100.22', 'dev', 'dev-pass-123')), 'basic_locked_out');
  });

  test('/metrics: locks by scope and decisions by reason; no address or user name anywhere', async () => {
    const text = await scrapeMetrics(door.service.managementPort);
    assert.match(text, /kestra_authz_lockouts_total\{scope="source"\} [1-9]/);
    assert.match(text, /kestra_authz_lockouts_total\{scope="user"\} [1-9]/);
    assert.match(text, /kestra_authz_decisions_total\{[^}]*reason="basic_source_locked_out"[^}]*\} [1-9]/);
    assert.doesNotMatch(text, /198\.51\.100|203\.0\.113|2001:db8|"ops"|nobody-/, "(version=\"dev\" in build_info is a build label, not the user)");
  });
});

const pgSkip = await postgresSkipReason();

describe('per-address lockout shared by two replicas through PostgreSQL', { skip: pgSkip }, () => {
  const schema = newSchemaName();
  let dir: string;
  let replicas: GrpcDoor[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-source-lockout-pg-'));
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, stringify({
      kestra: { encryption: { 'secret-key': '0123456789abcdef0123456789abcdef-test' }, security: { login: LOCKOUT, 'default-role': { name: 'viewer', permissions: { FLOW: ['READ'] } } } },
      authz: {
        listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0', management: '127.0.0.1:0' },
        users: { store: 'postgres', url: storeUrl(schema) },
        'source-lockout': SOURCE_LOCKOUT,
        log: { level: 'silent' },
      },
    }));
    await createUsersWithCli(configPath, ['ops', 'correct-horse-1']);
    replicas = [await startGrpcDoor(configPath), await startGrpcDoor(configPath)];
  });
  after(async () => {
    for (const replica of replicas) await replica.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    await dropSchema(schema);
  });

  test('failures spread over both replicas add up; the block is seen by both', async () => {
    const [a, b] = replicas as [GrpcDoor, GrpcDoor];
    const ask = (door: GrpcDoor, user: string, password: string) => door.check({ path: FLOW, headers: basic(user, password), sourceAddress: '192.0.2.77' });
    for (const [door, user] of [[a, 'x1'], [b, 'x2'], [a, 'x3'], [b, 'x4']] as const) {
      assert.equal(errorOf(await ask(door, user, 'wrong')), 'basic_bad_credentials');
    }
    assert.equal(errorOf(await ask(a, 'ops', 'correct-horse-1')), 'basic_source_locked_out');
    assert.equal(errorOf(await ask(b, 'ops', 'correct-horse-1')), 'basic_source_locked_out');
    expectAllowed(await b.check({ path: FLOW, headers: basic('ops', 'correct-horse-1'), sourceAddress: '192.0.2.78' }));
  });
});
