/**
 * Shadow evaluation (docs/rules.md "Shadow rules"): every request the live engine
 * answered is decided again by the shadow policy, after the answer went out,
 * and each disagreement is counted and logged. The shadow engine is built
 * with createEngine and one authenticator only, the identity the live
 * decision authenticated (GivenIdentities): no credential is checked again,
 * no login flow runs, nothing is refreshed, counted towards a lockout or read
 * from a store. It shares the live engine's login redirect (a pure function
 * for an anonymous browser navigation), so an anonymous page request
 * compares 302 with 302.
 *
 * What is compared: decisions the policy made. A live decision on a bad
 * credential (401 token_*, session_*, basic_*), an answer of the login flow
 * (our own endpoints), a dependency failure or a bad request is `skipped`:
 * not a policy question. A request the live policy answered without
 * authenticating (a public or deny rule, no credential) is decided by the
 * shadow as anonymous.
 */
import type { Logger } from 'pino';
import { GivenIdentities } from '../authn/given-identity.js';
import { compileRouteTable, matchRoute } from '../authz/route-table.js';
import type { Config } from '../config/types.js';
import type { AuthRequest } from '../core/auth-request.js';
import { createEngine, type Engine } from '../core/decide.js';
import type { Decision } from '../core/decision.js';
import type { Identity } from '../core/identity.js';
import type { ReasonCode } from '../core/reasons.js';
import type { RespondContext } from '../core/respond.js';
import { shadowDisagreementsTotal, shadowEvaluationsTotal } from '../observability/metrics.js';

export interface ShadowEvaluator {
  /** Queues `req`, already answered with `live`, for the shadow policy; returns at once, never throws. */
  observe(req: AuthRequest, live: Decision): void;
}

/** Requests waiting for the shadow policy; beyond this (a burst the loop cannot keep up with) they are dropped and counted. */
export const MAX_SHADOW_QUEUE = 4096;

/** Live answers made for an authenticated identity. */
const IDENTIFIED: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['permitted', 'permission_denied', 'tenant_denied']);
/** Live answers made without an identity: no credential needed (public, deny) or none sent. */
const ANONYMOUS: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['public', 'rule_deny', 'no_credentials']);

/** The caller the shadow decides for: an identity, null = anonymous, undefined = not a policy answer (skipped). */
export function shadowCaller(live: Decision): Identity | null | undefined {
  if (IDENTIFIED.has(live.reason)) return live.identity;
  if (ANONYMOUS.has(live.reason)) return null;
  // The respond stage's login redirect of an anonymous browser navigation (not a failed session's).
  if (live.reason === 'login_redirect' && live.metadata.cause === 'no_credentials') return null;
  return undefined;
}

/** `allow`, or the HTTP status of the denial: a bounded label. */
export function verdictOf(d: Decision): string {
  return d.allow ? 'allow' : String(d.status);
}

export interface ShadowEvaluatorOptions {
  readonly loginRedirect?: RespondContext['loginRedirect'];
  readonly logger: Logger;
}

/**
 * The shadow policy's engine: the given identity (what the live decision
 * authenticated), then the engine's own mtls authenticator (a workload the
 * shadow policy names). Every stage answers at once.
 */
function shadowEngine(policy: Config, loginRedirect: RespondContext['loginRedirect'] | undefined): { engine: Engine; given: GivenIdentities } {
  const given = new GivenIdentities();
  return { engine: createEngine(policy, { authenticators: [given], loginRedirect: loginRedirect ?? undefined }), given };
}

/** What the shadow policy answers `req` (which the live policy answered with `live`), for `explain`. */
export type ShadowVerdict =
  | { readonly kind: 'decided'; readonly decision: Decision; readonly agrees: boolean }
  /** The live answer was no policy decision (a bad credential, the login flow, a dependency failure). */
  | { readonly kind: 'skipped' };

/** Undefined when `live` configures no shadow policy; decided exactly as the serving shadow evaluator decides. */
export function explainShadow(live: Config, req: AuthRequest, liveDecision: Decision, loginRedirect?: RespondContext['loginRedirect']): ShadowVerdict | undefined {
  if (live.shadow === undefined) return undefined;
  const caller = shadowCaller(liveDecision);
  if (caller === undefined) return { kind: 'skipped' };
  const { engine, given } = shadowEngine(live.shadow.policy, loginRedirect);
  const outcome = engine.decide(caller === null ? req : given.give(req, caller));
  if (outcome instanceof Promise) throw new Error('the shadow engine answered asynchronously');
  return { kind: 'decided', decision: outcome, agrees: liveDecision.allow === outcome.allow && liveDecision.status === outcome.status };
}

/** Undefined when `live` configures no shadow policy: then the door pays one undefined check. */
export function createShadowEvaluator(live: Config, options: ShadowEvaluatorOptions): ShadowEvaluator | undefined {
  const shadow = live.shadow;
  if (shadow === undefined) return undefined;
  const { engine, given } = shadowEngine(shadow.policy, options.loginRedirect);
  const routes = { live: compileRouteTable(live), shadow: compileRouteTable(shadow.policy) };
  const { logger } = options;
  const outcomes = {
    agree: shadowEvaluationsTotal.labels('agree'),
    disagree: shadowEvaluationsTotal.labels('disagree'),
    skipped: shadowEvaluationsTotal.labels('skipped'),
    dropped: shadowEvaluationsTotal.labels('dropped'),
    error: shadowEvaluationsTotal.labels('error'),
  };

  let queue: { req: AuthRequest; live: Decision }[] = [];
  // One child per label set, found without prom-client hashing its labels each time; bounded like the labels.
  const disagreements = new Map<string, { inc(): void }>();
  const countDisagreement = (live: string, shadowVerdict: string, rule: string): void => {
    const key = `${live}\u0000${shadowVerdict}\u0000${rule}`;
    let child = disagreements.get(key);
    if (child === undefined) {
      child = shadowDisagreementsTotal.labels(live, shadowVerdict, rule);
      disagreements.set(key, child);
    }
    child.inc();
  };

  // After the answers of this turn of the event loop went out: one setImmediate per batch.
  const flush = (): void => {
    const batch = queue;
    queue = [];
    for (const { req, live: decision } of batch) {
      // Never an uncaught exception out of a setImmediate: the shadow must not take the service down.
      try {
        evaluate(req, decision);
      } catch (err) {
        failed(req, err);
      }
    }
  };

  function failed(req: AuthRequest, err: unknown): void {
    outcomes.error.inc();
    logger.warn({ requestId: req.id, error: err instanceof Error ? err.message : String(err) }, 'shadow evaluation failed');
  }

  function evaluate(req: AuthRequest, liveDecision: Decision): void {
    const caller = shadowCaller(liveDecision);
    if (caller === undefined) {
      outcomes.skipped.inc();
      return;
    }
    let shadowDecision: Decision;
    try {
      const outcome = engine.decide(caller === null ? req : given.give(req, caller));
      // Only the given identity answers and there is no flow stage: always synchronous.
      if (outcome instanceof Promise) throw new Error('the shadow engine answered asynchronously');
      shadowDecision = outcome;
    } catch (err) {
      failed(req, err);
      return;
    }
    if (liveDecision.allow === shadowDecision.allow && liveDecision.status === shadowDecision.status) {
      outcomes.agree.inc();
      return;
    }
    outcomes.disagree.inc();
    disagreed(req, liveDecision, shadowDecision, caller);
  }

  function disagreed(req: AuthRequest, liveDecision: Decision, shadowDecision: Decision, caller: Identity | null): void {
    const liveVerdict = verdictOf(liveDecision);
    const shadowVerdict = verdictOf(shadowDecision);
    countDisagreement(liveVerdict, shadowVerdict, shadowDecision.ruleId);
    if (!logger.isLevelEnabled('info')) return;
    const liveMatch = matchRoute(routes.live, req.method, req.host, req.path, req.peerPrincipal);
    const shadowMatch = matchRoute(routes.shadow, req.method, req.host, req.path, req.peerPrincipal);
    // Templates and captures, never the raw path: its other segments and its query stay out of the log.
    logger.info({
      requestId: req.id,
      method: req.method,
      host: req.host,
      route: liveMatch.rule.path,
      tenant: liveMatch.tenant,
      namespace: liveMatch.namespace,
      user: caller?.name,
      via: caller?.via,
      live: side(liveDecision, liveVerdict, liveMatch.rule.path),
      shadow: side(shadowDecision, shadowVerdict, shadowMatch.rule.path),
    }, 'shadow disagreement');
  }

  return Object.freeze({
    observe(req: AuthRequest, liveDecision: Decision): void {
      if (queue.length >= MAX_SHADOW_QUEUE) {
        outcomes.dropped.inc();
        return;
      }
      if (queue.length === 0) setImmediate(flush);
      queue.push({ req, live: liveDecision });
    },
  });
}

function side(d: Decision, verdict: string, route: string): Record<string, string | undefined> {
  return {
    verdict,
    reason: d.reason,
    rule: d.ruleId,
    route,
    // A require rule's label is the permission it needs (as in the denial's JSON body).
    permission: d.reason === 'permission_denied' ? d.ruleLabel : undefined,
  };
}
