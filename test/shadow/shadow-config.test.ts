/**
 * The shadow policy's config: `shadow: true` rules leave the live policy and
 * are in force, in place, in the shadow one; which live decisions the shadow
 * compares and for whom; no evaluator (nothing on the hot path) without a
 * shadow.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load-config.js';
import { createAuthRequest } from '../../src/core/auth-request.js';
import type { Decision } from '../../src/core/decision.js';
import type { ReasonCode } from '../../src/core/reasons.js';
import { createLogger } from '../../src/observability/logger.js';
import { createShadowEvaluator, shadowCaller, verdictOf } from '../../src/server/shadow-evaluator.js';
import { createEngine } from '../../src/core/decide.js';
import { pino } from 'pino';
import { metricValue } from '../helpers/metric-value.js';

const YAML = `
authz:
  rules:
    - id: open-docs
      match: { path: /docs/public/** }
      allow: public
    - id: close-docs-drafts
      match: { path: /docs/drafts/** }
      allow: deny
      shadow: true
    - match: { path: /docs/** }
      allow: deny
`;

describe('shadow rules in the config', () => {
  const config = parseConfig(YAML, 'inline.yaml');

  test('the live policy never holds a shadow rule; the shadow policy has it in place', () => {
    assert.deepEqual(config.rules.map((r) => r.id), ['open-docs', 'rule[2]']);
    assert.equal(config.shadow?.file, undefined);
    assert.deepEqual(config.shadow?.ruleIds, ['close-docs-drafts']);
    assert.deepEqual(config.shadow?.policy.rules.map((r) => r.id), ['open-docs', 'close-docs-drafts', 'rule[2]']);
    assert.ok(config.shadow?.policy.rules.every((r) => r.shadow === undefined));
    assert.ok(Object.isFrozen(config.shadow?.policy));
  });

  test('no shadow configured: no evaluator, so a door checks one undefined and nothing else', () => {
    const plain = parseConfig('authz:\n  rules:\n    - match: { path: /x }\n      allow: public\n', 'plain.yaml');
    assert.equal(plain.shadow, undefined);
    assert.equal(createShadowEvaluator(plain, { logger: createLogger('silent') }), undefined);
    assert.ok(createShadowEvaluator(config, { logger: createLogger('silent') }));
  });
});

describe('what the shadow compares', () => {
  const config = parseConfig('authz:\n  default: authenticated\n', 'inline.yaml');
  const engine = createEngine(config, { authenticators: [] });
  const identity = { via: 'bearer' as const, subject: 's', name: 'n', groups: [] };
  const decision = (reason: ReasonCode, extra: Partial<Decision> = {}): Decision => {
    const req = createAuthRequest({ method: 'GET', path: '/x', headers: {} });
    assert.ok(req);
    const base = engine.decide(req) as Decision;
    return { ...base, reason, ...extra };
  };

  test('policy answers for an identity are compared for it', () => {
    for (const reason of ['permitted', 'permission_denied', 'tenant_denied'] as const) {
      assert.equal(shadowCaller(decision(reason, { identity })), identity);
    }
  });

  test('answers made without authenticating are compared as anonymous', () => {
    for (const reason of ['public', 'rule_deny', 'no_credentials'] as const) assert.equal(shadowCaller(decision(reason)), null);
    assert.equal(shadowCaller(decision('login_redirect', { metadata: { cause: 'no_credentials' } })), null);
  });

  test('bad credentials, the login flow, errors and bad requests are skipped', () => {
    for (const reason of ['token_expired', 'session_expired', 'basic_bad_credentials', 'basic_locked_out', 'login_flow', 'login_failed', 'bad_request', 'jwks_unavailable', 'internal_error'] as const) {
      assert.equal(shadowCaller(decision(reason)), undefined, reason);
    }
    // A failed session's login redirect: the credential was bad, not the policy.
    assert.equal(shadowCaller(decision('login_redirect', { metadata: { cause: 'session_expired' } })), undefined);
  });

  test('verdict labels: allow or the HTTP status', () => {
    assert.equal(verdictOf({ ...decision('permitted'), allow: true, status: 200 }), 'allow');
    assert.equal(verdictOf({ ...decision('rule_deny'), allow: false, status: 403 }), '403');
  });
});

describe('a failing shadow evaluation', () => {
  test('is counted as error and logged; the rest of the batch goes on; nothing throws out of the event loop', async () => {
    const config = parseConfig(`
authz:
  rules:
    - id: closing-docs
      match: { path: /docs/** }
      allow: deny
      shadow: true
    - id: open-docs
      match: { path: /docs/** }
      allow: public
`, 'inline.yaml');
    // A real pino logger whose info lines fail: each disagreement's log line throws inside the deferred batch.
    const warnings: string[] = [];
    const logger = pino({
      level: 'info',
      hooks: {
        logMethod(args, method, level) {
          if (level === 30) throw new Error('log sink broken');
          warnings.push(String(args.at(-1)));
          return method.apply(this, args);
        },
      },
    }, { write() {} });
    const evaluator = createShadowEvaluator(config, { logger });
    assert.ok(evaluator);
    const live = createEngine(config, { authenticators: [] });
    const before = await metricValue('kestra_authz_shadow_evaluations_total', { outcome: 'error' });
    for (const path of ['/docs/a', '/docs/b']) {
      const req = createAuthRequest({ method: 'GET', path, headers: {} });
      assert.ok(req);
      const decision = live.decide(req) as Decision;
      assert.equal(decision.reason, 'public');
      evaluator.observe(req, decision);
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await metricValue('kestra_authz_shadow_evaluations_total', { outcome: 'error' }) - before, 2);
    assert.deepEqual(warnings, ['shadow evaluation failed', 'shadow evaluation failed']);
  });
});
