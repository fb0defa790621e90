/**
 * Snapshot of the serialized CheckResponses: the exact shape Envoy reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkResponseFor } from '../../src/server/check-response.js';
import type { Decision } from '../../src/core/decision.js';

const base: Decision = {
  allow: true, status: 200, reason: 'permitted', message: 'permitted', requestId: 'r1', ruleId: 'kestra:flows.read', ruleLabel: 'FLOW:READ',
  upstreamHeaders: [['x-kestra-groups', 'devs'], ['x-kestra-user', 'dev']], upstreamHeadersToRemove: ['x-kestra-email'],
  responseHeaders: [], body: '', metadata: { user: 'dev', rule: 'kestra:flows.read', reason: 'permitted' },
};

test('allow → ok_response that overwrites identity headers and removes spoofed ones', () => {
  assert.deepEqual(checkResponseFor(base), {
    status: { code: 0 },
    ok_response: {
      headers: [
        { header: { key: 'x-kestra-groups', value: 'devs' }, append_action: 2 },
        { header: { key: 'x-kestra-user', value: 'dev' }, append_action: 2 },
      ],
      headers_to_remove: ['x-kestra-email'],
      response_headers_to_add: [],
    },
    dynamic_metadata: { fields: { reason: { stringValue: 'permitted' }, rule: { stringValue: 'kestra:flows.read' }, user: { stringValue: 'dev' } } },
  });
});

test('deny → denied_response with status, every header added (several Set-Cookie), JSON body', () => {
  const d: Decision = {
    ...base, allow: false, status: 302, reason: 'login_redirect', upstreamHeaders: [], upstreamHeadersToRemove: [],
    responseHeaders: [['location', '/login'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']], body: '', metadata: { reason: 'login_redirect' },
  };
  const res = checkResponseFor(d) as { status: { code: number }; denied_response: { status: { code: number }; headers: unknown[] } };
  assert.equal(res.status.code, 16);
  assert.equal(res.denied_response.status.code, 302);
  assert.equal(res.denied_response.headers.length, 3);
  const forbidden = checkResponseFor({ ...d, status: 403, reason: 'permission_denied' }) as { status: { code: number } };
  assert.equal(forbidden.status.code, 7);
  const unavailable = checkResponseFor({ ...d, status: 503, reason: 'store_unavailable' }) as { status: { code: number } };
  assert.equal(unavailable.status.code, 14);
});
