/**
 * The demo's OpenID Provider: `oidc-provider` on plain http://127.0.0.1
 * with one confidential client (kestra-authz), the demo users, and our own
 * small sign-in interaction that really checks passwords (the package's
 * devInteractions would accept any name with any password). Consent is given
 * on the user's behalf: kestra-authz is a first-party client here.
 *
 * Plain http keeps the browser flow free of certificate warnings; the relying
 * side accepts it only because the demo config sets
 * `authz.oidc.allow-insecure-http-issuers: true`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import type { DemoUser } from './demo-users.js';
import { renderIdpLoginPage, renderIdpLogoutPage, renderIdpProblemPage } from './idp-login-page.js';
import { listenOnPreferredPort } from './ports.js';

export interface DemoClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris: readonly string[];
}

export interface DemoIdpOptions {
  /** Preferred port (0 = any); falls back to a free one. */
  readonly port: number;
  readonly users: readonly DemoUser[];
  /** The client is registered once the issuer URL is known (the redirect URIs may depend on other ports). */
  readonly client: DemoClient;
}

export interface DemoIdp {
  readonly issuer: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Thrown when the optional dev dependency is absent (`npm ci --omit=dev`). */
export class OidcProviderMissingError extends Error {
  constructor() {
    super("the demo's IdP needs the 'oidc-provider' package, a devDependency of kestra-authz: run `npm ci` (without --omit=dev / NODE_ENV=production) and try again");
    this.name = 'OidcProviderMissingError';
  }
}

/** The slice of oidc-provider's API used here (the package ships no types). */
interface Interaction {
  readonly uid: string;
  readonly prompt: { readonly name: string; readonly details: Record<string, unknown> };
  readonly params: Record<string, unknown>;
  readonly session?: { readonly accountId?: string };
  readonly grantId?: string;
}
interface GrantInstance {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: readonly string[]): void;
  addResourceScope(indicator: string, scope: string): void;
  save(): Promise<string>;
}
interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: { new (init: { accountId: string; clientId: string }): GrantInstance; find(id: string): Promise<GrantInstance | undefined> };
  on(event: string, listener: (...args: unknown[]) => void): void;
}
/** The part of Koa's context the page hooks set. */
interface KoaContext { type: string; body: unknown }
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

async function loadProvider(): Promise<ProviderConstructor> {
  // A variable name keeps TypeScript from resolving the untyped package.
  const moduleName = 'oidc-provider';
  try {
    const mod = (await import(moduleName)) as { default: ProviderConstructor };
    return mod.default;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') throw new OidcProviderMissingError();
    throw err;
  }
}

const CLAIMS_BY_SCOPE = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username'],
  groups: ['groups'],
};

const INTERACTION_PATH = /^\/interaction\/([A-Za-z0-9_-]{1,64})(\/login|\/abort)?$/;
const FORM_LIMIT = 8 * 1024;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time check; an unknown name costs the same comparison as a known one. */
function checkPassword(users: readonly DemoUser[], login: string, password: string): DemoUser | undefined {
  const user = users.find((u) => u.login === login);
  const expected = digest(user ? user.password : `unknown-user\0${login}`);
  const same = timingSafeEqual(expected, digest(password));
  return user && same ? user : undefined;
}

function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  return new Promise((resolve, reject) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > FORM_LIMIT) {
        req.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
  }).end(html);
}

export async function startDemoIdp(options: DemoIdpOptions): Promise<DemoIdp> {
  const Provider = await loadProvider();
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createServer((req, res) => (handle ? handle(req, res) : res.writeHead(503).end()));
  const port = await listenOnPreferredPort(server, options.port);
  const issuer = `http://127.0.0.1:${port}`;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'demo-idp-1', alg: 'RS256', use: 'sig' };
  const users = new Map(options.users.map((u) => [u.login, u]));

  const provider = new Provider(issuer, {
    clients: [{
      client_id: options.client.clientId,
      client_secret: options.client.clientSecret,
      redirect_uris: [...options.client.redirectUris],
      post_logout_redirect_uris: [...options.client.postLogoutRedirectUris],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }],
    async findAccount(_ctx: unknown, id: string) {
      const user = users.get(id);
      if (!user) return undefined;
      return {
        accountId: id,
        claims: async () => ({
          sub: id, preferred_username: user.login, name: user.name, email: user.email, email_verified: true, groups: [...user.groups],
        }),
      };
    },
    jwks: { keys: [signingKey] },
    claims: CLAIMS_BY_SCOPE,
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    // Scope claims in the ID token too, as Keycloak and Dex do: kestra-authz reads groups from it.
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      // Our own pages: the package's defaults load web fonts from the internet.
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: KoaContext, form: string) => { ctx.type = 'html'; ctx.body = renderIdpLogoutPage(form); },
        postLogoutSuccessSource: (ctx: KoaContext) => { ctx.type = 'html'; ctx.body = renderIdpProblemPage('Signed out', 'You are signed out of the demo IdP.'); },
      },
    },
    renderError: (ctx: KoaContext, out: { error?: string; error_description?: string }) => {
      ctx.type = 'html';
      ctx.body = renderIdpProblemPage('Demo IdP: request refused', `${out.error ?? 'error'}: ${out.error_description ?? ''}`);
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async () => true,
    ttl: {
      AccessToken: 3600, IdToken: 3600, RefreshToken: 86_400, AuthorizationCode: 60,
      Interaction: 600, Session: 86_400, Grant: 86_400,
    },
    // Browsers keep cookies per host, not per port: prefixed names never meet kestra-authz's own on 127.0.0.1.
    cookies: {
      names: { session: 'demo_idp_session', interaction: 'demo_idp_interaction', resume: 'demo_idp_resume' },
      keys: [randomBytes(32).toString('base64url')],
    },
  });

  const interactionHandler = async (req: IncomingMessage, res: ServerResponse, action: string | undefined): Promise<void> => {
    let interaction: Interaction;
    try {
      interaction = await provider.interactionDetails(req, res);
    } catch {
      req.resume();
      sendHtml(res, 400, renderIdpProblemPage('Sign-in expired', 'This sign-in page is no longer valid. Go back to the application and start again.'));
      return;
    }
    const base = `/interaction/${interaction.uid}`;
    const logins = options.users.map((u) => u.login);

    if (action === '/abort' && req.method === 'GET') {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled the sign-in' }, { mergeWithLastSubmission: false });
      return;
    }
    if (action === '/login' && req.method === 'POST') {
      const form = await readForm(req);
      const login = form?.get('login') ?? '';
      const user = checkPassword(options.users, login, form?.get('password') ?? '');
      if (!user) {
        sendHtml(res, 401, renderIdpLoginPage({ action: `${base}/login`, abort: `${base}/abort`, login, logins, error: 'Wrong user name or password.' }));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: user.login } }, { mergeWithLastSubmission: false });
      return;
    }
    if (action !== undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      req.resume();
      res.writeHead(405, { allow: action === '/login' ? 'POST' : 'GET' }).end();
      return;
    }
    if (interaction.prompt.name === 'login') {
      sendHtml(res, 200, renderIdpLoginPage({ action: `${base}/login`, abort: `${base}/abort`, logins }));
      return;
    }
    if (interaction.prompt.name === 'consent' && interaction.session?.accountId) {
      await provider.interactionFinished(req, res, { consent: { grantId: await grantEverythingAsked(provider, interaction) } }, { mergeWithLastSubmission: true });
      return;
    }
    sendHtml(res, 400, renderIdpProblemPage('Cannot continue', `The demo IdP does not handle the "${interaction.prompt.name}" step.`));
  };

  const providerHandler = provider.callback();
  handle = (req, res) => {
    const match = INTERACTION_PATH.exec((req.url ?? '/').split('?')[0]!);
    if (!match) {
      providerHandler(req, res);
      return;
    }
    interactionHandler(req, res, match[2]).catch(() => {
      if (!res.headersSent) sendHtml(res, 500, renderIdpProblemPage('Sign-in failed', 'The demo IdP hit an unexpected error.'));
      else res.destroy();
    });
  };

  return {
    issuer,
    port,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** The consent a first-party client gets without asking: the scopes and claims it requested. */
async function grantEverythingAsked(provider: ProviderInstance, interaction: Interaction): Promise<string> {
  const details = interaction.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  const grant = interaction.grantId
    ? (await provider.Grant.find(interaction.grantId)) ?? newGrant(provider, interaction)
    : newGrant(provider, interaction);
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  return grant.save();
}

function newGrant(provider: ProviderInstance, interaction: Interaction): GrantInstance {
  return new provider.Grant({ accountId: interaction.session!.accountId!, clientId: String(interaction.params.client_id) });
}
