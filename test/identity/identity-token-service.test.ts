/**
 * The signed identity token through the real service: on every allow with a
 * caller the configured header carries our token (gRPC door's
 * OkResponse.headers; the HTTP door's answer headers for Envoy, Caddy,
 * nginx); the JWKS it verifies against is served on the HTTP door and the
 * management port with cache headers; a client-sent header never passes,
 * also with the token on; off, no header is set and no JWKS is served; a key
 * file rotated by a reload keeps the old key published; with `serve
 * --workers 2` the management port (the group primary's) publishes the same
 * keys as the workers, before and after a rotation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { get } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { parse, stringify } from 'yaml';
import { createConfigReloader } from '../../src/server/config-reload.js';
import { createLogger } from '../../src/observability/logger.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { freePort } from '../helpers/free-port.js';
import { createAuthzClient, headerOf } from '../helpers/grpc-client.js';
import { startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { metricValue } from '../helpers/metric-value.js';
import { pollUntil } from '../helpers/poll.js';
import { becomesReady, exitCodeAfterSigterm } from '../helpers/serve-process.js';
import {
  CADDY_RECIPE_STRIP, caddyForwardAuthSite, nginxAuthRequest, proxySkipReason, startCaddy, startNginx, type RunningProxy,
} from '../helpers/proxies.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { echoedHeader, startUpstream, type EchoedRequest, type Upstream } from '../helpers/upstream.js';
import { expectAllowed } from '../attacks/attack-kit.js';

const EXTERNAL_URL = 'https://kestra.example.com';
const PROTECTED = '/api/v1/main/flows/company.team/hello';
const SPOOFED = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.';

/** The service config with `authz` keys laid over bearerServiceYaml's. */
function serviceYaml(dir: string, issuer: string, authz: Record<string, unknown>, rules: Record<string, unknown>[] = []): string {
  const doc = parse(bearerServiceYaml({ dir, issuer, rules })) as { authz: Record<string, unknown> };
  Object.assign(doc.authz, authz);
  return stringify(doc);
}

const pkcs8 = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

describe('signed identity token, real service', () => {
  let dir: string;
  let issuer: TokenIssuer;
  let door: GrpcDoor;
  let off: GrpcDoor;
  let devToken: string;
  let httpBase: string;
  let managementBase: string;
  let keyFile: string;
  let firstKey: string;

  const verify = (token: string, audience: string) => jwtVerify(token, createRemoteJWKSet(new URL(`${httpBase}/.well-known/jwks.json`)), {
    issuer: EXTERNAL_URL, audience, algorithms: ['ES256'],
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-identity-token-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    keyFile = join(dir, 'identity-keys.pem');
    firstKey = pkcs8();
    await writeFile(keyFile, firstKey);
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, serviceYaml(dir, issuer.issuer, {
      'external-url': EXTERNAL_URL,
      'identity-token': { enabled: true, 'key-file': 'identity-keys.pem', ttl: '60s' },
    }, [{ id: 'reports', match: { path: '/reports/**' }, allow: 'authenticated', 'identity-audience': 'reports-service' }]));
    door = await startGrpcDoor(configPath);
    httpBase = `http://127.0.0.1:${door.service.httpPort}`;
    managementBase = `http://127.0.0.1:${door.service.managementPort}`;
    const offPath = join(dir, 'off.yaml');
    await writeFile(offPath, serviceYaml(dir, issuer.issuer, { 'external-url': EXTERNAL_URL }));
    off = await startGrpcDoor(offPath);
    devToken = await issuer.mint({ sub: 'u-dev', preferred_username: 'dev', email: 'dev@example.com', email_verified: true, aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } });
  });

  after(async () => {
    await door?.close();
    await off?.close();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('gRPC door: an allow carries our token in x-kestra-identity, never the client\'s; it verifies against the served JWKS', async () => {
    const ok = expectAllowed(await door.check({
      method: 'GET', path: PROTECTED, host: 'kestra.example.com',
      headers: { authorization: `Bearer ${devToken}`, 'x-kestra-identity': SPOOFED, 'X-Kestra-Identity': SPOOFED },
    }));
    const token = headerOf(ok.headers, 'x-kestra-identity');
    assert.ok(token && token !== SPOOFED);
    const set = ok.headers!.find((h) => h.header.key === 'x-kestra-identity')!;
    assert.equal(set.append_action, 2, 'overwrites whatever the client sent');
    assert.ok(!ok.headers_to_remove?.includes('x-kestra-identity'), 'set, not removed');
    const { payload } = await verify(token, 'kestra.example.com');
    assert.equal(payload.sub, 'u-dev');
    assert.equal(payload.name, 'dev');
    assert.equal(payload.email, 'dev@example.com');
    assert.deepEqual(payload.groups, ['kestra-devs']);
    assert.equal(payload.tenant, 'main');
    assert.equal(payload.auth_method, 'bearer');
    assert.equal(typeof payload.rule, 'string');
    assert.equal(payload.exp! - payload.iat!, 60);
  });

  test('cached path: the same caller on the same rule gets the same token, counted as cached', async () => {
    const ask = async () => headerOf(expectAllowed(await door.check({ method: 'GET', path: PROTECTED, host: 'kestra.example.com', headers: { authorization: `Bearer ${devToken}` } })).headers, 'x-kestra-identity');
    const first = await ask();
    const cachedBefore = await metricValue('kestra_authz_identity_tokens_total', { source: 'cached' });
    const mintedBefore = await metricValue('kestra_authz_identity_tokens_total', { source: 'minted' });
    assert.equal(await ask(), first);
    assert.equal(await ask(), first);
    assert.equal(await metricValue('kestra_authz_identity_tokens_total', { source: 'cached' }), cachedBefore + 2);
    assert.equal(await metricValue('kestra_authz_identity_tokens_total', { source: 'minted' }), mintedBefore);
  });

  test('a rule\'s identity-audience is the aud; a public route without credentials gets an anonymous token, never the client\'s', async () => {
    const ok = expectAllowed(await door.check({ method: 'GET', path: '/reports/q1', host: 'kestra.example.com', headers: { authorization: `Bearer ${devToken}` } }));
    const { payload } = await verify(headerOf(ok.headers, 'x-kestra-identity')!, 'reports-service');
    assert.equal(payload.rule, 'reports');
    const pub = expectAllowed(await door.check({ method: 'GET', path: '/healthz', host: 'kestra.example.com', headers: { 'x-kestra-identity': SPOOFED } }));
    const anonymous = headerOf(pub.headers, 'x-kestra-identity')!;
    assert.notEqual(anonymous, SPOOFED);
    const claims = (await verify(anonymous, 'kestra.example.com')).payload;
    assert.equal(claims.sub, 'anonymous');
    assert.equal(claims.auth_method, 'none');
    assert.deepEqual(claims.groups, []);
    assert.equal(claims.email, undefined);
  });

  test('JWKS on the HTTP door and the management port: the same keys, cache headers, HEAD, no other method', async () => {
    const bodies: string[] = [];
    for (const base of [httpBase, managementBase]) {
      const res = await fetch(`${base}/.well-known/jwks.json`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = await res.text();
      bodies.push(body);
      const { keys } = JSON.parse(body) as { keys: Record<string, unknown>[] };
      assert.equal(keys.length, 1);
      assert.deepEqual(Object.keys(keys[0]!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'], 'public members only');
      const head = await fetch(`${base}/.well-known/jwks.json`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      const post = await fetch(`${base}/.well-known/jwks.json`, { method: 'POST', body: '{}' });
      assert.equal(post.status, 405);
      await post.arrayBuffer();
    }
    assert.equal(bodies[0], bodies[1]);
  });

  test('HTTP door: ext_authz and forward-auth answers carry the token for the proxy to copy', async () => {
    const ext = await fetch(`${httpBase}/ext_authz${PROTECTED}`, { headers: { authorization: `Bearer ${devToken}`, 'x-kestra-identity': SPOOFED } });
    assert.equal(ext.status, 200);
    // Envoy keeps the original Host: here fetch's, 127.0.0.1:<port>.
    await verify(ext.headers.get('x-kestra-identity')!, '127.0.0.1');
    const fwd = await fetch(`${httpBase}/forward-auth`, {
      headers: { authorization: `Bearer ${devToken}`, 'x-forwarded-uri': PROTECTED, 'x-forwarded-method': 'GET', 'x-forwarded-host': 'kestra.example.com', 'x-kestra-identity': SPOOFED },
    });
    assert.equal(fwd.status, 200);
    await verify(fwd.headers.get('x-kestra-identity')!, 'kestra.example.com');
  });

  test('off: no token is set (the client\'s is removed) and no JWKS is served', async () => {
    const ok = expectAllowed(await off.check({ method: 'GET', path: PROTECTED, headers: { authorization: `Bearer ${devToken}`, 'x-kestra-identity': SPOOFED } }));
    assert.equal(headerOf(ok.headers, 'x-kestra-identity'), undefined);
    assert.ok(ok.headers_to_remove?.includes('x-kestra-identity'));
    for (const port of [off.service.httpPort, off.service.managementPort]) {
      const res = await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`);
      assert.equal(res.status, 404);
      await res.arrayBuffer();
    }
  });

  describe('through the real proxies: the upstream gets our token, never the client\'s', () => {
    let upstream: Upstream;
    const proxies: RunningProxy[] = [];
    before(async () => { upstream = await startUpstream(); });
    after(async () => {
      for (const p of proxies) await p.stop();
      await upstream?.stop();
    });

    async function throughProxy(proxy: RunningProxy): Promise<void> {
      const res = await fetch(`${proxy.url}${PROTECTED}`, { headers: { authorization: `Bearer ${devToken}`, 'X-Kestra-Identity': SPOOFED } });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const echo = JSON.parse(text) as EchoedRequest;
      assert.equal(echo.headers['x-kestra-identity']?.length, 1, `${proxy.name}: one value: ${JSON.stringify(echo.headers['x-kestra-identity'])}`);
      const token = echoedHeader(echo, 'x-kestra-identity')!;
      assert.notEqual(token, SPOOFED);
      // The proxy's Host is 127.0.0.1:<port>: the audience is its host.
      const { payload } = await verify(token, '127.0.0.1');
      assert.equal(payload.name, 'dev');
    }

    test('Caddy (recommended and bare recipe)', async (t) => {
      const skip = await proxySkipReason('caddy');
      if (skip) return t.skip(skip);
      for (const strip of [CADDY_RECIPE_STRIP, []]) {
        const caddy = await startCaddy({ site: caddyForwardAuthSite({ authz: `127.0.0.1:${door.service.httpPort}`, upstream: upstream.url, stripHeaders: strip }) });
        proxies.push(caddy);
        await throughProxy(caddy);
      }
    });

    test('nginx', async (t) => {
      const skip = await proxySkipReason('nginx');
      if (skip) return t.skip(skip);
      const nginx = await startNginx(nginxAuthRequest({ authz: `http://127.0.0.1:${door.service.httpPort}`, upstream: upstream.url }));
      proxies.push(nginx);
      await throughProxy(nginx);
    });
  });

  test('reload with a rotated key file: the new key signs, the old one is still served for its tokens', async () => {
    const before = expectAllowed(await door.check({ method: 'GET', path: '/reports/rotation', headers: { authorization: `Bearer ${devToken}` } }));
    const oldToken = headerOf(before.headers, 'x-kestra-identity')!;
    const oldKid = decodeProtectedHeader(oldToken).kid;
    // The operator's rotation: a new key, the old one dropped from the file at once.
    await writeFile(keyFile, pkcs8());
    const reloader = createConfigReloader({ path: join(dir, 'config.yaml'), runtime: door.service.runtime, services: door.service.services, logger: createLogger('silent') });
    assert.equal(await reloader.reload(), 'success');
    const after = expectAllowed(await door.check({ method: 'GET', path: '/reports/rotation', headers: { authorization: `Bearer ${devToken}` } }));
    const newToken = headerOf(after.headers, 'x-kestra-identity')!;
    assert.notEqual(decodeProtectedHeader(newToken).kid, oldKid);
    const { keys } = await (await fetch(`${httpBase}/.well-known/jwks.json`)).json() as { keys: { kid: string }[] };
    assert.deepEqual(keys.map((k) => k.kid), [decodeProtectedHeader(newToken).kid, oldKid]);
    await verify(oldToken, 'reports-service');
    await verify(newToken, 'reports-service');
    // A broken key file is a rejected reload: the running keys keep signing.
    await writeFile(keyFile, 'not a key');
    assert.equal(await reloader.reload(), 'failure');
    const still = expectAllowed(await door.check({ method: 'GET', path: '/reports/rotation', headers: { authorization: `Bearer ${devToken}` } }));
    await verify(headerOf(still.headers, 'x-kestra-identity')!, 'reports-service');
  });
});

describe('signed identity token, serve --workers 2 with a key file: the management port is the primary\'s', () => {
  const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));
  /** Fresh connections per round: node:cluster hands them to the workers in turn, so both answer. */
  const CONNECTIONS = 4;
  let dir: string;
  let issuer: TokenIssuer;
  let child: ChildProcess;
  let out = '';
  let keyFile: string;
  let devToken: string;
  let ports: { grpc: number; http: number; management: number };

  /** GET on a connection of its own (no keep-alive pool), so consecutive calls reach the workers in turn. */
  const getFresh = (port: number, path: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
  const kidsOf = (body: string): string[] => (JSON.parse(body) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  /** The management port's JWKS, then the HTTP door's as CONNECTIONS fresh connections get it. */
  const servedJwks = async (): Promise<{ management: string; doors: string[] }> => {
    const management = await getFresh(ports.management, '/.well-known/jwks.json');
    assert.equal(management.status, 200, management.body);
    const doors: string[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const door = await getFresh(ports.http, '/.well-known/jwks.json');
      assert.equal(door.status, 200, door.body);
      doors.push(door.body);
    }
    return { management: management.body, doors };
  };
  /** The identity tokens of CONNECTIONS checks, each on a gRPC connection of its own. */
  const mintedTokens = async (): Promise<string[]> => {
    const tokens: string[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const client = createAuthzClient(ports.grpc);
      try {
        const ok = expectAllowed(await client.check(envoyCheckRequest({
          method: 'GET', path: '/reports/group', host: 'kestra.example.com', scheme: 'https', headers: { authorization: `Bearer ${devToken}` },
        })));
        tokens.push(headerOf(ok.headers, 'x-kestra-identity')!);
      } finally {
        client.close();
      }
    }
    return tokens;
  };
  const verifyAtManagement = (token: string) => jwtVerify(token, createRemoteJWKSet(new URL(`http://127.0.0.1:${ports.management}/.well-known/jwks.json`)), {
    issuer: EXTERNAL_URL, audience: 'reports-service', algorithms: ['ES256'],
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-identity-token-group-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    keyFile = join(dir, 'identity-keys.pem');
    await writeFile(keyFile, pkcs8());
    ports = { grpc: await freePort(), http: await freePort(), management: await freePort() };
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, serviceYaml(dir, issuer.issuer, {
      'external-url': EXTERNAL_URL,
      listen: { grpc: `127.0.0.1:${ports.grpc}`, http: `127.0.0.1:${ports.http}`, management: `127.0.0.1:${ports.management}` },
      'identity-token': { enabled: true, 'key-file': 'identity-keys.pem', ttl: '300s' },
    }, [{ id: 'reports', match: { path: '/reports/**' }, allow: 'authenticated', 'identity-audience': 'reports-service' }]));
    child = spawn(process.execPath, [BIN, 'serve', '--config', configPath, '--workers', '2'], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    assert.ok(await becomesReady(ports.management, 60_000), `the group did not become ready:\n${out}`);
    devToken = await issuer.mint({ sub: 'u-dev', preferred_username: 'dev', email: 'dev@example.com', email_verified: true, aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } });
  });

  after(async () => {
    if (child) assert.equal(await exitCodeAfterSigterm(child), 0, out);
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the management port serves the workers\' JWKS; a token of either worker verifies against it; a rotation reaches both ports', async () => {
    const readFromProc = async (pid: number) => (await import('node:fs/promises')).readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    assert.equal((await readFromProc(child.pid!)).trim().split(/\s+/).filter(Boolean).length, 2, 'two worker processes');

    const first = await servedJwks();
    for (const body of first.doors) assert.equal(body, first.management, 'every worker\'s HTTP door serves what the management port does');
    const [oldKid] = kidsOf(first.management);
    assert.equal(kidsOf(first.management).length, 1);

    const oldTokens = await mintedTokens();
    assert.equal(new Set(oldTokens).size, 2, 'each worker minted (and cached) its own token');
    for (const token of oldTokens) {
      assert.equal(decodeProtectedHeader(token).kid, oldKid);
      await verifyAtManagement(token);
    }

    // The operator's rotation: a new key, the old one dropped from the file at once; SIGHUP to the group.
    await writeFile(keyFile, pkcs8());
    process.kill(child.pid!, 'SIGHUP');
    const rotated = await pollUntil(servedJwks, (now) => {
      const kids = kidsOf(now.management);
      return kids.length === 2 && kids[1] === oldKid && now.doors.every((body) => body === now.management);
    }, { timeoutMs: 30_000, intervalMs: 200 });
    const kids = kidsOf(rotated.management);
    assert.equal(kids.length, 2, `the management port serves the new key and the old one: ${rotated.management}\n${out}`);
    assert.notEqual(kids[0], oldKid, 'the new key first');
    assert.equal(kids[1], oldKid, 'the old one still, for its tokens');
    for (const body of rotated.doors) assert.equal(body, rotated.management, 'both workers\' HTTP doors serve the same');

    // Every worker now signs with the new key (its token cache went with its old engine).
    const newTokens = await pollUntil(mintedTokens, (tokens) => tokens.every((t) => decodeProtectedHeader(t).kid === kids[0]), { timeoutMs: 30_000, intervalMs: 200 });
    assert.deepEqual(newTokens.map((t) => decodeProtectedHeader(t).kid), Array(CONNECTIONS).fill(kids[0]));
    assert.equal(new Set(newTokens).size, 2, 'both workers minted with the new key');
    for (const token of [...newTokens, ...oldTokens]) await verifyAtManagement(token);
  });
});
