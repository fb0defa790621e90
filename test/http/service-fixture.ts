/**
 * The real service for HTTP-door tests: a config on free ports, Basic users
 * created with the real CLI, a real token issuer, and a login-flow stand-in
 * (the OIDC flow stage is another issue) answering /oauth/login/test (and
 * /ui/login-required, as the login hook would for a browser) with a 302 +
 * two Set-Cookie lines, the shape the real flow produces.
 * Every AuthRequest the engine sees is recorded, to check the door's
 * translation.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load-config.js';
import type { AuthRequest } from '../../src/core/auth-request.js';
import type { Engine } from '../../src/core/decide.js';
import type { Decision } from '../../src/core/decision.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

export const LOGIN_PATH = '/oauth/login/test';
/** A protected page for which the stand-in answers like the login hook for a browser: 302 to the IdP. */
export const LOGIN_REQUIRED_PATH = '/ui/login-required';
export const IDP_AUTHORIZE = 'https://idp.example.test/authorize?client_id=kestra';

export interface HttpFixture {
  readonly service: RunningService;
  readonly issuer: TokenIssuer;
  /** `http://127.0.0.1:<http door port>` */
  readonly door: string;
  /** Every AuthRequest decided so far (newest last). */
  readonly seen: AuthRequest[];
  /** When set, the engine throws for every request (to prove a failure is never an allow). */
  failing: boolean;
  basic(user: string, password: string): Record<string, string>;
  devToken(): Promise<string>;
  stop(): Promise<void>;
}

/** What the login flow answers for /oauth/login/test: a redirect to the IdP setting two cookies. */
function loginRedirect(req: AuthRequest): Decision {
  return {
    allow: false,
    status: 302,
    reason: 'login_redirect',
    message: 'redirect to the identity provider',
    requestId: req.id,
    ruleId: 'flow',
    ruleLabel: 'login flow',
    upstreamHeaders: [],
    upstreamHeadersToRemove: [],
    responseHeaders: [
      ['location', IDP_AUTHORIZE],
      ['set-cookie', 'OAUTH2_STATE_a=s1; Path=/; HttpOnly; SameSite=Lax'],
      ['set-cookie', 'OAUTH2_NONCE_a=n1; Path=/; HttpOnly; SameSite=Lax'],
      ['cache-control', 'no-store'],
    ],
    body: '',
    metadata: { reason: 'login_redirect' },
  };
}

export interface HttpFixtureOptions {
  /** `authz.http.forward-auth.trust`; the default (`auto`) when unset. */
  readonly trust?: string;
  /** `authz.http.keep-alive-timeout`; the default (75 s) when unset. */
  readonly keepAliveTimeout?: string;
}

export async function startHttpFixture(options: HttpFixtureOptions = {}): Promise<HttpFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-http-'));
  const issuer = await startTokenIssuer();
  await issuer.addKey('k1');
  const configPath = join(dir, 'config.yaml');
  const httpKeys = {
    ...(options.trust === undefined ? {} : { 'forward-auth': { trust: options.trust } }),
    ...(options.keepAliveTimeout === undefined ? {} : { 'keep-alive-timeout': options.keepAliveTimeout }),
  };
  const http = Object.keys(httpKeys).length === 0 ? undefined : httpKeys;
  await writeFile(configPath, bearerServiceYaml({ dir, issuer: issuer.issuer, http }));
  await createUsersWithCli(configPath,
    ['--username', 'ops', '--password', 'correct-horse-1', '--groups', 'kestra-devs'],
    ['visitor', 'visitor-pass-1']);
  const config = await loadConfigFile(configPath);
  const service = await startService(config, { logger: createLogger('silent') });

  const seen: AuthRequest[] = [];
  const real = service.runtime.engine;
  const fixture: HttpFixture = {
    service,
    issuer,
    door: `http://127.0.0.1:${service.httpPort}`,
    seen,
    failing: false,
    basic: (user, password) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }),
    devToken: () => issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } }),
    async stop() {
      await service.close();
      await issuer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  // The real engine, with the flow stand-in in front — the same shape createEngine gives a FlowStage.
  const engine: Engine = {
    config: real.config,
    async decide(req, trace) {
      seen.push(req);
      if (fixture.failing) throw new Error('engine failure for the test');
      if (req.path === LOGIN_PATH || req.path === LOGIN_REQUIRED_PATH) return loginRedirect(req);
      return real.decide(req, trace);
    },
  };
  service.runtime.engine = engine;
  return fixture;
}
