import type { Identity } from './identity.js';
import type { ReasonCode } from './reasons.js';

export type HeaderPair = readonly [name: string, value: string];

/**
 * The answer of decide(): plain data. Each door renders it into its own wire
 * format (CheckResponse, HTTP status + headers); no door re-decides anything.
 */
export interface Decision {
  readonly allow: boolean;
  /** 200 on allow; the HTTP status of the denial otherwise (302/400/401/403/500/503). */
  readonly status: number;
  readonly reason: ReasonCode;
  /** Human-readable, secret-free explanation (JSON body `message`). */
  readonly message: string;
  readonly requestId: string;
  /** Id and label of the route rule that matched ('' when none did, e.g. bad request). */
  readonly ruleId: string;
  readonly ruleLabel: string;
  readonly identity?: Identity;
  /** Allow only: headers set (overwritten) on the upstream request, sorted by name. */
  readonly upstreamHeaders: readonly HeaderPair[];
  /** Allow only: headers removed from the upstream request (lower-case). */
  readonly upstreamHeadersToRemove: readonly string[];
  /**
   * Deny: headers of the reply sent to the client (Location, WWW-Authenticate,
   * Set-Cookie…). Allow: headers added to the upstream's response (a refreshed
   * cookie). Several values of one name are several pairs.
   */
  readonly responseHeaders: readonly HeaderPair[];
  /** Deny only: the reply body (JSON error document), with its content type in responseHeaders. */
  readonly body: string;
  /** For Envoy dynamic metadata / access logs: user, groups, rule, reason. */
  readonly metadata: Readonly<Record<string, string>>;
}

export const NO_HEADERS: readonly HeaderPair[] = Object.freeze([]);
const NOTHING_TO_REMOVE: readonly string[] = Object.freeze([]);

/** What makes a denial; the rest of the Decision follows from it. */
export interface Denial {
  readonly status: number;
  readonly reason: ReasonCode;
  readonly message: string;
  readonly requestId: string;
  readonly ruleId: string;
  readonly ruleLabel: string;
  readonly identity?: Identity;
  readonly headers: readonly HeaderPair[];
  readonly body: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The one way a denial Decision is built (respond stage, login flow). */
export function deniedDecision(d: Denial): Decision {
  return {
    allow: false,
    status: d.status,
    reason: d.reason,
    message: d.message,
    requestId: d.requestId,
    ruleId: d.ruleId,
    ruleLabel: d.ruleLabel,
    identity: d.identity,
    upstreamHeaders: NO_HEADERS,
    upstreamHeadersToRemove: NOTHING_TO_REMOVE,
    responseHeaders: d.headers,
    body: d.body,
    metadata: d.metadata,
  };
}
