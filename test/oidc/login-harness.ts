/**
 * Test harness for the login flow: two real IdPs (oidc-provider over HTTPS),
 * a config naming them, an Engine built with the login flow exactly as the
 * service builds it, and a `Browser` that sends AuthRequests to decide() and
 * keeps the cookies the Decisions set — a browser without the network hop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicAuthenticator } from '../../src/authn/basic-auth.js';
import { LockoutTracker } from '../../src/authn/lockout.js';
import { hashPassword } from '../../src/authn/password-hash.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/types.js';
import { createAuthRequest } from '../../src/core/auth-request.js';
import { createEngine, type Engine } from '../../src/core/decide.js';
import type { Decision } from '../../src/core/decision.js';
import { createLoginFlow, type LoginFlow } from '../../src/oidc/login-flow.js';
import { createOidcProviderCache, type OidcProviderCache } from '../../src/oidc/providers.js';
import { openUsersStore } from '../../src/stores/open-users-store.js';
import type { UsersStore } from '../../src/stores/users-store.js';
import { startOidcIdp, type OidcIdp, type OidcIdpOptions } from '../helpers/oidc-idp.js';
import { PROFILE_SCOPES, oidcServiceYaml } from '../helpers/oidc-service-config.js';

export const APP = 'https://app.test';
export const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export interface Harness {
  readonly alpha: OidcIdp;
  readonly beta: OidcIdp;
  readonly config: Config;
  /** The config as YAML text (for a config file, e.g. `explain --config`). */
  readonly yaml: string;
  readonly engine: Engine;
  readonly flow: LoginFlow;
  readonly users: UsersStore;
  readonly providerCache: OidcProviderCache;
  /** Moves the flow's clock (ms). */
  advance(ms: number): void;
  now(): number;
  browser(): Browser;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly idp?: Partial<OidcIdpOptions>;
  /** YAML appended to the config; indented two spaces, its keys land in `authz`. */
  readonly extraYaml?: string;
  readonly users?: OidcIdpOptions['users'];
  /** Configure only the alpha provider (beta still runs). */
  readonly onlyAlpha?: boolean;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const client = {
    client_id: 'app',
    client_secret: 'app-secret',
    redirect_uris: [`${APP}/oauth/callback/alpha`, `${APP}/oauth/callback/beta`],
    post_logout_redirect_uris: [`${APP}/logout`],
  };
  const users = options.users ?? {
    alice: { email: 'alice@example.com', preferred_username: 'alice', groups: ['devs', 'ops'] },
    bob: { email: 'bob@example.com', preferred_username: 'bob', groups: ['viewers'] },
  };
  const alpha = await startOidcIdp({ name: 'alpha', clients: [client], users, ...options.idp });
  const beta = await startOidcIdp({ name: 'beta', clients: [client], users, ...options.idp });
  const dir = mkdtempSync(join(tmpdir(), 'login-flow-'));
  const yaml = oidcServiceYaml({
    secret: SECRET,
    externalUrl: APP,
    dir,
    providers: options.onlyAlpha ? { alpha } : { alpha, beta },
    client: { client_id: client.client_id, client_secret: client.client_secret },
    scopes: PROFILE_SCOPES,
    security: { oidc: { 'groups-claim-path': 'groups' } },
    authz: { 'kestra-rules': false, default: 'authenticated', rules: [{ match: { path: '/public/**' }, allow: 'public' }] },
  }) + (options.extraYaml ?? '');
  const config = parseConfig(yaml, 'login-harness.yaml', {}, dir);
  const usersStore = openUsersStore(config.users);
  await usersStore.create({ username: 'carol', passwordHash: await hashPassword('carol-password'), admin: false, groups: ['basic-team'] });
  let offset = 0;
  const now = () => Date.now() + offset;
  const lockout = new LockoutTracker({ ...config.lockout, now });
  const providerCache = createOidcProviderCache();
  const flow = createLoginFlow(config, { providers: providerCache.providersFor(config), usersStore, lockout, now });
  const basic = new BasicAuthenticator({ store: usersStore, lockout, enabled: config.basicAuth.enabled });
  const engine = createEngine(config, {
    authenticators: [flow.sessionAuthenticator, basic],
    flow: flow.flow,
    loginRedirect: flow.loginRedirect,
  });
  return {
    alpha,
    beta,
    config,
    yaml,
    engine,
    flow,
    users: usersStore,
    providerCache,
    advance: (ms) => void (offset += ms),
    now,
    browser: () => new Browser(engine),
    async close() {
      await alpha.stop();
      await beta.stop();
      await usersStore.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const NAVIGATE = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8', 'sec-fetch-mode': 'navigate' };

/** Set-Cookie lines of a decision, parsed. */
export function setCookies(d: Decision): { name: string; value: string; attributes: string; line: string }[] {
  return d.responseHeaders
    .filter(([n]) => n === 'set-cookie')
    .map(([, line]) => {
      const semi = line.indexOf(';');
      const pair = semi === -1 ? line : line.slice(0, semi);
      const eq = pair.indexOf('=');
      return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes: semi === -1 ? '' : line.slice(semi + 1), line };
    });
}

export function header(d: Decision, name: string): string | undefined {
  return d.responseHeaders.find(([n]) => n === name)?.[1];
}

/** Keeps cookies (by name; Path is ignored: every cookie is sent everywhere, the harsher case). */
export class Browser {
  readonly cookies = new Map<string, string>();
  readonly #engine: Engine;
  constructor(engine: Engine) {
    this.#engine = engine;
  }

  async request(method: string, url: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Decision> {
    const target = new URL(url, APP);
    const headers: Record<string, string> = { ...NAVIGATE, ...init.headers };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
    const req = createAuthRequest({
      id: 'test',
      method,
      scheme: 'https',
      host: 'app.test',
      path: target.pathname + target.search,
      headers,
      body: init.body,
    });
    if (!req) throw new Error(`bad request path ${url}`);
    const decision = await this.#engine.decide(req);
    this.apply(decision);
    return decision;
  }

  apply(decision: Decision): void {
    for (const c of setCookies(decision)) {
      if (/max-age=0/i.test(c.attributes)) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
  }

  get(url: string, headers?: Record<string, string>): Promise<Decision> {
    return this.request('GET', url, { headers });
  }
}
