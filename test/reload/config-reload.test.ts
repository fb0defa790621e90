/**
 * Hot reload in-process: the real service started from a file, the real
 * reloader, a real token issuer for the JWKS caches.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/types.js';
import { configLastReloadSuccess } from '../../src/observability/metrics.js';
import { createConfigReloader, restartOnlyChanges, type ConfigReloader } from '../../src/server/config-reload.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { configYaml, INVALID_YAML, SECRET, startReloadFixture, type ReloadFixture } from './reload-fixture.js';

const RELOADS = 'kestra_authz_config_reloads_total';
const LAST_SUCCESS = 'kestra_authz_config_last_reload_success_timestamp_seconds';

describe('config reload', () => {
  let fx: ReloadFixture;
  let reloader: ConfigReloader;
  let issuer: TokenIssuer;
  let otherIssuer: TokenIssuer;
  const bearerYaml = (...issuers: { url: string; audience: string }[]) =>
    `  bearer:\n    issuers:\n${issuers.map((i) => `      - { issuer: "${i.url}", audiences: [${i.audience}] }`).join('\n')}`;

  before(async () => {
    issuer = await startTokenIssuer();
    otherIssuer = await startTokenIssuer();
    await issuer.addKey('k1');
    await otherIssuer.addKey('k1');
    fx = await startReloadFixture();
    reloader = createConfigReloader({ path: fx.configPath, runtime: fx.service.runtime, services: fx.service.services, logger: fx.service.runtime.logger });
  });
  after(async () => {
    await fx.stop();
    await issuer.stop();
    await otherIssuer.stop();
  });

  test('a valid change swaps the engine: the verdict flips and the metrics show the success', async () => {
    assert.equal(fx.verdictOf(await fx.probe()), 'allow');
    const successes = (await fx.metric(RELOADS, '{result="success"}')) ?? 0;
    configLastReloadSuccess.set(0);
    const before = fx.service.runtime.engine;

    await fx.write(configYaml(fx.dir, { probe: 'deny' }));
    assert.equal(await reloader.reload(), 'success');

    assert.notEqual(fx.service.runtime.engine, before);
    assert.equal(fx.verdictOf(await fx.probe()), 'deny');
    assert.equal(await fx.metric(RELOADS, '{result="success"}'), successes + 1);
    assert.ok(((await fx.metric(LAST_SUCCESS)) ?? 0) > 0, 'the last-success timestamp is set by the reload');
    assert.ok(fx.logs.some((l) => l.msg === 'config reloaded'));

    await fx.write(configYaml(fx.dir, { probe: 'public' }));
    assert.equal(await reloader.reload(), 'success');
    assert.equal(fx.verdictOf(await fx.probe()), 'allow');
  });

  test('an invalid file is rejected with every problem logged; the old config keeps serving', async () => {
    const failures = (await fx.metric(RELOADS, '{result="failure"}')) ?? 0;
    const lastSuccess = await fx.metric(LAST_SUCCESS);
    const serving = fx.service.runtime.engine;

    await fx.write(INVALID_YAML);
    assert.equal(await reloader.reload(), 'failure');

    assert.equal(fx.service.runtime.engine, serving, 'the engine is not replaced');
    assert.equal(fx.verdictOf(await fx.probe()), 'allow');
    assert.equal(await fx.metric(RELOADS, '{result="failure"}'), failures + 1);
    assert.equal(await fx.metric(LAST_SUCCESS), lastSuccess, 'a failure does not touch the last-success timestamp');
    const rejected = fx.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('config reload rejected'));
    assert.ok(rejected, 'the rejection is logged');
    assert.equal(rejected.level, 'error');
    const keys = (rejected.problems as { key: string; line?: number }[]).map((p) => `${p.key}:${p.line}`);
    assert.ok(keys.includes('kestra.encryption.secret-key:4'), keys.join(', '));
    assert.ok(keys.includes('authz.no-such-key:6'), keys.join(', '));
    assert.ok(keys.includes('authz.default:7'), keys.join(', '));
    assert.ok(!fx.logText().includes('short-but-secret-VALUE'), 'a configured secret never reaches the log');
    assert.ok(!fx.logText().includes(SECRET), 'the serving secret never reaches the log');

    // An unreadable path is a failure too (ERR_CONFIG_READ), never a crash.
    const missing = createConfigReloader({ path: join(fx.dir, 'nope.yaml'), runtime: fx.service.runtime, services: fx.service.services, logger: fx.service.runtime.logger });
    assert.equal(await missing.reload(), 'failure');
    assert.ok(fx.logs.some((l) => l.code === 'ERR_CONFIG_READ'));
    assert.equal(fx.service.runtime.engine, serving);

    await fx.write(configYaml(fx.dir));
    assert.equal(await reloader.reload(), 'success');
  });

  test('store and listen changes are reported as needing a restart, and not applied', async () => {
    const store = fx.service.services.usersStore;
    await fx.write(configYaml(fx.dir, { usersFile: join(fx.dir, 'other-users.yaml') }));
    assert.equal(await reloader.reload(), 'success');
    assert.equal(fx.service.services.usersStore, store, 'the running store is kept');
    const warning = fx.logs.findLast((l) => Array.isArray(l.keys));
    assert.deepEqual(warning?.keys, ['authz.users']);
    await fx.write(configYaml(fx.dir));
    assert.equal(await reloader.reload(), 'success');
  });

  test('restartOnlyChanges names keys only', async () => {
    const a = await loadConfigFile(fx.configPath);
    const b = { ...a, sessions: { store: 'redis', url: 'redis://user:pw-in-url@host', prefix: 'k:' }, listen: { ...a.listen, grpc: { host: '0.0.0.0', port: 1 } } } as Config;
    assert.deepEqual(restartOnlyChanges(a, a), []);
    assert.deepEqual(restartOnlyChanges(a, b), ['authz.sessions', 'authz.listen']);
  });

  test('JWKS caches of unchanged issuers are kept; changed ones are replaced and the old closed', async () => {
    await fx.write(configYaml(fx.dir, { authzExtra: bearerYaml({ url: issuer.issuer, audience: 'kestra' }) }));
    assert.equal(await reloader.reload(), 'success');
    const first = fx.service.services.jwks.get(issuer.issuer);
    assert.ok(first?.hasKeySet, 'a new issuer is fetched before the swap');
    const token = await issuer.mint({ sub: 'u1', aud: 'kestra' });
    const withToken = () => fx.client.check(envoyCheckRequest({ path: '/needs-login', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }));
    assert.equal(fx.verdictOf(await withToken()), 'allow');

    // Same issuer settings, another one added: the first cache is the same object.
    await fx.write(configYaml(fx.dir, { authzExtra: bearerYaml({ url: issuer.issuer, audience: 'kestra' }, { url: otherIssuer.issuer, audience: 'x' }) }));
    const requestsBefore = issuer.jwksRequests;
    assert.equal(await reloader.reload(), 'success');
    assert.equal(fx.service.services.jwks.get(issuer.issuer), first);
    assert.equal(issuer.jwksRequests, requestsBefore, 'a kept cache is not re-fetched');
    assert.ok(fx.service.services.jwks.get(otherIssuer.issuer)?.hasKeySet);

    // The first issuer dropped: its cache is retired (closed: refuses to fetch again).
    await fx.write(configYaml(fx.dir, { authzExtra: bearerYaml({ url: otherIssuer.issuer, audience: 'x' }) }));
    assert.equal(await reloader.reload(), 'success');
    assert.equal(fx.service.services.jwks.has(issuer.issuer), false);
    assert.equal(await first.refresh(), false, 'a retired cache is closed');
    await fx.write(configYaml(fx.dir));
    assert.equal(await reloader.reload(), 'success');
  });

  test('a generated (ephemeral) secret survives a reload; a configured one replaces it', async () => {
    const withoutSecret = configYaml(fx.dir).replace(/kestra:\n  encryption:\n    secret-key: "[^"]*"\n/, '');
    assert.ok(!withoutSecret.includes('secret-key'));
    await fx.write(withoutSecret);
    assert.equal(await reloader.reload(), 'success');
    const generated = fx.service.runtime.engine.config.secrets;
    assert.equal(generated.ephemeral, true);
    await fx.write(withoutSecret.replace('allow: public', 'allow: deny'));
    assert.equal(await reloader.reload(), 'success');
    assert.equal(fx.verdictOf(await fx.probe()), 'deny');
    assert.equal(fx.service.runtime.engine.config.secrets, generated, 'sessions signed before the reload stay valid');
    await fx.write(configYaml(fx.dir));
    assert.equal(await reloader.reload(), 'success');
    assert.equal(fx.service.runtime.engine.config.secrets.ephemeral, false);
  });

  test('concurrent reload requests coalesce: one in flight, one queued', async () => {
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const gated = createConfigReloader({
      path: fx.configPath,
      runtime: fx.service.runtime,
      services: fx.service.services,
      logger: fx.service.runtime.logger,
      load: async (path) => {
        loads++;
        await gate;
        return loadConfigFile(path);
      },
    });
    const results = Array.from({ length: 10 }, () => gated.reload());
    release();
    assert.deepEqual(await Promise.all(results), Array(10).fill('success'));
    assert.equal(loads, 2, 'the first reload, then one for every call made while it ran');
    assert.equal(await gated.reload(), 'success');
    assert.equal(loads, 3);
  });
});
