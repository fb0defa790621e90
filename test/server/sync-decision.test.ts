/**
 * The hot path answers without a promise: through the engine `serve` builds
 * (login flow, session store with its revocation list, session → Bearer →
 * Basic → mTLS), a Check whose token is already verified is decided at once,
 * and so are the requests every chain stage can judge without I/O (no
 * credential, a malformed Basic header). Before, the flow stage and the
 * session authenticator were `async` and sent every Check through promise
 * hops (bench/README.md, 2026-12-07). The answers are the same either way;
 * the ones that need I/O still come as promises.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createAuthRequest, type AuthRequest } from '../../src/core/auth-request.js';
import type { Engine } from '../../src/core/decide.js';
import type { Decision } from '../../src/core/decision.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildServing, createEngineServices, type EngineServices } from '../../src/server/build-engine.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

describe('decisions without a promise on the hot path', () => {
  let dir: string;
  let issuer: TokenIssuer;
  let services: EngineServices;
  let engine: Engine;
  let devToken: string;
  const request = (path: string, headers: Record<string, string>): AuthRequest => {
    const req = createAuthRequest({ id: 'r1', method: 'GET', path, host: 'kestra.example.com', headers });
    assert.ok(req);
    return req;
  };
  const settled = (outcome: Decision | Promise<Decision>): Decision => {
    assert.ok(!(outcome instanceof Promise), 'decided at once, not through a promise');
    return outcome;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-sync-decision-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, bearerServiceYaml({
      dir,
      issuer: issuer.issuer,
      security: { 'basic-auth': { enabled: true } },
      issuerEntry: { 'jwks-uri': issuer.jwksUri },
    }));
    await writeFile(join(dir, 'users.yaml'), 'users: []\n', { mode: 0o600 });
    const config = await loadConfigFile(configPath);
    services = createEngineServices(config, createLogger('silent'));
    engine = buildServing(config, services).engine;
    devToken = await issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } }, { kid: 'k1' });
  });
  after(async () => {
    await services?.close();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a token seen once is decided at once the next time, allow and deny alike', async () => {
    const flows = request('/api/v1/main/flows/company.team/f', { authorization: `Bearer ${devToken}`, accept: 'application/json' });
    const first = await engine.decide(flows); // verified now: JWKS fetch and signature
    assert.equal(first.allow, true);
    const again = settled(engine.decide(request('/api/v1/main/flows/company.team/f', { authorization: `Bearer ${devToken}`, accept: 'application/json' })));
    assert.equal(again.allow, true);
    assert.equal(again.identity?.via, 'bearer');
    const elsewhere = settled(engine.decide(request('/api/v1/main/flows/other.team/f', { authorization: `Bearer ${devToken}`, accept: 'application/json' })));
    assert.equal(elsewhere.allow, false);
    assert.equal(elsewhere.reason, 'permission_denied');
  });

  test('no credential, a malformed Basic header and a public route need no I/O either', () => {
    const anonymous = settled(engine.decide(request('/api/v1/main/flows/company.team/f', { accept: 'application/json' })));
    assert.equal(anonymous.allow, false);
    assert.equal(anonymous.reason, 'no_credentials');
    const malformed = settled(engine.decide(request('/api/v1/main/flows/company.team/f', { authorization: 'Basic !!!', accept: 'application/json' })));
    assert.equal(malformed.allow, false);
    assert.equal(settled(engine.decide(request('/healthz', {}))).allow, true);
  });

  test('what needs I/O still comes as a promise: a login page, a session cookie, Basic credentials, a new token', async () => {
    const login = engine.decide(request('/login', { accept: 'text/html' }));
    assert.ok(login instanceof Promise);
    assert.equal((await login).status, 200);
    const cookie = engine.decide(request('/api/v1/main/flows/company.team/f', { cookie: 'JWT=not-a-session', accept: 'application/json' }));
    const basic = engine.decide(request('/api/v1/main/flows/company.team/f', { authorization: `Basic ${Buffer.from('nobody:pw').toString('base64')}`, accept: 'application/json' }));
    const fresh = engine.decide(request('/api/v1/main/flows/company.team/f', {
      authorization: `Bearer ${await issuer.mint({ sub: 'u-2', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } }, { kid: 'k1' })}`,
      accept: 'application/json',
    }));
    for (const outcome of [cookie, basic, fresh]) assert.ok(outcome instanceof Promise);
    assert.equal((await basic).allow, false);
    assert.equal((await fresh).allow, true);
    assert.equal((await cookie).allow, false);
  });
});
