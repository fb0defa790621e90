/**
 * Token-endpoint client authentication (issue 15): every method of
 * `micronaut.security.oauth2.clients.<name>.token.auth-method` logs a user
 * in against a real oidc-provider that enforces the client's registered
 * method — with a hyphenated client id and a secret full of reserved
 * characters — and, unset, the method is picked from the IdP's
 * `token_endpoint_auth_methods_supported`.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { stringify } from 'yaml';
import { LockoutTracker } from '../../src/authn/lockout.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { OidcProviderConfig } from '../../src/config/types.js';
import { createEngine } from '../../src/core/decide.js';
import { chooseAuthMethod } from '../../src/oidc/client-auth.js';
import { loadClientKey } from '../../src/oidc/client-key.js';
import { createLoginFlow } from '../../src/oidc/login-flow.js';
import { createOidcProviderCache } from '../../src/oidc/providers.js';
import { openUsersStore } from '../../src/stores/open-users-store.js';
import { startOidcIdp, type IdpClient, type OidcIdp, type OidcIdpOptions } from '../helpers/oidc-idp.js';
import { APP, Browser, header } from './login-harness.js';

const CLIENT_ID = 'kestra-prod';
/** Every character RFC 6749 §2.3.1 has a client form-encode before HTTP Basic. */
const RESERVED_SECRET = 'a+b/c=d:e?f&g%h#i j+0123456789abcdefghijklmnopqrstuv';
const REDIRECT = `${APP}/oauth/callback/idp`;
const USERS = { alice: { email: 'alice@example.com', email_verified: true, preferred_username: 'alice', groups: ['devs'] } };

interface Setup {
  readonly idp: OidcIdp;
  readonly dir: string;
  login(): Promise<{ status: number; user?: string; groups?: readonly string[]; body: string }>;
  close(): Promise<void>;
}

async function setup(client: Partial<IdpClient>, service: { authMethod?: string; secret?: string; extras?: Record<string, unknown> }, idpOptions: Partial<OidcIdpOptions> = {}): Promise<Setup> {
  const idp = await startOidcIdp({
    name: 'ca',
    clients: [{ client_id: CLIENT_ID, redirect_uris: [REDIRECT], ...client }],
    users: USERS,
    ...idpOptions,
  });
  const dir = mkdtempSync(join(tmpdir(), 'client-auth-'));
  const yaml = stringify({
    kestra: { encryption: { 'secret-key': 'client-auth-test-secret-0123456789abcdef' }, security: { oidc: { 'groups-claim-path': 'groups' } } },
    micronaut: {
      security: {
        oauth2: {
          enabled: true,
          clients: {
            idp: {
              'client-id': CLIENT_ID,
              ...(service.secret !== undefined ? { 'client-secret': service.secret } : {}),
              scopes: ['openid', 'profile', 'email', 'groups'],
              ...(service.authMethod ? { token: { 'auth-method': service.authMethod } } : {}),
              openid: { issuer: idp.issuer },
            },
          },
        },
      },
    },
    authz: {
      'external-url': APP,
      users: { file: join(dir, 'users.yaml') },
      'kestra-rules': false,
      default: 'authenticated',
      ...(service.extras ? { oidc: { clients: { idp: service.extras } } } : {}),
    },
  });
  const config = parseConfig(yaml, 'client-auth.yaml', {}, dir);
  const usersStore = openUsersStore(config.users);
  const flow = createLoginFlow(config, {
    providers: createOidcProviderCache().providersFor(config),
    usersStore,
    lockout: new LockoutTracker(config.lockout),
  });
  const engine = createEngine(config, { authenticators: [flow.sessionAuthenticator], flow: flow.flow, loginRedirect: flow.loginRedirect });
  return {
    idp,
    dir,
    async login() {
      const b = new Browser(engine);
      const start = await b.get('/oauth/login/idp?redirect=%2Fui');
      if (start.status !== 302) return { status: start.status, body: start.body };
      const handoff = await idp.loginWith(header(start, 'location')!, 'alice');
      const callback = await b.get(handoff.url);
      if (callback.status !== 302) return { status: callback.status, body: callback.body };
      const page = await b.get('/ui');
      return { status: page.status, user: page.identity?.name, groups: page.identity?.groups, body: page.body };
    },
    async close() {
      await idp.stop();
      await usersStore.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function publicJwk(privateJwk: JWK): Promise<JWK> {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = privateJwk;
  return pub;
}

describe('client authentication at the token endpoint', () => {
  test('configured method wins; unset, post > basic > client_secret_jwt with a secret, private_key_jwt with only a key, none without either', () => {
    const base: OidcProviderConfig = { name: 'x', clientId: 'c', issuer: 'https://idp', scopes: ['openid'], userinfo: 'auto' };
    const all = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'];
    assert.equal(chooseAuthMethod({ ...base, clientSecret: 's', authMethod: 'client_secret_basic' }, all), 'client_secret_basic');
    assert.equal(chooseAuthMethod({ ...base, clientSecret: 's' }, all), 'client_secret_post');
    assert.equal(chooseAuthMethod({ ...base, clientSecret: 's' }, ['client_secret_basic', 'private_key_jwt']), 'client_secret_basic');
    assert.equal(chooseAuthMethod({ ...base, clientSecret: 's' }, ['client_secret_jwt', 'private_key_jwt']), 'client_secret_jwt');
    assert.equal(chooseAuthMethod({ ...base, clientSecret: 's', privateKeyFile: '/k' }, ['private_key_jwt']), 'private_key_jwt');
    // RFC 8414: an IdP that lists nothing takes client_secret_basic.
    assert.equal(chooseAuthMethod({ ...base, clientSecret: 's' }, undefined), 'client_secret_basic');
    assert.equal(chooseAuthMethod({ ...base, privateKeyFile: '/k' }, all), 'private_key_jwt');
    assert.equal(chooseAuthMethod(base, all), 'none');
  });

  test('config: Micronaut spellings accepted; a method without its credential, tls_client_auth and unknown client names are problems', async () => {
    const { load, oauthClientLines, problemsOf, yamlLines } = await import('../config/config-problems.js');
    const yaml = (method: string, extra: string[] = [], secret = true) => yamlLines(
      ...oauthClientLines('llng', ...(secret ? ['client-secret: s'] : []), `token: { auth-method: ${method} }`),
      ...extra,
    );
    for (const spelling of ['client_secret_post', 'CLIENT_SECRET_POST', 'client-secret-post']) {
      const config = load(yaml(spelling));
      assert.equal(config.oidc.providers[0]!.authMethod, 'client_secret_post');
      assert.deepEqual(config.warnings.filter((w) => /token|auth-method/.test(w)), [], 'read, no longer "ignored"');
    }
    const withKey = load(yaml('private_key_jwt', ['authz:', '  oidc:', '    clients:', '      llng: { private-key-file: keys/client.pem, private-key-id: k1, userinfo: always }'], false));
    assert.equal(withKey.oidc.providers[0]!.privateKeyFile, '/srv/authz/keys/client.pem');
    assert.equal(withKey.oidc.providers[0]!.privateKeyId, 'k1');
    assert.equal(withKey.oidc.providers[0]!.userinfo, 'always');
    assert.match(problemsOf(yaml('private_key_jwt'))[0]!.message, /private_key_jwt needs authz\.oidc\.clients\.llng\.private-key-file/);
    assert.match(problemsOf(yaml('client_secret_basic', [], false))[0]!.message, /needs client-secret/);
    assert.match(problemsOf(yaml('none'))[0]!.message, /public client/);
    assert.match(problemsOf(yaml('tls_client_auth'))[0]!.message, /not supported/);
    const stray = problemsOf(yaml('client_secret_post', ['authz:', '  oidc:', '    clients:', '      lemon: { userinfo: never }']));
    assert.equal(stray[0]!.key, 'authz.oidc.clients.lemon');
    assert.match(stray[0]!.message, /no client "lemon"/);
  });

  for (const method of ['client_secret_post', 'client_secret_basic', 'client_secret_jwt']) {
    test(`${method}: hyphenated client id and a secret with + / = : ? & % log in`, async () => {
      const s = await setup({ client_secret: RESERVED_SECRET, token_endpoint_auth_method: method }, { authMethod: method, secret: RESERVED_SECRET });
      try {
        const result = await s.login();
        assert.equal(result.status, 200, result.body);
        assert.equal(result.user, 'alice');
        assert.deepEqual(result.groups, ['devs']);
        assert.deepEqual(s.idp.counts.authMethods, [method], 'the IdP saw this method');
      } finally {
        await s.close();
      }
    });
  }

  test('a wrong secret fails the login cleanly (400, no session, the secret never shown)', async () => {
    const s = await setup({ client_secret: RESERVED_SECRET, token_endpoint_auth_method: 'client_secret_post' }, { secret: `${RESERVED_SECRET}x` });
    try {
      const result = await s.login();
      assert.equal(result.status, 400);
      assert.doesNotMatch(result.body, /a\+b/);
      assert.deepEqual(s.idp.counts.authMethods, []);
    } finally {
      await s.close();
    }
  });

  test('unset: picked from token_endpoint_auth_methods_supported (an IdP offering only Basic gets Basic)', async () => {
    const s = await setup(
      { client_secret: RESERVED_SECRET, token_endpoint_auth_method: 'client_secret_basic' },
      { secret: RESERVED_SECRET },
      { clientAuthMethods: ['client_secret_basic', 'private_key_jwt'] },
    );
    try {
      assert.equal((await s.login()).status, 200);
      assert.deepEqual(s.idp.counts.authMethods, ['client_secret_basic']);
    } finally {
      await s.close();
    }
  });

  test('unset with an IdP offering every method: client_secret_post', async () => {
    const s = await setup({ client_secret: RESERVED_SECRET }, { secret: RESERVED_SECRET });
    try {
      assert.equal((await s.login()).status, 200);
      assert.deepEqual(s.idp.counts.authMethods, ['client_secret_post']);
    } finally {
      await s.close();
    }
  });

  test('private_key_jwt with a PEM key (RSA) and with a JWK set (EC, picked by private-key-id)', async () => {
    // PEM: a PKCS#1 RSA key as openssl genrsa -traditional writes it.
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaPublic = { ...(rsa.publicKey.export({ format: 'jwk' }) as JWK), kid: 'rsa-1', use: 'sig' };
    const pemDir = mkdtempSync(join(tmpdir(), 'client-key-'));
    const pemFile = join(pemDir, 'client.pem');
    writeFileSync(pemFile, rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }));
    // JWK set with two private EC keys: private-key-id picks one.
    const ec1 = { ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey)), kid: 'ec-old' };
    const ec2 = { ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey)), kid: 'ec-new' };
    const jwkFile = join(pemDir, 'client.jwks.json');
    writeFileSync(jwkFile, JSON.stringify({ keys: [ec1, ec2] }));
    try {
      const withPem = await setup(
        { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [rsaPublic] } },
        { authMethod: 'private_key_jwt', extras: { 'private-key-file': pemFile, 'private-key-id': 'rsa-1' } },
      );
      try {
        const result = await withPem.login();
        assert.equal(result.status, 200, result.body);
        assert.equal(result.user, 'alice');
        assert.deepEqual(withPem.idp.counts.authMethods, ['private_key_jwt']);
      } finally {
        await withPem.close();
      }
      // Unset method, only a key configured → private_key_jwt.
      const withJwk = await setup(
        { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [await publicJwk(ec2)] } },
        { extras: { 'private-key-file': jwkFile, 'private-key-id': 'ec-new' } },
      );
      try {
        assert.equal((await withJwk.login()).status, 200);
        assert.deepEqual(withJwk.idp.counts.authMethods, ['private_key_jwt']);
      } finally {
        await withJwk.close();
      }
      const loaded = await loadClientKey(jwkFile, 'ec-new');
      assert.equal(loaded.alg, 'ES256');
      await assert.rejects(loadClientKey(jwkFile), /exactly one private JWK/);
      await assert.rejects(loadClientKey(join(pemDir, 'missing.pem')), /cannot be read \(ENOENT\)/);
    } finally {
      rmSync(pemDir, { recursive: true, force: true });
    }
  });

  test('an unreadable private key: logins answer 503 (never a session), the reason is logged without key material', async () => {
    const s = await setup(
      { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } },
      { authMethod: 'private_key_jwt', extras: { 'private-key-file': '/nonexistent/client.pem' } },
    );
    try {
      const result = await s.login();
      assert.equal(result.status, 503);
    } finally {
      await s.close();
    }
  });

  test('none: a public client (PKCE only) logs in', async () => {
    const s = await setup({ token_endpoint_auth_method: 'none' }, { authMethod: 'none' });
    try {
      assert.equal((await s.login()).status, 200);
      assert.deepEqual(s.idp.counts.authMethods, ['none']);
    } finally {
      await s.close();
    }
  });
});

