/**
 * Claims only in userinfo (issue 15): an IdP (oidc-provider with
 * conformIdTokenClaims) that keeps email and groups out of the ID token.
 * `auto` fetches them after the code exchange and after a refresh, `never`
 * leaves the user without groups (RBAC fails closed), a userinfo `sub` other
 * than the ID token's refuses the login, and `explain` says where the
 * claims came from.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runExplain } from '../../src/cli/explain-command.js';
import { registry } from '../../src/observability/metrics.js';
import { header, startHarness, type Browser, type Harness, type HarnessOptions } from './login-harness.js';

const USERS = { alice: { email: 'alice@example.com', email_verified: true, preferred_username: 'alice', groups: ['devs', 'ops'] } };

async function logIn(h: Harness): Promise<{ b: Browser; status: number; body: string }> {
  const b = h.browser();
  const start = await b.get('/oauth/login/alpha?redirect=%2Fui');
  const done = await b.get((await h.alpha.loginWith(header(start, 'location')!, 'alice')).url);
  return { b, status: done.status, body: done.body };
}

async function loginCount(result: string): Promise<number> {
  const { values } = await registry.getSingleMetric('kestra_authz_oidc_logins_total')!.get();
  return values.find((v) => v.labels.provider === 'alpha' && v.labels.result === result)?.value ?? 0;
}

function harness(mode: string | undefined, idp: HarnessOptions['idp'] = {}): Promise<Harness> {
  return startHarness({
    onlyAlpha: true,
    users: USERS,
    idp: { claimsOnlyInUserinfo: true, accessTokenTtl: 60, idTokenTtl: 60, ...idp },
    extraYaml: mode ? `  oidc:\n    clients:\n      alpha: { userinfo: ${mode} }\n` : '',
  });
}

describe('claims from userinfo', () => {
  let h: Harness;
  before(async () => {
    h = await harness(undefined);
  });
  after(() => h.close());

  test('auto: groups and email only in userinfo → the session has them, and records that they came from there', async () => {
    const { b, status, body } = await logIn(h);
    assert.equal(status, 302, body);
    const page = await b.get('/ui');
    assert.equal(page.allow, true);
    assert.equal(page.identity?.name, 'alice');
    assert.equal(page.identity?.email, 'alice@example.com');
    assert.deepEqual(page.identity?.groups, ['devs', 'ops']);
    assert.deepEqual([...(page.identity?.userinfoClaims ?? [])].sort(), ['email', 'email_verified', 'groups', 'preferred_username']);
  });

  test('explain prints "claims from: id_token, userinfo (…)"', async () => {
    const { b } = await logIn(h);
    const file = join(tmpdir(), `userinfo-explain-${process.pid}.yaml`);
    writeFileSync(file, h.yaml);
    const out: string[] = [];
    const cookie = [...b.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
    const code = await runExplain(['--config', file, '--path', '/ui', '--host', 'app.test', '--cookie', cookie], { stdout: (t) => out.push(t), stderr: () => undefined });
    assert.equal(code, 0, out.join('\n'));
    assert.ok(out.some((l) => /^claims from: id_token, userinfo \(.*groups.*\)$/.test(l)), out.join('\n'));
  });

  test('auto: groups still there after a refresh (the new ID token lacks them too)', async () => {
    const { b } = await logIn(h);
    const refreshes = h.alpha.counts.refresh;
    h.advance(61_000);
    const page = await b.get('/ui');
    assert.equal(page.allow, true, page.body);
    assert.equal(h.alpha.counts.refresh - refreshes, 1, 'refreshed');
    assert.deepEqual(page.identity?.groups, ['devs', 'ops']);
    assert.ok(page.identity?.userinfoClaims?.includes('groups'));
  });
});

describe('claims from userinfo: modes and the subject check', () => {
  test('never: no userinfo, so no groups (RBAC then fails closed); claims from the ID token only', async () => {
    const h = await harness('never');
    try {
      const { b, status } = await logIn(h);
      assert.equal(status, 302);
      const page = await b.get('/ui');
      assert.deepEqual(page.identity?.groups, []);
      assert.equal(page.identity?.userinfoClaims, undefined);
    } finally {
      await h.close();
    }
  });

  test('auto with the claims in the ID token: nothing taken from userinfo; always: asked, but the ID token wins', async () => {
    for (const mode of ['auto', 'always']) {
      const h = await harness(mode, { claimsOnlyInUserinfo: false });
      try {
        const { b, status } = await logIn(h);
        assert.equal(status, 302);
        const page = await b.get('/ui');
        assert.deepEqual(page.identity?.groups, ['devs', 'ops'], mode);
        assert.equal(page.identity?.userinfoClaims, undefined, mode);
      } finally {
        await h.close();
      }
    }
  });

  test('userinfo naming another subject (OIDC Core §5.3.2) → login refused as id_token_invalid, no session', async () => {
    const h = await harness('always', { userinfoSubject: () => 'mallory' });
    try {
      const before = await loginCount('id_token_invalid');
      const { b, status, body } = await logIn(h);
      assert.equal(status, 400);
      assert.match(body, /identity that cannot be accepted/);
      assert.equal(await loginCount('id_token_invalid'), before + 1);
      assert.equal(b.cookies.has('JWT'), false);
    } finally {
      await h.close();
    }
  });
});
