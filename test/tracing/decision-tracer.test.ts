/**
 * The decision tracer on its own, exporting to a real in-process OTLP/HTTP
 * receiver: error status, which headers give the parent, login-flow
 * attributes, the opt-in user name, sampling, and the OTEL_* endpoint
 * variable. Decisions are built with the core's own constructors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseConfig } from '../../src/config/load-config.js';
import type { TracingConfig } from '../../src/config/types.js';
import { createAuthRequest, type AuthRequest } from '../../src/core/auth-request.js';
import { deniedDecision, NO_HEADERS, type Decision } from '../../src/core/decision.js';
import { errorDenial } from '../../src/core/respond.js';
import { createLogger } from '../../src/observability/logger.js';
import { createDecisionTracer, type DecisionTracer } from '../../src/observability/tracing.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const engineConfig = parseConfig(`
micronaut:
  security:
    oauth2:
      enabled: true
      clients:
        keycloak: { client-id: kestra, client-secret: client-secret-value-5e5e, openid: { issuer: https://sso.example.com/realms/k } }
authz:
  log: { level: silent }
`, 'tracer-test.yaml');

function tracingConfig(receiver: OtlpReceiver, overrides: Partial<TracingConfig> = {}): TracingConfig {
  return {
    enabled: true,
    endpoint: receiver.url,
    exportHeaders: {},
    timeoutMs: 5_000,
    samplerRatio: 1,
    resourceAttributes: {},
    includeUser: false,
    ...overrides,
  };
}

function request(path: string, headers: Record<string, string> = {}): AuthRequest {
  const req = createAuthRequest({ id: randomUUID(), method: 'GET', path, headers });
  assert.ok(req);
  return req;
}

function allowAs(req: AuthRequest, name: string): Decision {
  return {
    allow: true,
    status: 200,
    reason: 'permitted',
    message: 'ok',
    requestId: req.id,
    ruleId: 'default',
    ruleLabel: 'authenticated',
    identity: { via: 'session', subject: 'sub-123', name, email: 'alice@example.com', groups: ['admins'], provider: 'keycloak' },
    upstreamHeaders: NO_HEADERS,
    upstreamHeadersToRemove: [],
    responseHeaders: NO_HEADERS,
    body: '',
    metadata: {},
  };
}

describe('decision tracer', () => {
  let receiver: OtlpReceiver;
  const logger = createLogger('silent');
  const tracers: DecisionTracer[] = [];

  async function tracer(overrides: Partial<TracingConfig> = {}): Promise<DecisionTracer> {
    const t = await createDecisionTracer(tracingConfig(receiver, overrides), logger, { version: 't', currentConfig: () => engineConfig });
    assert.ok(t);
    tracers.push(t);
    return t;
  }

  async function spanOf(t: DecisionTracer, req: AuthRequest): Promise<ReceivedSpan> {
    await t.flush();
    const all = await receiver.waitFor((spans) => spans.some((s) => s.attributes['kestra_authz.request_id'] === req.id));
    return all.find((s) => s.attributes['kestra_authz.request_id'] === req.id)!;
  }

  before(async () => { receiver = await startOtlpReceiver(); });
  after(async () => {
    for (const t of tracers) await t.shutdown();
    await receiver?.close();
  });

  test('disabled → undefined, nothing created', async () => {
    assert.equal(await createDecisionTracer(tracingConfig(receiver, { enabled: false }), logger, { currentConfig: () => engineConfig }), undefined);
  });

  test('a failure to decide (5xx) is the only span marked as an error', async () => {
    const t = await tracer();
    const req = request('/api/v1/main/flows');
    t.endDecision(t.startDecision(req, 'http'), req, errorDenial(req.id, 'internal_error', 'boom'));
    const span = await spanOf(t, req);
    assert.equal(span.statusCode, 2);
    assert.equal(span.statusMessage, 'internal_error');
    assert.equal(span.attributes['kestra_authz.result'], 'error');
    assert.equal(span.attributes['http.response.status_code'], 500);
    assert.equal(span.attributes['kestra_authz.door'], 'http');
    assert.equal(span.attributes['kestra_authz.rule.id'], undefined, 'no rule matched');
  });

  test('call headers with a trace context win over the request\'s; without one, the request\'s apply', async () => {
    const t = await tracer();
    const callTrace = hex(16);
    const callSpan = hex(8);
    const reqTrace = hex(16);
    const reqSpan = hex(8);
    const req = request('/healthz', { traceparent: `00-${reqTrace}-${reqSpan}-01` });
    t.endDecision(t.startDecision(req, 'grpc', { traceparent: `00-${callTrace}-${callSpan}-01` }), req, allowAs(req, 'alice'));
    const first = await spanOf(t, req);
    assert.equal(first.traceId, callTrace);
    assert.equal(first.parentSpanId, callSpan);

    const again = request('/healthz', { traceparent: `00-${reqTrace}-${reqSpan}-01` });
    t.endDecision(t.startDecision(again, 'grpc', { 'content-type': 'application/grpc' }), again, allowAs(again, 'alice'));
    const second = await spanOf(t, again);
    assert.equal(second.traceId, reqTrace);
    assert.equal(second.parentSpanId, reqSpan);
  });

  test('login flow: route template and the configured provider; never the code in the query', async () => {
    const t = await tracer();
    const code = `code-${hex(8)}`;
    const req = request(`/oauth/callback/keycloak?code=${code}&state=s-${hex(4)}`);
    const d = deniedDecision({
      status: 302, reason: 'login_flow', message: 'redirect', requestId: req.id, ruleId: 'login-flow', ruleLabel: 'login flow: callback',
      headers: [['location', '/']], body: '', metadata: {},
    });
    t.endDecision(t.startDecision(req, 'grpc'), req, d);
    const span = await spanOf(t, req);
    assert.equal(span.attributes['http.route'], '/oauth/callback/{provider}');
    assert.equal(span.attributes['kestra_authz.oidc.provider'], 'keycloak');
    assert.equal(span.attributes['kestra_authz.result'], 'deny');
    assert.ok(!receiver.exports.some((e) => e.body.includes(code)));

    const made = request('/oauth/login/not-configured');
    t.endDecision(t.startDecision(made, 'grpc'), made, { ...d, requestId: made.id });
    const other = await spanOf(t, made);
    assert.equal(other.attributes['http.route'], '/oauth/login/{provider}');
    assert.equal(other.attributes['kestra_authz.oidc.provider'], undefined, 'a name the client made up is not recorded');
  });

  test('user name only with include-user; never e-mail, subject or groups', async () => {
    const off = await tracer();
    const on = await tracer({ includeUser: true });
    const a = request('/x');
    off.endDecision(off.startDecision(a, 'grpc'), a, allowAs(a, 'alice-off'));
    const b = request('/x');
    on.endDecision(on.startDecision(b, 'grpc'), b, allowAs(b, 'alice-on'));
    const spanA = await spanOf(off, a);
    const spanB = await spanOf(on, b);
    assert.equal(spanA.attributes['user.name'], undefined);
    assert.equal(spanB.attributes['user.name'], 'alice-on');
    assert.equal(spanB.attributes['kestra_authz.oidc.provider'], 'keycloak');
    assert.equal(spanB.attributes['kestra_authz.auth.method'], 'session');
    assert.equal(spanB.attributes['http.route'], '/**');
    const bodies = receiver.exports.map((e) => e.body).join('\n');
    for (const absent of ['alice-off', 'alice@example.com', 'sub-123', 'admins', 'client-secret-value-5e5e']) {
      assert.ok(!bodies.includes(absent), `${absent} must not be exported`);
    }
  });

  test('ratio 0: no new traces, but a sampled parent from Envoy is still followed', async () => {
    const t = await tracer({ samplerRatio: 0 });
    const root = request('/healthz');
    t.endDecision(t.startDecision(root, 'grpc'), root, allowAs(root, 'x'));
    const child = request('/healthz', { traceparent: `00-${hex(16)}-${hex(8)}-01` });
    t.endDecision(t.startDecision(child, 'grpc'), child, allowAs(child, 'x'));
    await spanOf(t, child);
    assert.ok(!receiver.spans().some((s) => s.attributes['kestra_authz.request_id'] === root.id));
  });

  test('no endpoint in the file: OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces) is used', async () => {
    const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.base;
    try {
      const t = await tracer({ endpoint: undefined });
      assert.equal(t.endpoint, receiver.url);
      const req = request('/healthz');
      t.endDecision(t.startDecision(req, 'grpc'), req, allowAs(req, 'x'));
      await spanOf(t, req);
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
    }
  });

  test('endDecision on no span is a no-op', async () => {
    const t = await tracer();
    const req = request('/x');
    assert.doesNotThrow(() => t.endDecision(undefined, req, allowAs(req, 'x')));
  });
});
