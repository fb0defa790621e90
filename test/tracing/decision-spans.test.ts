/**
 * Decision spans end to end: the real service with `authz.tracing` on,
 * exporting over OTLP/HTTP to an in-process receiver; real Envoy-shaped
 * CheckRequests over gRPC carrying W3C or B3 trace headers; a real JWKS
 * issuer and Basic users made with the real CLI. Proves the span joins the
 * caller's trace (trace id, parent span id), carries the decision (result,
 * reason, rule, route template) and that no credential or path secret ever
 * leaves in an export body.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { DECISION_SPAN_NAME } from '../../src/observability/tracing.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { envoyCheckRequest, type EnvoyCheckRequestInit } from '../helpers/envoy-check-request.js';
import { createAuthzClient, type AuthzClient, type CheckResponseJs } from '../helpers/grpc-client.js';
import { expectAllowed, expectDenied } from '../helpers/grpc-door.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const PASSWORD = 'correct-horse-battery-7';
const COLLECTOR_CREDENTIAL = 'Bearer collector-credential-4f1c9a';
const COOKIE_SECRET = 'cookie-secret-value-91ab';
const QUERY_SECRET = 'query-secret-value-77de';
const WEBHOOK_KEY = 'webhook-key-secret-c0ffee';
const VERSION = '9.9.9-test';
const SERVER_KIND = 2;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

describe('decision spans over OTLP/HTTP', () => {
  let dir: string;
  let issuer: TokenIssuer;
  let receiver: OtlpReceiver;
  let service: RunningService;
  let client: AuthzClient;
  let devToken: string;
  /** Every credential-like string a request carried: none may reach the collector. */
  const secrets = new Set<string>([PASSWORD, Buffer.from(`ops:${PASSWORD}`).toString('base64'), COOKIE_SECRET, QUERY_SECRET, WEBHOOK_KEY]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-tracing-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    receiver = await startOtlpReceiver();
    const config = parse(bearerServiceYaml({ dir, issuer: issuer.issuer })) as { authz: Record<string, unknown> };
    config.authz.tracing = {
      enabled: true,
      otlp: { endpoint: receiver.url, headers: { Authorization: COLLECTOR_CREDENTIAL }, timeout: '5s' },
      resourceAttributes: { 'deployment.environment.name': 'test', camelCaseKey: 'kept as written' },
    };
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, stringify(config));
    await createUsersWithCli(configPath, ['--username', 'ops', '--password', PASSWORD, '--groups', 'kestra-devs']);
    service = await startService(await loadConfigFile(configPath), { logger: createLogger('silent'), version: VERSION });
    client = createAuthzClient(service.grpcPort);
    devToken = await issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } }, { kid: 'k1' });
    secrets.add(devToken);
  });

  after(async () => {
    client?.close();
    await service?.close();
    await receiver?.close();
    await issuer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** One Check with its own x-request-id; returns the answer and that id. */
  async function check(init: EnvoyCheckRequestInit): Promise<{ res: CheckResponseJs; requestId: string }> {
    const requestId = randomUUID();
    const res = await client.check(envoyCheckRequest({ ...init, headers: { ...init.headers, 'x-request-id': requestId } }));
    return { res, requestId };
  }

  /** The span of one request, once exported. */
  async function spanOf(requestId: string): Promise<ReceivedSpan> {
    await service.runtime.tracer!.flush();
    const spans = await receiver.waitFor((all) => all.some((s) => s.attributes['kestra_authz.request_id'] === requestId));
    const mine = spans.filter((s) => s.attributes['kestra_authz.request_id'] === requestId);
    assert.equal(mine.length, 1, 'one span per decision');
    return mine[0]!;
  }

  test('the service is running with a tracer', () => {
    assert.ok(service.runtime.tracer, 'tracing is on in this config');
    assert.equal(service.runtime.tracer.endpoint, receiver.url);
  });

  test('W3C traceparent: the span is a child of the caller\'s span and carries an allow', async () => {
    const traceId = hex(16);
    const parentSpanId = hex(8);
    const { res, requestId } = await check({
      method: 'GET',
      path: `/api/v1/main/flows/company.team/hello?access=${QUERY_SECRET}`,
      headers: {
        authorization: `Bearer ${devToken}`,
        cookie: `session-x=${COOKIE_SECRET}`,
        traceparent: `00-${traceId}-${parentSpanId}-01`,
        tracestate: 'vendor=opaque',
      },
    });
    expectAllowed(res);
    const span = await spanOf(requestId);
    assert.equal(span.traceId, traceId);
    assert.equal(span.parentSpanId, parentSpanId);
    assert.notEqual(span.spanId, parentSpanId);
    assert.equal(span.name, DECISION_SPAN_NAME);
    assert.equal(span.kind, SERVER_KIND);
    assert.equal(span.statusCode, 0, 'an allow is not an error');
    assert.deepEqual(
      { ...span.attributes },
      {
        'kestra_authz.door': 'grpc',
        'kestra_authz.request_id': requestId,
        'http.request.method': 'GET',
        'http.route': '/api/v1/{tenant}/flows/{namespace}/{flowId}/**',
        'http.response.status_code': 200,
        'kestra_authz.rule.id': 'kestra:flows.read',
        'kestra_authz.rule.label': 'FLOW:READ',
        'kestra_authz.result': 'allow',
        'kestra_authz.reason': 'permitted',
        'kestra_authz.auth.method': 'bearer',
      },
      'exactly these attributes: no user name (include-user is off), no raw path, no header',
    );
    assert.equal(span.resource['service.name'], 'kestra-authz');
    assert.equal(span.resource['service.version'], VERSION);
    assert.equal(span.resource['deployment.environment.name'], 'test');
    assert.equal(span.resource.camelCaseKey, 'kept as written');
    assert.equal(span.scope, 'kestra-authz');
  });

  test('Envoy\'s own span context, sent as metadata of the Check call, is the parent (over the request\'s headers)', async () => {
    const envoyTraceId = hex(16);
    const envoySpanId = hex(8);
    const requestId = randomUUID();
    const res = await client.check(
      envoyCheckRequest({
        method: 'GET',
        path: '/api/v1/main/flows/company.team/hello',
        headers: { authorization: `Bearer ${devToken}`, 'x-request-id': requestId, traceparent: `00-${hex(16)}-${hex(8)}-01` },
      }),
      { traceparent: `00-${envoyTraceId}-${envoySpanId}-01` },
    );
    expectAllowed(res);
    const span = await spanOf(requestId);
    assert.equal(span.traceId, envoyTraceId);
    assert.equal(span.parentSpanId, envoySpanId);
  });

  test('the collector gets the configured header, on the request (not in the body)', async () => {
    await service.runtime.tracer!.flush();
    await receiver.waitFor((all) => all.length > 0);
    assert.ok(receiver.exports.every((e) => e.headers.authorization === COLLECTOR_CREDENTIAL));
  });

  test('W3C: a 403 is a deny (not an error) with the reason and the rule', async () => {
    const traceId = hex(16);
    const parentSpanId = hex(8);
    const { res, requestId } = await check({
      method: 'DELETE',
      path: '/api/v1/main/flows/company.other/hello',
      headers: { authorization: `Bearer ${devToken}`, traceparent: `00-${traceId}-${parentSpanId}-01` },
    });
    expectDenied(res, 403);
    const span = await spanOf(requestId);
    assert.equal(span.traceId, traceId);
    assert.equal(span.parentSpanId, parentSpanId);
    assert.equal(span.attributes['kestra_authz.result'], 'deny');
    assert.equal(span.attributes['kestra_authz.reason'], 'permission_denied');
    assert.equal(span.attributes['kestra_authz.rule.id'], 'kestra:flows.delete');
    assert.equal(span.attributes['http.response.status_code'], 403);
    assert.equal(span.statusCode, 0);
  });

  test('B3 multi headers (x-b3-*): Basic user allowed, wrong password denied, both in the caller\'s trace', async () => {
    const traceId = hex(16);
    const parentSpanId = hex(8);
    const b3 = { 'x-b3-traceid': traceId, 'x-b3-spanid': parentSpanId, 'x-b3-parentspanid': hex(8), 'x-b3-sampled': '1' };
    const basic = (password: string) => `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`;
    const wrong = `wrong-${PASSWORD}`;
    secrets.add(wrong);
    secrets.add(Buffer.from(`ops:${wrong}`).toString('base64'));

    const ok = await check({ method: 'GET', path: '/api/v1/main/flows/company.team/hello', headers: { ...b3, authorization: basic(PASSWORD) } });
    expectAllowed(ok.res);
    const denied = await check({ method: 'GET', path: '/api/v1/main/flows/company.team/hello', headers: { ...b3, authorization: basic(wrong) } });
    expectDenied(denied.res, 401);

    const allowSpan = await spanOf(ok.requestId);
    assert.equal(allowSpan.traceId, traceId);
    assert.equal(allowSpan.parentSpanId, parentSpanId);
    assert.equal(allowSpan.attributes['kestra_authz.auth.method'], 'basic');
    assert.equal(allowSpan.attributes['kestra_authz.result'], 'allow');

    const denySpan = await spanOf(denied.requestId);
    assert.equal(denySpan.traceId, traceId);
    assert.equal(denySpan.parentSpanId, parentSpanId);
    assert.equal(denySpan.attributes['kestra_authz.result'], 'deny');
    assert.equal(denySpan.attributes['kestra_authz.reason'], 'basic_bad_credentials');
    assert.equal(denySpan.attributes['http.response.status_code'], 401);
  });

  test('B3 single header (b3: traceid-spanid-1), 64-bit trace id padded as B3 prescribes', async () => {
    const shortTraceId = hex(8);
    const parentSpanId = hex(8);
    const { res, requestId } = await check({ method: 'GET', path: '/healthz', headers: { b3: `${shortTraceId}-${parentSpanId}-1` } });
    expectAllowed(res);
    const span = await spanOf(requestId);
    assert.equal(span.traceId, `${'0'.repeat(16)}${shortTraceId}`);
    assert.equal(span.parentSpanId, parentSpanId);
    assert.equal(span.attributes['kestra_authz.reason'], 'public');
    assert.equal(span.attributes['http.route'], '/healthz');
    assert.equal(span.attributes['kestra_authz.rule.id'], 'rule[0]');
  });

  test('when both are sent, the W3C context is the parent', async () => {
    const traceId = hex(16);
    const parentSpanId = hex(8);
    const { requestId } = await check({
      method: 'GET',
      path: '/healthz',
      headers: { traceparent: `00-${traceId}-${parentSpanId}-01`, 'x-b3-traceid': hex(16), 'x-b3-spanid': hex(8), 'x-b3-sampled': '1' },
    });
    const span = await spanOf(requestId);
    assert.equal(span.traceId, traceId);
    assert.equal(span.parentSpanId, parentSpanId);
  });

  test('no trace headers: a new trace (root span) at the default ratio 1.0', async () => {
    const { requestId } = await check({ method: 'GET', path: '/healthz' });
    const span = await spanOf(requestId);
    assert.equal(span.parentSpanId, '');
    assert.match(span.traceId, /^[0-9a-f]{32}$/);
  });

  test('a parent Envoy did not sample (flags 00, x-b3-sampled: 0) yields no span', async () => {
    const unsampled = [
      await check({ method: 'GET', path: '/healthz', headers: { traceparent: `00-${hex(16)}-${hex(8)}-00` } }),
      await check({ method: 'GET', path: '/healthz', headers: { 'x-b3-traceid': hex(16), 'x-b3-spanid': hex(8), 'x-b3-sampled': '0' } }),
    ];
    // A sampled request after them: once its span is in, the unsampled ones would have been too.
    const marker = await check({ method: 'GET', path: '/healthz', headers: { traceparent: `00-${hex(16)}-${hex(8)}-01` } });
    await spanOf(marker.requestId);
    for (const { res, requestId } of unsampled) {
      expectAllowed(res);
      assert.ok(!receiver.spans().some((s) => s.attributes['kestra_authz.request_id'] === requestId));
    }
  });

  test('a Kestra webhook: the route template is recorded, never the key in the path', async () => {
    const { res, requestId } = await check({
      method: 'POST',
      path: `/api/v1/main/executions/webhook/company.team/flow/${WEBHOOK_KEY}`,
      headers: { traceparent: `00-${hex(16)}-${hex(8)}-01` },
    });
    expectAllowed(res);
    const span = await spanOf(requestId);
    assert.equal(span.attributes['http.route'], '/api/v1/{tenant}/executions/webhook/{namespace}/{flowId}/{key}/**');
    assert.equal(span.attributes['kestra_authz.rule.id'], 'kestra:executions.webhook');
  });

  test('nothing secret in any export body: tokens, passwords, cookies, query strings, path keys', async () => {
    await service.runtime.tracer!.flush();
    assert.ok(receiver.exports.length > 0);
    const everything = receiver.exports.map((e) => e.body).join('\n');
    assert.ok(everything.includes('kestra_authz.reason') && everything.includes('permission_denied'), 'the bodies searched are the span exports');
    for (const secret of secrets) assert.ok(!everything.includes(secret), `an export body contains a secret (${secret.slice(0, 6)}…)`);
    assert.ok(!everything.includes(COLLECTOR_CREDENTIAL), 'the collector credential travels only as a header');
    assert.ok(!everything.includes('access='), 'no query string');
    assert.ok(!everything.includes('company.other'), 'no raw path');
  });
});
