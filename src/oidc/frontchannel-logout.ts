/**
 * `GET /oauth/frontchannel-logout/{provider}?iss=…&sid=…` — OpenID Connect
 * Front-Channel Logout 1.0: the IdP's logout page loads this URL in an
 * iframe of the user's browser to say that its session `sid` ended.
 *
 * - `iss` + `sid`, `iss` the provider's issuer: every session whose ID token
 *   carried that `sid` ends, on every replica — through the SessionRevoker,
 *   the one mechanism back-channel logout uses too;
 * - `iss` of another issuer, or only one of the two: 400, nothing ends;
 * - neither: refused (400) unless the client is listed in
 *   `authz.oidc.frontchannel-logout-sid-optional-clients` (registered with
 *   `frontchannel_logout_session_required: false`); then only the session
 *   of the browser loading the page ends, if its cookies came along.
 *
 * Our cookies of the browser that loads the page are cleared — only when
 * its session is the one named (same provider, same IdP `sid`), so a link
 * anyone can make a browser load ends at most that one IdP session. In a
 * third-party iframe a browser sends no SameSite=Lax/Strict cookie and
 * ignores the Set-Cookie of the answer: there the sid revocation is what
 * logs the user out; the clearing only helps a top-level load.
 *
 * The answer is a fixed page (nothing from the request is reflected),
 * framable, `Cache-Control: no-store`; an unknown provider is a 404.
 */
import type { AuthRequest } from '../core/auth-request.js';
import type { Decision, HeaderPair } from '../core/decision.js';
import { SessionStoreUnavailableError, type SessionRevoker } from '../stores/session-revocations.js';
import { idpSidOf } from '../stores/stored-session.js';
import type { FlowContext } from './flow-context.js';
import { FLOW_ANSWER, LOGIN_FAILED } from './flow-reasons.js';
import { frameableHtmlAnswer, jsonError } from './flow-responses.js';

export const FRONTCHANNEL_LOGOUT_PREFIX = '/oauth/frontchannel-logout/';
const STEP = 'frontchannel-logout';
/** Bounds on what we accept (an IdP session id is short; an issuer is a URL). */
const MAX_SID_LENGTH = 512;
const MAX_ISS_LENGTH = 2048;

const PAGE = (text: string) => `<!doctype html><html><head><meta charset="utf-8"><title>${text}</title></head><body><p>${text}</p></body></html>`;
const LOGGED_OUT_PAGE = PAGE('Logged out');
const REFUSED_PAGE = PAGE('Logout request refused');
const UNKNOWN_PAGE = PAGE('Not found');

export interface FrontchannelLogoutDeps {
  readonly ctx: FlowContext;
  readonly revoker: SessionRevoker;
  /** Ends the session the request's cookies carry (logout of this browser only), on every replica the store reaches. */
  readonly endBrowserSession: (req: AuthRequest) => Promise<void>;
}

/** The browser's own session as this page sees it (only in a top-level load, or with SameSite=None cookies). */
interface BrowserSession {
  readonly provider: string;
  readonly idpSid?: string;
}

async function browserSession(ctx: FlowContext, req: AuthRequest): Promise<BrowserSession | undefined> {
  if (!req.cookies.has(ctx.sessions.name)) return undefined;
  const read = await ctx.sessions.read(req.cookies, Math.floor(ctx.now() / 1000));
  if (read.kind !== 'ok' && read.kind !== 'expired') return undefined;
  if (read.record.idpSid) return { provider: read.record.provider, idpSid: read.record.idpSid };
  const grant = await ctx.refreshCookies.read(req.cookies, read.record.sid);
  return { provider: read.record.provider, idpSid: idpSidOf(grant?.idToken) };
}

function refused(req: AuthRequest, description: string): Decision {
  return frameableHtmlAnswer(req, 400, LOGIN_FAILED, `front-channel logout refused: ${description}`, REFUSED_PAGE, [], STEP);
}

/** The one value of `name`, '' when absent, undefined when repeated or too long. */
function single(params: URLSearchParams, name: string, max: number): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) return undefined;
  const value = values[0] ?? '';
  return value.length <= max ? value : undefined;
}

export async function frontchannelLogout(deps: FrontchannelLogoutDeps, req: AuthRequest): Promise<Decision> {
  const { ctx } = deps;
  if (req.method !== 'GET' && req.method !== 'HEAD') return jsonError(req, 405, LOGIN_FAILED, 'method not allowed', STEP, [['allow', 'GET']]);
  const name = req.path.slice(FRONTCHANNEL_LOGOUT_PREFIX.length);
  const provider = name.includes('/') ? undefined : ctx.providers.get(name);
  if (!provider) return frameableHtmlAnswer(req, 404, LOGIN_FAILED, 'front-channel logout: unknown provider', UNKNOWN_PAGE, [], STEP);

  const params = new URLSearchParams(req.query);
  const iss = single(params, 'iss', MAX_ISS_LENGTH);
  const sid = single(params, 'sid', MAX_SID_LENGTH);
  if (iss === undefined || sid === undefined) return refused(req, 'iss and sid must appear at most once, within bounds');
  if ((iss === '') !== (sid === '')) return refused(req, 'iss and sid go together');
  const sidOptional = ctx.config.oidc.frontchannelLogoutSidOptionalClients.includes(provider.name);
  if (iss === '' && !sidOptional) return refused(req, 'iss and sid are required');
  // The configured issuer is the one discovery verified: no IdP round trip is needed to compare it.
  if (iss !== '' && iss !== provider.settings.issuer) {
    ctx.logger?.info({ provider: provider.name, problem: 'issuer_mismatch' }, 'front-channel logout refused');
    return refused(req, 'iss is not this provider\'s issuer');
  }

  try {
    // Read before revoking: with the Redis store the revocation deletes the session.
    const own = await browserSession(ctx, req);
    const ownIsNamed = own !== undefined && own.provider === provider.name && (sid === '' || own.idpSid === sid);
    if (sid !== '') {
      await deps.revoker.revoke({ provider: provider.name, sid });
    } else if (ownIsNamed) {
      await deps.endBrowserSession(req);
    }
    ctx.logger?.info({ provider: provider.name, by: sid !== '' ? 'sid' : 'browser', browserCleared: ownIsNamed }, 'front-channel logout');
    const scope = ctx.sessionScope(req);
    const cookies: HeaderPair[] = ownIsNamed ? [...ctx.sessions.clear(scope, req.cookies), ctx.refreshCookies.clear(scope)] : [];
    return frameableHtmlAnswer(req, 200, FLOW_ANSWER, 'front-channel logout done', LOGGED_OUT_PAGE, cookies, STEP);
  } catch (err) {
    if (err instanceof SessionStoreUnavailableError) {
      return jsonError(req, 503, 'store_unavailable', 'the session store is unavailable', STEP, [['retry-after', '2']]);
    }
    throw err;
  }
}
