/**
 * The audit record of one decision, built from the real engine's decisions
 * (given identities, as replay does): masked `{key}` captures in an
 * operator's rule and in Kestra's webhook shape, the route template and
 * captures of the rule that decided, and no email.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditRecord, maskedPath, MASK } from '../../src/audit/audit-line.js';
import { GivenIdentities } from '../../src/authn/given-identity.js';
import { loadConfigFile } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/types.js';
import { createAuthRequest, type AuthRequest } from '../../src/core/auth-request.js';
import type { Engine } from '../../src/core/decide.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildEngine, createEngineServices, type EngineServices } from '../../src/server/build-engine.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';

const NOW = new Date('2026-01-02T03:04:05.678Z');

describe('audit record', () => {
  let dir: string;
  let config: Config;
  let services: EngineServices;
  let engine: Engine;
  const given = new GivenIdentities();
  const request = (method: string, path: string, headers: Record<string, string> = { accept: 'application/json' }): AuthRequest => {
    const req = createAuthRequest({ id: 'r1', method, path, host: 'kestra.example.com', headers });
    assert.ok(req);
    return req;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-audit-line-'));
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, bearerServiceYaml({
      dir,
      issuer: 'https://issuer.invalid',
      rules: [{ id: 'deploy-hook', match: { path: '/hooks/{team}/{key}' }, allow: 'public' }],
    }));
    await writeFile(join(dir, 'users.yaml'), 'users: []\n', { mode: 0o600 });
    config = await loadConfigFile(configPath);
    services = createEngineServices(config, createLogger('silent'));
    engine = buildEngine(config, services, services.jwks, { givenIdentities: given });
  });
  after(async () => {
    await services?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a capture named key in an operator\'s rule is masked; the rest of the path stays', async () => {
    const req = request('POST', '/hooks/payments/s3cr3t-hook?sig=abc');
    const record = auditRecord(config, req, await engine.decide(req), 'http', NOW);
    assert.equal(record.path, `/hooks/payments/${MASK}`);
    assert.equal(record.route, '/hooks/{team}/{key}');
    assert.equal(record.rule, 'deploy-hook');
    assert.equal(record.verdict, 'allow');
    assert.ok(!JSON.stringify(record).includes('s3cr3t') && !JSON.stringify(record).includes('sig='));
  });

  test('Kestra\'s webhook key is masked by its shape even without a match, with or without a tenant, trailing segments kept', () => {
    assert.equal(maskedPath('/api/v1/main/executions/webhook/ns/flow/k3y/extra', undefined), `/api/v1/main/executions/webhook/ns/flow/${MASK}/extra`);
    assert.equal(maskedPath('/api/v1/executions/webhook/ns/flow/k3y', undefined), `/api/v1/executions/webhook/ns/flow/${MASK}`);
    assert.equal(maskedPath('/api/v1/main/flows/ns/f', undefined), '/api/v1/main/flows/ns/f');
  });

  test('a given identity: name, subject, via, groups, tenant and admin flag; never the email', async () => {
    const req = given.give(request('DELETE', '/api/v1/main/flows/company.team/f'), {
      via: 'basic', subject: 'root', name: 'root', email: 'root@example.com', groups: ['ops'], tenant: 'main', admin: true,
    });
    const record = auditRecord(config, req, await engine.decide(req), 'cli', NOW);
    assert.deepEqual(record, {
      time: '2026-01-02T03:04:05.678Z',
      event: 'authz.decision',
      requestId: 'r1',
      mode: 'cli',
      method: 'DELETE',
      host: 'kestra.example.com',
      path: '/api/v1/main/flows/company.team/f',
      browser: false,
      route: '/api/v1/{tenant}/flows/{namespace}/{flowId}',
      rule: 'kestra:flows.delete',
      tenant: 'main',
      namespace: 'company.team',
      permission: 'FLOW:DELETE',
      verdict: 'allow',
      status: 200,
      reason: 'permitted',
      identity: { name: 'root', subject: 'root', via: 'basic', groups: ['ops'], tenant: 'main', admin: true },
    });
  });

  test('a browser navigation is marked (its denial is a login redirect, not a 401, when a login is configured)', async () => {
    const req = request('GET', '/ui/', { accept: 'text/html', 'sec-fetch-mode': 'navigate' });
    assert.equal(auditRecord(config, req, await engine.decide(req), 'grpc', NOW).browser, true);
  });
});
