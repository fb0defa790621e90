/**
 * A real OpenID Provider for tests: `oidc-provider` served over HTTPS with the
 * throw-away certificate in test/fixtures/tls, its dev login and consent
 * forms, refresh tokens, RP-initiated logout, and counters of the grants it
 * served. Run the test process with
 * `NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem` so Node (and
 * openid-client) trust it.
 *
 * An `IdpAgent` plays a browser without a browser: its own cookie jar,
 * following redirects and posting the IdP's forms, stopping as soon as the IdP
 * sends it elsewhere (to the relying party's callback or post-logout page).
 *
 * Several IdPs may run at once on 127.0.0.1: browsers ignore ports for
 * cookies, so each IdP names its cookies after its own `name`.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

const TLS_DIR = fileURLToPath(new URL('../../../test/fixtures/tls/', import.meta.url));

/** Claims a test user gets (beyond `sub`, which is the login name). */
export type IdpUserClaims = Readonly<Record<string, unknown>>;

export interface IdpClient {
  readonly client_id: string;
  /** Absent for a public client (`token_endpoint_auth_method: none`) and private_key_jwt. */
  readonly client_secret?: string;
  readonly redirect_uris: readonly string[];
  readonly post_logout_redirect_uris?: readonly string[];
  /**
   * The registered method (default client_secret_basic). oidc-provider 9
   * accepts any method the client's credentials allow; `counts.authMethods`
   * tells which one each token request used.
   */
  readonly token_endpoint_auth_method?: string;
  /** The client's public keys, for private_key_jwt. */
  readonly jwks?: { readonly keys: readonly JWK[] };
  /**
   * With `backchannel_logout_session_required: true` oidc-provider puts its
   * session id (`sid`) in the ID tokens of this client — what front- and
   * back-channel logout name. (oidc-provider calls the URI only on its own
   * RP-initiated logout.)
   */
  readonly backchannel_logout_uri?: string;
  readonly backchannel_logout_session_required?: boolean;
}

export interface OidcIdpOptions {
  /** Port to listen on (default: any free port). */
  readonly port?: number;
  /** Short tag naming this IdP's cookies (default `op`); give each IdP of a test its own. */
  readonly name?: string;
  readonly clients: readonly IdpClient[];
  /** login → claims. Unknown logins still sign in, with `sub` only (devInteractions accepts any login). */
  readonly users?: Readonly<Record<string, IdpUserClaims>>;
  /** Access-token lifetime, seconds (default 3600). */
  readonly accessTokenTtl?: number;
  /** ID-token lifetime, seconds (default 3600). */
  readonly idTokenTtl?: number;
  /** Issue a refresh token with every code grant (default true). */
  readonly refresh?: boolean;
  /** Refresh tokens are one-time: every refresh returns a new one (default true). */
  readonly rotateRefreshTokens?: boolean;
  /** `token_endpoint_auth_methods_supported` (default: oidc-provider's, every method). */
  readonly clientAuthMethods?: readonly string[];
  /**
   * Scope claims (email, groups…) only from the userinfo endpoint, never in
   * the ID token, as many IdPs do (default false: in both).
   */
  readonly claimsOnlyInUserinfo?: boolean;
  /** Userinfo names another subject than the ID token (an IdP bug or attack; OIDC Core §5.3.2). */
  readonly userinfoSubject?: (login: string) => string;
}

export interface IdpCounts {
  /** Authorization-code grants (successful or not). */
  readonly token: number;
  /** Refresh-token grants (successful or not). */
  readonly refresh: number;
  readonly refreshFailed: number;
  /** Completed RP-initiated logouts. */
  readonly endSession: number;
  /** How the client authenticated at each successful token request, in order (client_secret_post, …). */
  readonly authMethods: readonly string[];
}

/** login → the IdP session id (`sid`) of that account's latest authorization-code grant. */
export type IdpSessionIds = ReadonlyMap<string, string>;

/** Where the IdP finally sent the agent: the relying party's URL, as GET or form_post. */
export interface IdpHandoff {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  /** application/x-www-form-urlencoded body for form_post, '' for GET. */
  readonly body: string;
}

export interface IdpAgent {
  /** Follows `authorizationUrl` through the login and consent forms to the redirect back to the client. */
  login(authorizationUrl: string, login: string): Promise<IdpHandoff>;
  /** Follows an end-session URL, confirms the logout, returns the post-logout redirect (or the IdP's own success page). */
  logout(endSessionUrl: string): Promise<IdpHandoff>;
  /** True while the agent holds an IdP session cookie. */
  readonly hasSession: boolean;
}

export interface OidcIdp {
  /** Issuer identifier (https://127.0.0.1:<port>). */
  readonly issuer: string;
  /** This IdP's own RS256 signing key (private JWK with `kid`): each IdP signs with a different key. */
  readonly signingKey: JWK;
  readonly url: string;
  readonly counts: IdpCounts;
  /** The IdP session of each login, as an IdP names it in a front-channel logout URL. */
  readonly sessionIds: IdpSessionIds;
  /** A fresh "browser" with its own cookie jar. */
  newAgent(): IdpAgent;
  /** `newAgent().login(…)`: one-off logins. */
  loginWith(authorizationUrl: string, login: string): Promise<IdpHandoff>;
  stop(): Promise<void>;
}

/** The slice of oidc-provider's API used here (the package ships no types). */
interface GrantContext {
  headers?: Record<string, string | undefined>;
  oidc?: { params?: Record<string, unknown>; body?: Record<string, unknown>; entities?: { AuthorizationCode?: { accountId?: string; sid?: string } } };
}
interface ProviderInstance {
  callback(): (req: unknown, res: unknown) => void;
  on(event: string, listener: (ctx: GrantContext) => void): void;
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

const STANDARD_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username', 'given_name', 'family_name'],
  groups: ['groups'],
  roles: ['realm_access', 'resource_access'],
};

export async function startOidcIdp(options: OidcIdpOptions): Promise<OidcIdp> {
  const moduleName = 'oidc-provider';
  const { default: Provider } = (await import(moduleName)) as { default: ProviderConstructor };
  const tag = options.name ?? 'op';
  const users = options.users ?? {};
  const counts = { token: 0, refresh: 0, refreshFailed: 0, endSession: 0, authMethods: [] as string[] };

  let handler: ((req: unknown, res: unknown) => void) | undefined;
  const server: Server = createServer(
    { cert: readFileSync(`${TLS_DIR}cert.pem`), key: readFileSync(`${TLS_DIR}key.pem`) },
    (req, res) => {
      if (options.userinfoSubject && req.url?.startsWith('/me')) rewriteUserinfoSubject(res, options.userinfoSubject);
      return handler ? handler(req, res) : res.writeHead(503).end();
    },
  );
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey: JWK = { ...(await exportJWK(privateKey)), kid: `${tag}-key-1`, alg: 'RS256', use: 'sig' };

  const provider = new Provider(issuer, {
    clients: options.clients.map((c) => ({
      ...c,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    })),
    async findAccount(_ctx: unknown, id: string) {
      return {
        accountId: id,
        claims: async () => ({ sub: id, ...(users[id] ?? {}) }),
      };
    },
    jwks: { keys: [signingKey] },
    claims: STANDARD_CLAIMS,
    scopes: ['openid', 'offline_access', ...Object.keys(STANDARD_CLAIMS).filter((s) => s !== 'openid')],
    // Scope claims in the ID token, as Keycloak and Dex do (unless only in userinfo).
    conformIdTokenClaims: options.claimsOnlyInUserinfo ?? false,
    ...(options.clientAuthMethods ? { clientAuthMethods: [...options.clientAuthMethods] } : {}),
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: options.clients.some((c) => c.backchannel_logout_uri !== undefined) },
    },
    issueRefreshToken: async () => options.refresh ?? true,
    rotateRefreshToken: () => options.rotateRefreshTokens ?? true,
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      IdToken: options.idTokenTtl ?? 3600,
      RefreshToken: 86_400,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 86_400,
      Grant: 86_400,
    },
    cookies: {
      names: { session: `${tag}_session`, interaction: `${tag}_interaction`, resume: `${tag}_interaction_resume` },
      keys: ['test-only-cookie-key-0123456789abcdef'],
    },
  });
  const sessionIds = new Map<string, string>();
  const countGrant = (failed: boolean) => (ctx: GrantContext) => {
    const grantType = ctx.oidc?.params?.grant_type;
    if (grantType === 'authorization_code') counts.token++;
    if (!failed) counts.authMethods.push(clientAuthMethodOf(ctx));
    const code = ctx.oidc?.entities?.AuthorizationCode;
    if (!failed && grantType === 'authorization_code' && code?.accountId && code.sid) sessionIds.set(code.accountId, code.sid);
    if (grantType === 'refresh_token') {
      counts.refresh++;
      if (failed) counts.refreshFailed++;
    }
  };
  provider.on('grant.success', countGrant(false));
  provider.on('grant.error', countGrant(true));
  provider.on('end_session.success', () => void counts.endSession++);
  handler = provider.callback();

  const newAgent = (): IdpAgent => createAgent(issuer, tag);
  return {
    issuer,
    signingKey,
    url: issuer,
    counts,
    sessionIds,
    newAgent,
    loginWith: (authorizationUrl, login) => newAgent().login(authorizationUrl, login),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** oidc-provider always answers userinfo with the account's own `sub`: the test rewrites it on the way out. */
function rewriteUserinfoSubject(res: ServerResponse, subject: (login: string) => string): void {
  const end = res.end.bind(res) as (chunk?: unknown, ...rest: unknown[]) => ServerResponse;
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if ((typeof chunk === 'string' || Buffer.isBuffer(chunk)) && !res.headersSent) {
      try {
        const body = JSON.parse(chunk.toString()) as { sub?: string };
        if (typeof body.sub === 'string') {
          const text = JSON.stringify({ ...body, sub: subject(body.sub) });
          res.setHeader('content-length', Buffer.byteLength(text));
          return end(text, ...rest);
        }
      } catch {
        // not JSON: left alone
      }
    }
    return end(chunk, ...rest);
  }) as ServerResponse['end'];
}

/** Which token-endpoint auth method a request used, read off the request itself. */
function clientAuthMethodOf(ctx: GrantContext): string {
  if (/^basic /i.test(ctx.headers?.authorization ?? '')) return 'client_secret_basic';
  const body = ctx.oidc?.body ?? {};
  if (typeof body.client_assertion === 'string') {
    let alg = '';
    try {
      alg = (JSON.parse(Buffer.from(body.client_assertion.split('.')[0]!, 'base64url').toString('utf8')) as { alg?: string }).alg ?? '';
    } catch {
      return 'unreadable client_assertion';
    }
    return alg.startsWith('HS') ? 'client_secret_jwt' : 'private_key_jwt';
  }
  return typeof body.client_secret === 'string' ? 'client_secret_post' : 'none';
}

const MAX_STEPS = 20;

function createAgent(issuer: string, tag: string): IdpAgent {
  const origin = new URL(issuer).origin;
  const jar = new Map<string, string>();

  const remember = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (expired) jar.delete(name);
      else jar.set(name, pair.slice(eq + 1).trim());
    }
  };
  const cookieHeader = () => [...jar].map(([n, v]) => `${n}=${v}`).join('; ');

  /** One request to the IdP, no automatic redirects. */
  const send = async (url: string, init: { method?: string; form?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { accept: 'text/html' };
    if (jar.size) headers.cookie = cookieHeader();
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    remember(res);
    return res;
  };

  /** Walks redirects and forms; `answer` fills the form the IdP shows, or returns undefined when it is not one we know. */
  const walk = async (start: string, answer: (html: string, url: string) => { action: string; form: Record<string, string> } | undefined) => {
    let next: { url: string; method?: string; form?: Record<string, string> } = { url: start };
    for (let step = 0; step < MAX_STEPS; step++) {
      if (new URL(next.url).origin !== origin) {
        return { url: next.url, method: 'GET', body: '' } satisfies IdpHandoff;
      }
      const res = await send(next.url, next);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        next = { url: new URL(location, next.url).toString() };
        continue;
      }
      const html = await res.text();
      if (res.status !== 200) throw new Error(`IdP answered ${res.status} at ${new URL(next.url).pathname}: ${html.slice(0, 300)}`);
      const formPost = parseFormPost(html);
      if (formPost && new URL(formPost.url, next.url).origin !== origin) return formPost;
      const filled = answer(html, next.url);
      if (!filled) return { url: next.url, method: 'GET', body: '' } satisfies IdpHandoff;
      next = { url: new URL(filled.action, next.url).toString(), method: 'POST', form: filled.form };
    }
    throw new Error('IdP: too many steps');
  };

  return {
    get hasSession() {
      return jar.has(`${tag}_session`);
    },
    login: (authorizationUrl, login) =>
      walk(authorizationUrl, (html): { action: string; form: Record<string, string> } | undefined => {
        const action = formAction(html);
        if (!action) return undefined;
        if (html.includes('name="login"')) return { action, form: { prompt: 'login', login, password: 'any' } };
        if (html.includes('value="consent"')) return { action, form: { prompt: 'consent' } };
        return undefined;
      }),
    logout: (endSessionUrl) =>
      walk(endSessionUrl, (html) => {
        const form = /<form[^>]*id="op\.logoutForm"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html)
          ?? /<form[^>]*action="([^"]+)"[^>]*id="op\.logoutForm"[^>]*>([\s\S]*?)<\/form>/.exec(html);
        if (!form) return undefined;
        return { action: decodeHtml(form[1]!), form: { ...hiddenInputs(form[2]!), logout: 'yes' } };
      }),
  };
}

function formAction(html: string): string | undefined {
  const match = /<form[^>]*action="([^"]+)"/.exec(html);
  return match ? decodeHtml(match[1]!) : undefined;
}

function hiddenInputs(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(m[0])?.[1];
    const value = /value="([^"]*)"/.exec(m[0])?.[1];
    if (name !== undefined) out[decodeHtml(name)] = decodeHtml(value ?? '');
  }
  return out;
}

/** The auto-submitting page of response_mode=form_post. */
function parseFormPost(html: string): IdpHandoff | undefined {
  const form = /<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form || !/name="(code|error)"/.test(form[2]!)) return undefined;
  return { url: decodeHtml(form[1]!), method: 'POST', body: new URLSearchParams(hiddenInputs(form[2]!)).toString() };
}

function decodeHtml(value: string): string {
  return value
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#x2F;/gi, '/')
    .replace(/&#x3D;/gi, '=');
}
