import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHeaderPolicy, cookieHeaderWithoutOwn, upstreamHeadersFor } from '../../src/core/header-policy.js';
import type { Config } from '../../src/config/types.js';

const policy = compileHeaderPolicy({
  headers: { user: 'x-kestra-user', email: 'x-kestra-email', groups: 'x-kestra-groups', tenant: 'x-kestra-tenant' },
  cookie: { name: 'JWT' },
} as unknown as Config);

test('our cookies never reach the upstream; others are kept in order', () => {
  assert.equal(cookieHeaderWithoutOwn(policy, 'a=1; JWT=xyz; b=2; JWT_REFRESH_TOKEN=r; OAUTH2_STATE_abc=s'), 'a=1; b=2');
  assert.equal(cookieHeaderWithoutOwn(policy, 'JWT=xyz'), null);
  assert.equal(cookieHeaderWithoutOwn(policy, 'a=1; b=2'), undefined);
  assert.equal(cookieHeaderWithoutOwn(policy, undefined), undefined);
  // a cookie merely starting with our name's letters but not our prefix stays
  assert.equal(cookieHeaderWithoutOwn(policy, 'JWTX=1; JWT=2'), 'JWTX=1');
});

test('identity headers: set from the identity, absent ones removed, CR/LF stripped, sorted', () => {
  const { set, remove } = upstreamHeadersFor(policy, { via: 'basic', subject: 'bob', name: 'bob\r\nx-evil: 1', groups: ['a', 'b'] }, 'main', 'JWT=1; k=v');
  assert.deepEqual(set, [['cookie', 'k=v'], ['x-kestra-groups', 'a,b'], ['x-kestra-tenant', 'main'], ['x-kestra-user', 'bobx-evil: 1']]);
  assert.deepEqual(remove, ['x-kestra-email']);
  const anon = upstreamHeadersFor(policy, undefined, undefined, undefined);
  assert.deepEqual(anon.set, []);
  assert.deepEqual(anon.remove, ['x-kestra-email', 'x-kestra-groups', 'x-kestra-tenant', 'x-kestra-user']);
});
