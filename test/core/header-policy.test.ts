import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCookieHeader } from '../../src/core/auth-request.js';
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
  assert.deepEqual(remove, ['x-kestra-email', 'x-kestra-identity'], 'a client-sent signed identity header is always removed');
  const anon = upstreamHeadersFor(policy, undefined, undefined, undefined);
  assert.deepEqual(anon.set, []);
  assert.deepEqual(anon.remove, ['x-kestra-email', 'x-kestra-groups', 'x-kestra-identity', 'x-kestra-tenant', 'x-kestra-user']);
});

const isOurs = (name: string) => name === 'JWT' || name.startsWith('JWT_') || name.startsWith('OAUTH2_STATE');

test('one cookie reader: a name authentication reads as ours is always stripped, whatever the whitespace', () => {
  assert.equal(parseCookieHeader('JWT =s').get('JWT'), 's', 'read as the session…');
  assert.equal(cookieHeaderWithoutOwn(policy, 'JWT =s'), null, '…so stripped as the session');
  assert.equal(cookieHeaderWithoutOwn(policy, 'JWT\t=s'), null);
  assert.equal(cookieHeaderWithoutOwn(policy, ' \tJWT=s'), null);
  assert.equal(cookieHeaderWithoutOwn(policy, 'JWT = s'), null);
  assert.equal(cookieHeaderWithoutOwn(policy, 'a=1;JWT  =s'), 'a=1');
  assert.equal(cookieHeaderWithoutOwn(policy, 'JWT_REFRESH_TOKEN =r; a=1'), 'a=1');
  assert.equal(cookieHeaderWithoutOwn(policy, 'OAUTH2_STATE_x\t=y'), null);
  // Whatever the header, nothing left after the rewrite is read as one of our
  // cookies, and a header the rewrite leaves alone holds none of ours.
  const part = fc.oneof(
    fc.constantFrom('JWT', 'JWT_REFRESH_TOKEN', 'JWT_1', 'OAUTH2_STATE_a', 'lang', 'JWTX', 'jwt'),
    fc.constantFrom('=', ';', '"', 'v', ' ', '\t', ' ;', '; '),
  );
  fc.assert(fc.property(fc.array(part, { maxLength: 24 }), (parts) => {
    const header = parts.join('');
    const stripped = cookieHeaderWithoutOwn(policy, header);
    const left = stripped === undefined ? header : stripped ?? '';
    for (const name of parseCookieHeader(left).keys()) {
      assert.ok(!isOurs(name), `${JSON.stringify(name)} survived in ${JSON.stringify(left)} (from ${JSON.stringify(header)})`);
    }
  }), { numRuns: 3000 });
});
