import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_GROUPS, groupsFromClaims, identityFromClaims } from '../../src/authn/claims-identity.js';

describe('groupsFromClaims', () => {
  test('a top-level array', () => {
    assert.deepEqual(groupsFromClaims({ groups: ['a', 'b'] }, 'groups'), ['a', 'b']);
  });

  test('a string is one group, commas included', () => {
    assert.deepEqual(groupsFromClaims({ groups: 'ops' }, 'groups'), ['ops']);
    assert.deepEqual(groupsFromClaims({ groups: 'a,b' }, 'groups'), ['a,b']);
    assert.deepEqual(groupsFromClaims({ groups: '' }, 'groups'), []);
  });

  test('nested paths (Keycloak realm and client roles)', () => {
    const claims = {
      realm_access: { roles: ['offline_access', 'admin'] },
      resource_access: { kestra: { roles: ['kestra-devs'] }, other: { roles: ['x'] } },
    };
    assert.deepEqual(groupsFromClaims(claims, 'realm_access.roles'), ['offline_access', 'admin']);
    assert.deepEqual(groupsFromClaims(claims, 'resource_access.kestra.roles'), ['kestra-devs']);
  });

  test('array indexes', () => {
    const claims = { a: { b: [['x', 'y'], 'second'] }, list: [{ groups: ['deep'] }] };
    assert.deepEqual(groupsFromClaims(claims, 'a.b[0]'), ['x', 'y']);
    assert.deepEqual(groupsFromClaims(claims, 'a.b[1]'), ['second']);
    assert.deepEqual(groupsFromClaims(claims, 'list[0].groups'), ['deep']);
    assert.deepEqual(groupsFromClaims(claims, 'a.b[0][1]'), ['y']);
    assert.deepEqual(groupsFromClaims(claims, 'a.b[5]'), []);
  });

  test('missing paths give no groups', () => {
    assert.deepEqual(groupsFromClaims({}, 'groups'), []);
    assert.deepEqual(groupsFromClaims({ realm_access: {} }, 'realm_access.roles'), []);
    assert.deepEqual(groupsFromClaims({ realm_access: null }, 'realm_access.roles'), []);
    assert.deepEqual(groupsFromClaims({ a: 'str' }, 'a.b'), []);
  });

  test('non-array, non-string values give no groups; non-string members are dropped', () => {
    assert.deepEqual(groupsFromClaims({ groups: 42 }, 'groups'), []);
    assert.deepEqual(groupsFromClaims({ groups: { a: 1 } }, 'groups'), []);
    assert.deepEqual(groupsFromClaims({ groups: true }, 'groups'), []);
    assert.deepEqual(groupsFromClaims({ groups: ['a', 1, null, { x: 1 }, ['b'], '', 'c'] }, 'groups'), ['a', 'c']);
    // indexing into an object, or a key into an array, finds nothing
    assert.deepEqual(groupsFromClaims({ a: { 0: ['x'] } }, 'a[0]'), []);
    assert.deepEqual(groupsFromClaims({ a: [['x']] }, 'a.0'), []);
  });

  test('unreadable paths give no groups rather than throwing', () => {
    for (const path of ['', '.', 'a..b', 'a[', 'a[x]', 'a[0', '[0]', 'a]']) {
      assert.deepEqual(groupsFromClaims({ a: ['x'] }, path), [], path);
    }
  });

  test('prototype members are never read', () => {
    assert.deepEqual(groupsFromClaims({}, 'constructor.name'), []);
    assert.deepEqual(groupsFromClaims({ a: {} }, 'a.__proto__'), []);
    const fromJson = JSON.parse('{"__proto__": {"groups": ["evil"]}}') as Record<string, unknown>;
    assert.deepEqual(groupsFromClaims(fromJson, 'groups'), []);
  });

  test('duplicates removed, order kept, capped', () => {
    assert.deepEqual(groupsFromClaims({ groups: ['b', 'a', 'b'] }, 'groups'), ['b', 'a']);
    const many = Array.from({ length: MAX_GROUPS + 50 }, (_, i) => `g${i}`);
    const groups = groupsFromClaims({ groups: many }, 'groups');
    assert.equal(groups.length, MAX_GROUPS);
    assert.equal(groups[0], 'g0');
  });
});

describe('identityFromClaims', () => {
  const options = { via: 'bearer' as const, userClaims: ['preferred_username', 'email'], groupsClaimPath: 'groups', issuer: 'https://idp' };

  test('name from the first user claim present, email, groups, expiry, issuer', () => {
    const id = identityFromClaims(
      { sub: 's-1', preferred_username: 'alice', email: 'alice@example.com', email_verified: true, groups: ['g'], exp: 2_000_000_000 },
      options,
    );
    assert.deepEqual(id, {
      via: 'bearer', subject: 's-1', name: 'alice', email: 'alice@example.com',
      groups: ['g'], issuer: 'https://idp', expiresAt: 2_000_000_000,
    });
    assert.ok(Object.isFrozen(id));
    assert.ok(Object.isFrozen(id?.groups));
  });

  test('empty or non-string user claims are skipped; falls back to sub', () => {
    assert.equal(identityFromClaims({ sub: 's', preferred_username: '', email: 'e@x', email_verified: true }, options)?.name, 'e@x');
    assert.equal(identityFromClaims({ sub: 's', preferred_username: 7 }, options)?.name, 's');
    assert.equal(identityFromClaims({ sub: 's', email: ['x'] }, options)?.email, undefined);
  });

  test('an unverified email is neither the name nor the email; verified or trusted, it is both', () => {
    const boss = { sub: 'mallory-sub', email: 'boss@example.com' };
    for (const verified of [undefined, false, 'false', 'TRUE', 1, null, {}]) {
      const id = identityFromClaims({ ...boss, email_verified: verified }, options);
      assert.equal(id?.name, 'mallory-sub', `email_verified ${JSON.stringify(verified)}`);
      assert.equal(id?.email, undefined);
    }
    for (const verified of [true, 'true']) {
      const id = identityFromClaims({ ...boss, email_verified: verified }, options);
      assert.deepEqual([id?.name, id?.email], ['boss@example.com', 'boss@example.com'], `email_verified ${JSON.stringify(verified)}`);
    }
    const trusted = identityFromClaims(boss, { ...options, trustEmail: true });
    assert.deepEqual([trusted?.name, trusted?.email], ['boss@example.com', 'boss@example.com']);
    // Another user claim is not an e-mail claim: taken as it is.
    assert.equal(identityFromClaims({ ...boss, preferred_username: 'mallory' }, options)?.name, 'mallory');
  });

  test('no usable sub → undefined', () => {
    assert.equal(identityFromClaims({ preferred_username: 'alice' }, options), undefined);
    assert.equal(identityFromClaims({ sub: '' }, options), undefined);
    assert.equal(identityFromClaims({ sub: 12 }, options), undefined);
  });
});
