/**
 * The Grafana dashboard (deploy/grafana/kestra-authz-dashboard.json) queries
 * only metrics the service really exports. The real service runs with a
 * config that makes every instrument produce series: Bearer allow and deny,
 * Basic failures up to a lockout, an OIDC login and a session refresh through
 * the gRPC door against a real oidc-provider, a config reload through the real
 * reloader, a JWKS fetch that fails, and a private redis-server (sessions)
 * stopped at the end for store errors. Then /metrics is scraped once, every
 * PromQL `expr` of the dashboard is lexed for metric names, and each name must
 * have samples in that scrape — with its family's TYPE, histogram suffixes
 * (`_bucket`, `_sum`, `_count`) only on histograms. `up` is written by
 * Prometheus itself, not the service: prometheus-scrape.test.ts checks it.
 *
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/observability/logger.js';
import { createConfigReloader } from '../../src/server/config-reload.js';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { cookieHeader } from '../helpers/cookie-jar.js';
import { missingToolSkipReason } from '../helpers/executables.js';
import { freePort } from '../helpers/free-port.js';
import { AT_EXTERNAL_URL, EXTERNAL_URL, expectAllowed, expectDenied, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { loginThroughGrpcDoor } from '../helpers/login-session.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { TEST_CLIENT, oidcServiceYaml } from '../helpers/oidc-service-config.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { startPrivateRedis, type PrivateRedis } from '../sessions-redis/redis-fixture.js';
import { allPanels, dashboardQueries, loadDashboard } from './dashboard.js';
import { familyOf, parseExposition, sampleValue } from './exposition.js';
import { metricNamesInPromql } from './promql-names.js';

/** Series Prometheus writes for every scrape target; the service never exports them. */
const WRITTEN_BY_PROMETHEUS = new Set(['up']);
const TOKEN_TTL_SECONDS = 2;
const API = { accept: 'application/json' };
const DEAD_ISSUER = 'https://issuer-whose-jwks-is-down.example';

describe('metricNamesInPromql', () => {
  const cases: [string, string[]][] = [
    ['sum by (le) (rate(foo_bucket{a="b(c)", job=~"$job"}[$__rate_interval]))', ['foo_bucket']],
    ['histogram_quantile(0.99, sum(rate(x_bucket[5m])) by (le, mode))', ['x_bucket']],
    ['a / on(instance) group_left(version) b', ['a', 'b']],
    ['sum without (instance) (rate(c_total[1h30m] offset 5m)) > bool 1e3', ['c_total']],
    ['count_values("v", build_info) or vector(0)', ['build_info']],
    ['max(up{job="x"}) * 1000 + Inf', ['up']],
    ["topk(3, sum by (reason) (increase(d_total{reason!='ok'}[${__range}])))", ['d_total']],
    ['time() - last_ok_seconds', ['last_ok_seconds']],
  ];
  for (const [expr, names] of cases) {
    test(expr, () => assert.deepEqual(metricNamesInPromql(expr), names));
  }
  test('refuses what it cannot read honestly', () => {
    assert.throws(() => metricNamesInPromql('{__name__=~"kestra_.*"}'), /__name__/);
    assert.throws(() => metricNamesInPromql('rate(x[5m)'), /unbalanced/);
  });
});

describe('the dashboard imports anywhere', () => {
  const dashboard = loadDashboard();
  const panels = allPanels(dashboard.panels);

  test('a datasource variable of type prometheus, used by every panel and query', () => {
    const variable = dashboard.templating.list.find((v) => v.name === 'datasource');
    assert.equal(variable?.type, 'datasource');
    assert.equal(variable?.query, 'prometheus');
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      assert.deepEqual(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, panel.title);
      for (const target of panel.targets ?? []) assert.equal(target.datasource?.uid, '${datasource}', `${panel.title} ${target.refId}`);
    }
    for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
      assert.equal(variable.datasource.uid, '${datasource}', variable.name);
    }
  });

  test('a fixed uid, unique panel ids, a query in every non-row panel', () => {
    assert.equal(dashboard.uid, 'kestra-authz');
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      assert.ok(panel.targets?.length, panel.title);
      for (const target of panel.targets!) assert.ok(target.expr.trim(), `${panel.title} ${target.refId}`);
    }
  });
});

describe('every metric the dashboard queries is in a live scrape of the service', async () => {
  const skip = await missingToolSkipReason('/usr/bin/redis-server', 'redis-server', 'dashboard-vs-scrape test (it stops a private Redis)', (m) => new Error(m));
  let dir: string;
  let issuer: TokenIssuer;
  let idp: OidcIdp;
  let redis: PrivateRedis;
  let door: GrpcDoor;
  let scrape = '';

  before(async () => {
    if (skip) return;
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-dashboard-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    idp = await startOidcIdp({
      name: 'opd',
      clients: [{ ...TEST_CLIENT, redirect_uris: [`${EXTERNAL_URL}/oauth/callback/idp`] }],
      users: { carol: { preferred_username: 'carol', groups: ['staff'] } },
      accessTokenTtl: TOKEN_TTL_SECONDS,
      idTokenTtl: TOKEN_TTL_SECONDS,
    });
    redis = await startPrivateRedis();
    const nothingListening = await freePort();
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, oidcServiceYaml({
      secret: 'dashboard-test-secret-0123456789abcdef',
      externalUrl: EXTERNAL_URL,
      dir,
      providers: { idp },
      scopes: ['openid', 'profile', 'groups'],
      security: {
        oidc: { 'groups-claim-path': 'groups' },
        login: { 'failed-attempts': { threshold: 2, 'monitoring-window': 'PT5M', 'lock-duration': 'PT30M' } },
      },
      authz: {
        default: 'authenticated',
        // A shadow rule stricter than the live policy: every /app/home allow is a disagreement (shadow metrics).
        rules: [{ id: 'shadow-closes-home', match: { path: '/app/home' }, allow: 'deny', shadow: true }],
        bearer: {
          issuers: [
            { issuer: issuer.issuer, audiences: ['kestra'] },
            { issuer: DEAD_ISSUER, 'jwks-uri': `http://127.0.0.1:${nothingListening}/jwks`, audiences: ['kestra'] },
          ],
        },
        sessions: { store: 'redis', url: redis.url, prefix: 'kauthz-dashboard-test:' },
      },
    }));
    await createUsersWithCli(configPath, ['--username', 'ops', '--password', 'correct-horse-battery-1']);
    door = await startGrpcDoor(configPath, AT_EXTERNAL_URL);
    const metricsUrl = `http://127.0.0.1:${door.service.managementPort}/metrics`;
    const scrapeNow = async () => (await fetch(metricsUrl)).text();
    const until = async (what: string, done: (text: string) => boolean) => {
      const deadline = Date.now() + 30_000;
      let text = await scrapeNow();
      while (!done(text)) {
        assert.ok(Date.now() < deadline, `${what} never appeared in /metrics:\n${text}`);
        await sleep(100);
        text = await scrapeNow();
      }
    };

    // Bearer: an allow, a denial (wrong audience), a token of the issuer whose JWKS is down.
    const bearer = (token: string) => ({ ...API, authorization: `Bearer ${token}` });
    expectAllowed(await door.check({ path: '/app/home', headers: bearer(await issuer.mint({ sub: 'u1', aud: 'kestra' })) }));
    expectDenied(await door.check({ path: '/app/home', headers: bearer(await issuer.mint({ sub: 'u1', aud: 'someone-else' })) }), 401);
    await door.check({ path: '/app/home', headers: bearer(await issuer.mint({ sub: 'u2', aud: 'kestra', iss: DEAD_ISSUER })) });
    await until('a failed JWKS fetch', (t) => (sampleValue(t, 'kestra_authz_jwks_fetch_total', { issuer: DEAD_ISSUER, result: 'error' }) ?? 0) > 0);

    // Basic: two wrong passwords lock the account (threshold 2); the right one is then refused too.
    const basic = (password: string) => ({ ...API, authorization: `Basic ${Buffer.from(`ops:${password}`).toString('base64')}` });
    expectAllowed(await door.check({ path: '/app/home', headers: basic('correct-horse-battery-1') }));
    for (let i = 0; i < 2; i++) expectDenied(await door.check({ path: '/app/home', headers: basic('wrong-password') }), 401);
    const locked = await door.check({ path: '/app/home', headers: basic('correct-horse-battery-1') });
    assert.ok(locked.denied_response, 'a locked account is refused even with the right password');

    // OIDC: a login through Check, then a session refresh once the tokens expired.
    const jar = await loginThroughGrpcDoor(door, '/app/home', (url) => idp.newAgent().login(url, 'carol'));
    expectAllowed(await door.check({ path: '/app/home', headers: { ...API, cookie: cookieHeader(jar) } }));
    await sleep((TOKEN_TTL_SECONDS + 1.5) * 1000);
    expectAllowed(await door.check({ path: '/app/home', headers: { ...API, cookie: cookieHeader(jar) } }));

    // A config reload, through the reloader `serve` uses for SIGHUP and file changes.
    const reloader = createConfigReloader({ path: configPath, runtime: door.service.runtime, services: door.service.services, logger: createLogger('silent') });
    assert.equal(await reloader.reload(), 'success');

    // The session store goes away: store_up drops to 0 and connection errors are counted.
    await redis.kill();
    await until('a Redis store error', (t) => (sampleValue(t, 'kestra_authz_store_errors_total', { store: 'redis' }) ?? 0) > 0);
    scrape = await scrapeNow();
  });

  after(async () => {
    await door?.close();
    await redis?.kill();
    await idp?.stop();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the scrape shows what the config exercised', { skip }, () => {
    const value = (name: string, labels: Record<string, string>) => sampleValue(scrape, name, labels) ?? 0;
    assert.ok(value('kestra_authz_decisions_total', { result: 'allow', mode: 'grpc' }) >= 3);
    assert.ok(value('kestra_authz_decisions_total', { result: 'deny', mode: 'grpc' }) >= 3);
    assert.equal(value('kestra_authz_basic_auth_lockouts_total', {}), 1);
    assert.equal(value('kestra_authz_lockouts_total', { scope: 'user' }), 1);
    assert.equal(value('kestra_authz_oidc_logins_total', { provider: 'idp', result: 'success' }), 1);
    assert.equal(value('kestra_authz_oidc_refresh_total', { provider: 'idp', result: 'success' }), 1);
    assert.ok(value('kestra_authz_oidc_login_duration_seconds_count', { provider: 'idp' }) >= 1);
    assert.equal(value('kestra_authz_config_reloads_total', { result: 'success' }), 2, 'the start and the reload');
    assert.ok(value('kestra_authz_jwks_fetch_total', { issuer: issuer.issuer, result: 'ok' }) >= 1);
    assert.equal(value('kestra_authz_store_up', { store: 'redis' }), 0);
    assert.ok(value('kestra_authz_token_cache_misses_total', {}) >= 1);
    assert.ok(value('kestra_authz_shadow_disagreements_total', { live: 'allow', shadow: '403', rule: 'shadow-closes-home' }) >= 1);
    assert.ok(value('kestra_authz_shadow_evaluations_total', { outcome: 'disagree' }) >= 1);
  });

  test('each metric name in the dashboard has samples, with the right family type', { skip }, () => {
    const exposition = parseExposition(scrape);
    const queries = dashboardQueries();
    assert.ok(queries.length >= 20, `only ${queries.length} queries found`);
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const { panel, refId, expr } of queries) {
      const names = metricNamesInPromql(expr);
      assert.ok(names.length, `${panel} ${refId}: no metric in "${expr}"`);
      for (const name of names) {
        seen.add(name);
        if (WRITTEN_BY_PROMETHEUS.has(name)) continue;
        const family = familyOf(exposition, name);
        if (!family) {
          missing.push(`${panel} ${refId}: ${name} (no such family)`);
          continue;
        }
        if (name !== family.name) assert.equal(family.type, 'histogram', `${name}: suffix on a ${family.type}`);
        if (!exposition.samples.get(name)?.length) missing.push(`${panel} ${refId}: ${name} (declared, no samples)`);
      }
    }
    assert.deepEqual(missing, []);
    for (const name of ['up', 'kestra_authz_decision_duration_seconds_bucket', 'kestra_authz_decision_duration_seconds_sum',
      'kestra_authz_decision_duration_seconds_count', 'kestra_authz_oidc_login_duration_seconds_bucket', 'process_resident_memory_bytes']) {
      assert.ok(seen.has(name), `the dashboard reads ${name}`);
    }
  });

  test('every kestra_authz_* family the service exports is on the dashboard', { skip }, () => {
    const exposition = parseExposition(scrape);
    const onDashboard = new Set(dashboardQueries().flatMap((q) => metricNamesInPromql(q.expr))
      .map((name) => familyOf(exposition, name)?.name ?? name));
    const exported = [...exposition.types.keys()].filter((name) => name.startsWith('kestra_authz_'));
    assert.ok(exported.length >= 15, `exported: ${exported.join(', ')}`);
    assert.deepEqual(exported.filter((name) => !onDashboard.has(name)), []);
  });
});
