/**
 * The login flow's answers as Decisions (allow:false with the status, headers
 * and body the client must get), so they travel unchanged through the gRPC
 * door (a denied CheckResponse) and the HTTP door.
 */
import { createHash } from 'node:crypto';
import type { AuthRequest } from '../core/auth-request.js';
import { deniedDecision, NO_HEADERS, type Decision, type HeaderPair } from '../core/decision.js';
import type { ReasonCode } from '../core/reasons.js';
import { PAGE_STYLE } from './login-page.js';

const STYLE_HASH = createHash('sha256').update(PAGE_STYLE).digest('base64');

/** HTML pages: nothing external, no script, no framing, not cached. */
const HTML_HEADERS: readonly HeaderPair[] = Object.freeze([
  ['content-type', 'text/html; charset=utf-8'],
  ['cache-control', 'no-store'],
  ['content-security-policy', `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`],
  ['x-frame-options', 'DENY'],
  ['x-content-type-options', 'nosniff'],
  // Not `no-referrer`: that would make browsers send `Origin: null` on our own forms (CSRF check).
  ['referrer-policy', 'same-origin'],
] as const);

function decision(
  req: AuthRequest,
  status: number,
  reason: ReasonCode,
  message: string,
  headers: readonly HeaderPair[],
  body: string,
  step: string,
): Decision {
  return deniedDecision({
    status,
    reason,
    message,
    requestId: req.id,
    ruleId: 'login-flow',
    ruleLabel: `login flow: ${step}`,
    headers,
    body,
    metadata: { rule: 'login-flow', reason, flow: step },
  });
}

export function redirectTo(
  req: AuthRequest,
  location: string,
  cookies: readonly HeaderPair[],
  reason: ReasonCode,
  step: string,
  message = 'redirect',
): Decision {
  const headers: HeaderPair[] = [['location', location], ['cache-control', 'no-store'], ...cookies];
  return decision(req, 302, reason, message, headers, '', step);
}

export function htmlAnswer(
  req: AuthRequest,
  status: number,
  reason: ReasonCode,
  message: string,
  html: string,
  cookies: readonly HeaderPair[],
  step: string,
): Decision {
  return decision(req, status, reason, message, [...HTML_HEADERS, ...cookies], req.method === 'HEAD' ? '' : html, step);
}

/**
 * A page another site frames on purpose (the IdP's front-channel logout
 * iframe): no script, nothing external, not cached — but no frame-ancestors
 * limit, and nothing on it to click, so framing it gains an attacker nothing.
 */
const FRAMEABLE_HTML_HEADERS: readonly HeaderPair[] = Object.freeze([
  ['content-type', 'text/html; charset=utf-8'],
  ['cache-control', 'no-store'],
  ['content-security-policy', "default-src 'none'; base-uri 'none'; form-action 'none'"],
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'no-referrer'],
] as const);

export function frameableHtmlAnswer(
  req: AuthRequest,
  status: number,
  reason: ReasonCode,
  message: string,
  html: string,
  cookies: readonly HeaderPair[],
  step: string,
): Decision {
  return decision(req, status, reason, message, [...FRAMEABLE_HTML_HEADERS, ...cookies], req.method === 'HEAD' ? '' : html, step);
}

export function jsonAnswer(
  req: AuthRequest,
  status: number,
  reason: ReasonCode,
  message: string,
  doc: Readonly<Record<string, unknown>>,
  cookies: readonly HeaderPair[],
  step: string,
  extraHeaders: readonly HeaderPair[] = NO_HEADERS,
): Decision {
  const headers: HeaderPair[] = [['content-type', 'application/json'], ['cache-control', 'no-store'], ...extraHeaders, ...cookies];
  return decision(req, status, reason, message, headers, JSON.stringify(doc), step);
}

/** A JSON error document in the house shape `{error, message, requestId}`. */
export function jsonError(req: AuthRequest, status: number, reason: ReasonCode, message: string, step: string, extra: readonly HeaderPair[] = NO_HEADERS): Decision {
  return jsonAnswer(req, status, reason, message, { error: reason, message, requestId: req.id }, [], step, extra);
}
