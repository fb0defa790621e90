/**
 * Path tricks against route rules, through the real service (gRPC Check,
 * and the HTTP door's ext_authz and forward-auth modes). A rule must decide
 * on the path the upstream will serve: every spelling of a path is decided
 * exactly like its canonical form (same status, reason and rule), and a
 * spelling that different parsers read differently (encoded separators,
 * backslashes, `;params`) is refused with 400.
 *
 * Rules: `/public/**` public, `/admin/**` deny, the built-in Kestra rules
 * (`/ui/**` public; flows need FLOW:READ in their namespace), default
 * `authenticated`. The caller `dev` may read flows in `company.team` only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReasonCode } from '../../src/core/reasons.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import type { CheckResponseJs } from '../helpers/grpc-client.js';
import { startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { countedAs, expectRefused, jsonBody } from './attack-kit.js';

const API = { accept: 'application/json' };

/** What a decision was: status, reason and the rule that made it. */
interface Outcome { status: number; reason: string; rule: string; namespace?: unknown }

function outcomeOf(res: CheckResponseJs): Outcome {
  const fields = res.dynamic_metadata?.fields ?? {};
  const status = res.denied_response ? res.denied_response.status?.code ?? 0 : 200;
  const body = res.denied_response ? jsonBody(res.denied_response) : undefined;
  return { status, reason: fields.reason?.stringValue ?? '', rule: fields.rule?.stringValue ?? '', namespace: body?.namespace };
}

describe('path tricks against route rules (real service)', () => {
  let dir: string;
  let issuer: TokenIssuer;
  let door: GrpcDoor;
  let httpDoor: string;
  let dev: Record<string, string>;

  const decide = (path: string, headers: Record<string, string> = {}) => door.check({ method: 'GET', path, headers: { ...API, ...headers } });

  /** `attack` is decided exactly as `canonical` is (and counted under the same reason). */
  async function sameAs(attack: string, canonical: string, headers: Record<string, string> = {}): Promise<Outcome> {
    const expected = outcomeOf(await decide(canonical, headers));
    assert.ok(expected.reason, `canonical ${canonical} was decided`);
    const res = await countedAs(expected.reason as ReasonCode, () => decide(attack, headers));
    assert.deepEqual(outcomeOf(res), expected, `${JSON.stringify(attack)} is decided as ${canonical}`);
    return expected;
  }

  /** Refused before any rule is looked at: 400 bad_request. */
  async function badRequest(attack: string): Promise<void> {
    expectRefused(await decide(attack, dev), 400, 'bad_request');
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-path-attacks-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, bearerServiceYaml({
      dir, issuer: issuer.issuer,
      rules: [{ match: { path: '/public/**' }, allow: 'public' }, { match: { path: '/admin/**' }, allow: 'deny' }],
    }));
    door = await startGrpcDoor(configPath);
    httpDoor = `http://127.0.0.1:${door.service.httpPort}`;
    const token = await issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } });
    dev = { authorization: `Bearer ${token}` };
  });

  after(async () => {
    await door?.close();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the canonical forms: /admin is denied, /public is public, flows need FLOW:READ in their namespace', async () => {
    expectRefused(await decide('/admin/x', dev), 403, 'rule_deny');
    assert.equal(outcomeOf(await decide('/public/x')).reason, 'public');
    assert.equal(outcomeOf(await decide('/api/v1/main/flows/company.team/f', dev)).status, 200);
    const other = expectRefused(await decide('/api/v1/main/flows/company.other/f', dev), 403, 'permission_denied');
    assert.equal(jsonBody(other)?.namespace, 'company.other');
  });

  test('dot segments, plain and percent-encoded, are resolved before the rules decide', async () => {
    for (const attack of ['/public/../admin/x', '/public/%2e%2e/admin/x', '/public/%2E%2E/admin/x', '/public/.%2e/admin/x',
      '/public/%2e./admin/x', '/public/./../admin/x', '/public/../../../../admin/x', '/./admin/x', '/admin/./x', '/%2e/admin/x',
      '/public/x/../../admin/x', '/%61dmin/x', '/%61%64%6d%69%6e/x']) {
      await sameAs(attack, '/admin/x', dev);
    }
    // From a public area into a protected route: decided as the protected route (401 without credentials).
    await sameAs('/ui/../api/v1/main/flows/company.secret/f', '/api/v1/main/flows/company.secret/f');
    await sameAs('/ui/%2e%2e/api/v1/main/flows/company.secret/f', '/api/v1/main/flows/company.secret/f');
    await sameAs('/public/%2E%2E/api/v1/main/flows/company.secret/f', '/api/v1/main/flows/company.secret/f');
    // Namespace confusion: the namespace is captured after resolution.
    const decided = await sameAs('/api/v1/main/flows/company.team/../company.other/f', '/api/v1/main/flows/company.other/f', dev);
    assert.equal(decided.namespace, 'company.other');
    await sameAs('/api/v1/main/flows/company.team/%2e%2e/company.other/f', '/api/v1/main/flows/company.other/f', dev);
    // The brief's example: /api/v1/main/../x is the route /api/v1/x.
    await sameAs('/api/v1/main/../x', '/api/v1/x');
  });

  test('repeated slashes are merged', async () => {
    for (const attack of ['//admin/x', '///admin/x', '/admin//x', '/public//../admin/x', '/public/..//admin/x']) {
      await sameAs(attack, '/admin/x', dev);
    }
    await sameAs('/api/v1/main/flows//company.other/f', '/api/v1/main/flows/company.other/f', dev);
  });

  test('query and fragment never take part in the path', async () => {
    for (const attack of ['/admin/x?/../../public/x', '/admin/x?x=/public', '/admin/x#/../../public/x', '/public/x%3F/../../admin/x', '/public%23/../admin/x']) {
      await sameAs(attack, '/admin/x', dev);
    }
  });

  test('encoded slashes and backslashes, and backslashes, are refused with 400 bad_request: parsers split on them differently', async () => {
    // Netty (Kestra) decodes %2F before Micronaut routes, Envoy may decode or reject it: no single reading to decide on.
    for (const attack of ['/api/v1/main/flows/company.team%2Fx/f', '/admin%2Fx', '/admin%2fx', '/admin%5Cx', '/admin%5cx', '/admin\\x', '/public/x%2Fy']) {
      await badRequest(attack);
    }
  });

  test('dot segments hidden behind %2F, %5C, a backslash or ;params are refused with 400 bad_request', async () => {
    for (const attack of ['/public/..%2Fadmin/x', '/public/..%2fadmin/x', '/public/%2e%2e%2fadmin/x', '/public/%2E%2E%2Fadmin/x',
      '/public/x%2F..%2F..%2Fadmin/x', '/public/..%5Cadmin/x', '/public/..\\admin/x', '/public\\..\\admin/x',
      '/public/..;/admin/x', '/public/..;jsessionid=1/admin/x', '/public/.;/admin/x', '/ui/..;/api/v1/main/flows/company.secret/f',
      '/api/v1/main/flows/company.team%2F..%2Fcompany.other/f']) {
      await badRequest(attack);
    }
  });

  test('NUL and control characters in the path are refused with 400 bad_request', async () => {
    for (const attack of ['/admin%00/x', '/public/%00/../admin/x', '/admin/\u0000x', '/public/x\u0000/../../admin/x', '/admin/\tx', '/admin/x\r\nX-Kestra-User: admin']) {
      await badRequest(attack);
    }
  });

  test('literal segments match case-sensitively, like Kestra: /ADMIN is not /admin, /PUBLIC is not public', async () => {
    for (const [attack, rule] of [['/ADMIN/x', 'default'], ['/Admin/x', 'default'], ['/PUBLIC/x', 'default'], ['/API/v1/main/flows/company.other/f', 'default']] as const) {
      const outcome = outcomeOf(await countedAs('no_credentials', () => decide(attack)));
      assert.deepEqual([outcome.status, outcome.reason, outcome.rule], [401, 'no_credentials', rule], attack);
    }
  });

  test(';params are refused with 400 (Tomcat strips them, Micronaut stops a {variable} at them); trailing dots are ordinary characters', async () => {
    for (const attack of ['/admin;x/y', '/admin/x;y', '/public;x', '/public/x;y', '/admin/x%3By', '/public/x%3b']) {
      await badRequest(attack);
    }
    assert.equal(outcomeOf(await decide('/admin./x')).rule, 'default');
    await sameAs('/admin/x.', '/admin/x', dev);
    await sameAs('/admin/...', '/admin/x', dev);
  });

  test('very long paths are decided (bounded), and the service carries on', async () => {
    await sameAs(`/public/${'../'.repeat(100_000)}admin/x`, '/admin/x', dev);
    await sameAs(`/admin/${'a/'.repeat(32 * 1024)}x`, '/admin/x', dev);
    await sameAs(`/admin/${'%61'.repeat(100_000)}`, '/admin/x', dev);
    assert.equal(await door.client.health(''), 'SERVING');
    // The HTTP door: Node refuses a request line over its header limit (431/414) before any decision.
    const long = await fetch(`${httpDoor}/ext_authz/admin/${'a'.repeat(64 * 1024)}`, { headers: API });
    assert.ok(long.status === 431 || long.status === 414 || long.status === 400, `bounded refusal, got ${long.status}`);
    await long.arrayBuffer();
    assert.equal((await fetch(`${httpDoor}/ext_authz/public/x`)).status, 200);
  });

  test('the HTTP door decides on the same normalized path (ext_authz and forward-auth)', async () => {
    const ask = async (url: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${httpDoor}${url}`, { headers: { ...API, ...headers } });
      const text = await res.text();
      return { status: res.status, error: text ? (JSON.parse(text) as { error?: string }).error : undefined };
    };
    // fetch() would resolve dot segments itself; %2e%2e reaches the door as written.
    const before = await countedAs('rule_deny', () => ask('/ext_authz/public/%2e%2e/admin/x'), 1, 'http');
    assert.deepEqual(before, { status: 403, error: 'rule_deny' });
    assert.deepEqual(await ask('/forward-auth', { 'x-forwarded-uri': '/public/../admin/x', 'x-forwarded-method': 'GET' }), { status: 403, error: 'rule_deny' });
    assert.deepEqual(await ask('/forward-auth', { 'x-original-uri': '/public/%2E%2E/admin/x', 'x-original-method': 'GET' }), { status: 403, error: 'rule_deny' });
    assert.deepEqual(await ask('/forward-auth', { 'x-forwarded-uri': '/public/..%2Fadmin/x', 'x-forwarded-method': 'GET' }), { status: 400, error: 'bad_request' });
    assert.deepEqual(await ask('/ext_authz/public/..;/admin/x'), { status: 400, error: 'bad_request' });
    // In ext_authz mode a client-sent X-Forwarded-Uri never re-describes the request.
    assert.deepEqual(await ask('/ext_authz/admin/x', { 'x-forwarded-uri': '/public/x' }), { status: 403, error: 'rule_deny' });
  });
});
