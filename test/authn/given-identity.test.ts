/**
 * The given-identity mode of the engine `serve` builds: a request given an
 * identity is decided for it by the real route, authorize and respond
 * stages; nothing a client sends selects an identity; a request without one
 * goes down the real chain.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GivenIdentities } from '../../src/authn/given-identity.js';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createAuthRequest, type AuthRequest } from '../../src/core/auth-request.js';
import type { Engine } from '../../src/core/decide.js';
import type { Decision } from '../../src/core/decision.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildEngine, createEngineServices, type EngineServices } from '../../src/server/build-engine.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';

const API = { accept: 'application/json' };

describe('given identities (the engine serve builds)', () => {
  let dir: string;
  let services: EngineServices;
  let engine: Engine;
  const given = new GivenIdentities();

  const request = (method: string, path: string, headers: Record<string, string> = API): AuthRequest => {
    const req = createAuthRequest({ method, path, headers });
    assert.ok(req);
    return req;
  };
  const decide = (req: AuthRequest): Promise<Decision> => Promise.resolve(engine.decide(req));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-given-'));
    const configPath = join(dir, 'config.yaml');
    // The issuer is never asked: nothing here carries a token.
    await writeFile(configPath, bearerServiceYaml({ dir, issuer: 'https://issuer.invalid' }));
    await writeFile(join(dir, 'users.yaml'), 'users: []\n', { mode: 0o600 });
    const config = await loadConfigFile(configPath);
    services = createEngineServices(config, createLogger('silent'));
    engine = buildEngine(config, services, services.jwks, { givenIdentities: given });
  });

  after(async () => {
    await services?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a given developer is decided by the real bindings: its namespace allowed, another 403', async () => {
    const dev = { via: 'bearer' as const, subject: 'u-dev', name: 'dev', groups: ['kestra-devs'] };
    const mine = await decide(given.give(request('DELETE', '/api/v1/main/flows/company.team/f'), dev));
    assert.equal(mine.allow, true, mine.message);
    assert.equal(mine.ruleId, 'kestra:flows.delete');
    assert.equal(mine.identity?.name, 'dev');
    const other = await decide(given.give(request('DELETE', '/api/v1/main/flows/company.other/f'), dev));
    assert.equal(other.status, 403);
    assert.equal(other.reason, 'permission_denied');
  });

  test('without a given identity the real chain decides: anonymous is 401, identity headers are no credential', async () => {
    const anonymous = await decide(request('GET', '/api/v1/main/flows/company.team/f', { ...API, 'x-kestra-user': 'dev', 'x-kestra-groups': 'kestra-devs' }));
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.reason, 'no_credentials');
  });

  test('an identity belongs to the request object it was given to, not to an equal request', async () => {
    const admin = { via: 'basic' as const, subject: 'root', name: 'root', groups: [], admin: true };
    given.give(request('DELETE', '/api/v1/main/flows/company.other/f'), admin);
    const twin = await decide(request('DELETE', '/api/v1/main/flows/company.other/f'));
    assert.equal(twin.status, 401);
  });
});
