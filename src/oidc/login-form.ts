/**
 * `GET /login`: the sign-in page (providers + Basic form).
 * `POST /login`: the Basic form (urlencoded) or JSON `{username, password}`,
 * checked with the users store and the brute-force lockout (the same
 * BasicAuthenticator as the `Authorization: Basic` path, so the same lock
 * applies to both), then a session cookie: 302 to the return path for the
 * form, 200 JSON for API clients. A failure says only "invalid user name or
 * password" (which user exists or is locked is not revealed).
 */
import { Buffer } from 'node:buffer';
import { newSessionId } from '../authn/session-cookie.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { Decision } from '../core/decision.js';
import type { FlowContext } from './flow-context.js';
import { FLOW_ANSWER, LOGIN_FAILED } from './flow-reasons.js';
import { htmlAnswer, jsonAnswer, jsonError, redirectTo } from './flow-responses.js';
import { renderLoginPage } from './login-page.js';
import { safeReturnPath } from './return-path.js';
import { contentType, isSameOrigin } from './same-origin.js';

const GENERIC_FAILURE = 'Invalid user name or password.';
const MAX_FIELD = 1024;

export function showLoginPage(ctx: FlowContext, req: AuthRequest, error?: string, username?: string, status = 200): Decision {
  const returnTo = safeReturnPath(new URLSearchParams(req.query).get('redirect'));
  const html = renderLoginPage({ providers: ctx.providers.names, basicForm: ctx.config.basicAuth.enabled, returnTo, error, username });
  return htmlAnswer(req, status, status === 200 ? FLOW_ANSWER : LOGIN_FAILED, status === 200 ? 'sign-in page' : 'login failed', html, [], 'login-page');
}

interface LoginFields {
  readonly username: string;
  readonly password: string;
  readonly redirect: string | null;
  readonly json: boolean;
}

function readFields(req: AuthRequest): LoginFields | undefined {
  const type = contentType(req);
  if (type === 'application/json') {
    let doc: unknown;
    try {
      doc = JSON.parse(req.body);
    } catch {
      return undefined;
    }
    if (doc === null || typeof doc !== 'object') return undefined;
    const { username, password, redirect } = doc as Record<string, unknown>;
    if (typeof username !== 'string' || typeof password !== 'string') return undefined;
    return { username, password, redirect: typeof redirect === 'string' ? redirect : null, json: true };
  }
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  const form = new URLSearchParams(req.body);
  const username = form.get('username');
  const password = form.get('password');
  if (username === null || password === null) return undefined;
  return { username, password, redirect: form.get('redirect'), json: false };
}

export async function submitLoginForm(ctx: FlowContext, req: AuthRequest): Promise<Decision> {
  if (!ctx.config.basicAuth.enabled) return jsonError(req, 404, LOGIN_FAILED, 'password sign-in is disabled', 'login-form');
  if (!isSameOrigin(req, ctx.config.externalUrl)) return jsonError(req, 403, LOGIN_FAILED, 'cross-site request refused', 'login-form');
  const fields = readFields(req);
  const wantsJson = fields?.json ?? contentType(req) === 'application/json';
  const refuse = (status: number, message: string, username?: string) =>
    wantsJson ? jsonError(req, status, status === 503 ? 'store_unavailable' : 'basic_bad_credentials', message, 'login-form') : showLoginPage(ctx, req, message, username, status);
  if (!fields || !fields.username || fields.username.includes(':') || fields.username.length > MAX_FIELD || fields.password.length > MAX_FIELD) {
    return refuse(fields ? 401 : 400, fields ? GENERIC_FAILURE : 'Send a user name and a password.');
  }
  // The Basic authenticator is reused as is (store, scrypt, lockout, cache) by presenting the form as a Basic header.
  const basic = `Basic ${Buffer.from(`${fields.username}:${fields.password}`, 'utf8').toString('base64')}`;
  const result = await ctx.basic.authenticate({ ...req, headers: { authorization: basic } });
  if (result.kind !== 'ok') {
    if (result.kind === 'fail' && result.reason === 'store_unavailable') return refuse(503, 'Sign-in is unavailable right now.', fields.username);
    return refuse(401, GENERIC_FAILURE, fields.username);
  }
  const nowSeconds = Math.floor(ctx.now() / 1000);
  const maxAge = ctx.config.cookie.maxAgeSeconds;
  const record = {
    sid: newSessionId(),
    provider: '',
    subject: result.identity.subject,
    name: result.identity.name,
    groups: [],
    expiresAt: nowSeconds + maxAge,
    // A later password change (or the user deleted) ends this session (session-authenticator.ts).
    credential: ctx.basic.credentialStampOf(result.identity),
  };
  const scope = ctx.sessionScope(req);
  const cookies = await ctx.sessions.write(record, scope, maxAge, req.cookies);
  if (req.cookies.has(ctx.refreshCookies.name)) cookies.push(ctx.refreshCookies.clear(scope));
  ctx.logger?.info({ user: record.name }, 'password login');
  const returnTo = safeReturnPath(fields.redirect);
  if (fields.json) return jsonAnswer(req, 200, FLOW_ANSWER, 'logged in', { username: record.name, redirect: returnTo }, cookies, 'login-form');
  return redirectTo(req, returnTo, cookies, FLOW_ANSWER, 'login-form', 'logged in');
}
