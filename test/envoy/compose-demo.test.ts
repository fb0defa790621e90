/**
 * The docker-compose demo means what it says: a valid compose file (checked
 * by the real docker-compose, no engine needed), a kestra-authz config that
 * loads, and Envoy, kestra-authz and the Keycloak realm agreeing on hosts,
 * ports, redirect URIs, client secret, roles and the groups claim.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { loadConfigFile } from '../../src/config/load-config.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const AUTHZ_CONFIG = join(ROOT, 'deploy/compose/kestra-authz.yaml');
const REALM_FILE = join(ROOT, 'deploy/compose/keycloak-realm-kestra.json');

const compose = parse(readFileSync(COMPOSE_FILE, 'utf8')) as any;
const envoy = parse(readFileSync(join(ROOT, 'envoy/envoy.yaml'), 'utf8')) as any;
const authzText = readFileSync(AUTHZ_CONFIG, 'utf8');
const authzRaw = parse(authzText) as any;
const realm = JSON.parse(readFileSync(REALM_FILE, 'utf8')) as any;
const kestraClient = realm.clients.find((c: any) => c.clientId === 'kestra');

/** `${NAME:default}` (kestra-authz) or `${NAME:-default}` (compose) → default. */
function defaultOf(value: string): string {
  const match = /^\$\{[A-Z_]+:-?(.*)\}$/.exec(value);
  assert.ok(match, `${value} has a default`);
  return match[1]!;
}

async function dockerCompose(): Promise<string | undefined> {
  try {
    await run('docker-compose', ['version'], { timeout: 20_000 });
    return 'docker-compose';
  } catch {
    return undefined;
  }
}

describe('docker-compose.yml', async () => {
  const binary = await dockerCompose();
  const workDir = await mkdtemp(join(tmpdir(), 'compose-check-'));
  after(() => rm(workDir, { recursive: true, force: true }));

  test('passes `docker-compose config -q`', { skip: binary ? false : 'docker-compose not installed' }, async () => {
    await run(binary!, ['-f', COMPOSE_FILE, 'config', '-q'], { cwd: ROOT, timeout: 60_000 });
  });

  test('…and the checker does catch a bad key (so the pass above means something)', { skip: binary ? false : 'docker-compose not installed' }, async () => {
    const copy = join(workDir, 'docker-compose.yml');
    await copyFile(COMPOSE_FILE, copy);
    const text = await readFile(copy, 'utf8');
    await writeFile(copy, text.replace('    restart: unless-stopped\n', '    restart: unless-stopped\n    restart_polcy: always\n'));
    await assert.rejects(run(binary!, ['-f', copy, 'config', '-q'], { cwd: workDir, timeout: 60_000 }), (err: any) => {
      assert.match(String(err.stderr), /restart_polcy/);
      return true;
    });
  });

  test('has the seven services; Envoy and the Keycloak login page are published, Prometheus and Grafana on loopback only', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['envoy', 'grafana', 'kestra', 'kestra-authz', 'keycloak', 'prometheus', 'redis']);
    assert.deepEqual(compose.services.envoy.ports, ['10000:10000']);
    assert.deepEqual(compose.services.keycloak.ports, ['8088:8088']);
    assert.deepEqual(compose.services.prometheus.ports, ['127.0.0.1:9090:9090']);
    assert.deepEqual(compose.services.grafana.ports, ['127.0.0.1:3000:3000']);
    for (const name of ['kestra', 'kestra-authz', 'redis']) assert.equal(compose.services[name].ports, undefined, name);
    assert.ok(compose.services.envoy.volumes.includes('./envoy/envoy.yaml:/etc/envoy/envoy.yaml:ro'));
    assert.equal(compose.services['kestra-authz'].build, '.');
  });

  test('Envoy clusters point at compose services on the ports they listen on', () => {
    const endpoints = Object.fromEntries(envoy.static_resources.clusters.map((c: any) => [
      c.name, c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address,
    ]));
    assert.deepEqual(endpoints.kestra_authz, { address: 'kestra-authz', port_value: 9191 });
    assert.deepEqual(endpoints.kestra, { address: 'kestra', port_value: 8080 });
    assert.equal(authzRaw.authz.listen.grpc, '0.0.0.0:9191');
  });
});

describe('deploy/compose/kestra-authz.yaml and the Keycloak realm agree', () => {
  const provider = authzRaw.micronaut.security.oauth2.clients.keycloak;
  const externalUrl = defaultOf(authzRaw.authz['external-url']);

  test('the config loads with the service\'s own loader (demo defaults, empty environment)', async () => {
    const config = await loadConfigFile(AUTHZ_CONFIG, {});
    assert.equal(config.oidc.providers[0]!.name, 'keycloak');
    assert.equal(config.oidc.groupsClaimPath, 'resource_access.kestra.roles');
    assert.equal(config.sessions.store, 'redis');
    assert.equal(config.oidc.allowInsecureHttpIssuers, true);
    assert.deepEqual(config.listen.grpc, { host: '0.0.0.0', port: 9191 });
    // the only warning: the demo's Keycloak is on plain http, opted in explicitly
    assert.equal(config.warnings.length, 1);
    assert.match(config.warnings[0]!, /allow-insecure-http-issuers/);
  });

  test('issuer = Keycloak\'s fixed hostname + realm; same issuer for bearer tokens', () => {
    assert.equal(provider.openid.issuer, `${compose.services.keycloak.environment.KC_HOSTNAME}/realms/${realm.realm}`);
    assert.equal(authzRaw.authz.bearer.issuers[0].issuer, provider.openid.issuer);
  });

  test('client id, secret and redirect URIs match the realm client', () => {
    assert.equal(provider['client-id'], kestraClient.clientId);
    assert.equal(defaultOf(provider['client-secret']), kestraClient.secret);
    assert.equal(defaultOf(compose.services['kestra-authz'].environment.KC_SECRET), kestraClient.secret);
    assert.equal(defaultOf(compose.services['kestra-authz'].environment.EXTERNAL_URL), externalUrl);
    assert.deepEqual(kestraClient.redirectUris, [`${externalUrl}/oauth/callback/keycloak`]);
    assert.equal(kestraClient.attributes['post.logout.redirect.uris'], `${externalUrl}/logout`);
    assert.equal(kestraClient.attributes['pkce.code.challenge.method'], 'S256');
    assert.equal(kestraClient.publicClient, false);
  });

  test('client roles admin/developer/viewer reach the ID token at the groups-claim-path and are all bound', () => {
    const roles = realm.roles.client.kestra.map((r: any) => r.name).sort();
    assert.deepEqual(roles, ['admin', 'developer', 'viewer']);
    const mapper = kestraClient.protocolMappers.find((m: any) => m.protocolMapper === 'oidc-usermodel-client-role-mapper');
    assert.equal(mapper.config['claim.name'], authzRaw.kestra.security.oidc['groups-claim-path']);
    assert.equal(mapper.config['id.token.claim'], 'true');
    assert.equal(mapper.config['usermodel.clientRoleMapping.clientId'], 'kestra');
    const bound = authzRaw.authz.bindings.map((b: any) => b.group).sort();
    assert.deepEqual(bound, roles);
    const defined = new Set(['admin', ...authzRaw.authz.roles.map((r: any) => r.name)]);
    for (const binding of authzRaw.authz.bindings) assert.ok(defined.has(binding.role), binding.role);
  });

  test('access tokens carry aud=kestra, which the bearer issuer requires', () => {
    for (const client of realm.clients) {
      const audience = client.protocolMappers.find((m: any) => m.protocolMapper === 'oidc-audience-mapper');
      assert.equal(audience?.config['included.client.audience'], 'kestra', client.clientId);
    }
    assert.deepEqual(authzRaw.authz.bearer.issuers[0].audiences, ['kestra']);
  });

  test('every demo user has exactly one Kestra client role', () => {
    for (const user of realm.users) assert.equal(user.clientRoles.kestra.length, 1, user.username);
  });
});
