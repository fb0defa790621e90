/**
 * The running service's one mutable reference: the current Engine (built
 * from one config snapshot). Doors read `runtime.engine` once per request, so
 * a reload swaps it atomically between requests while in-flight decisions
 * finish on the engine they started with. Also the one place a door's
 * decision is timed, logged and counted.
 */
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { Engine } from '../core/decide.js';
import type { Decision } from '../core/decision.js';
import { errorDenial } from '../core/respond.js';
import { countDecision, countDecisionByAuthMethod, decisionDuration } from '../observability/metrics.js';
import type { DecisionSpan, DecisionTracer } from '../observability/tracing.js';
import type { ShadowEvaluator } from './shadow-evaluator.js';
import type { IdentityKeyRing } from '../identity/key-ring.js';

export type DoorMode = 'grpc' | 'http' | 'cli';

export interface Runtime {
  engine: Engine;
  /**
   * The shadow policy beside `engine` (shadow-evaluator.ts); undefined when
   * none is configured. A reload replaces both in the same turn.
   */
  shadow?: ShadowEvaluator;
  readonly logger: Logger;
  /** True once config and stores are ready; drives gRPC health and /readyz. */
  ready: boolean;
  /** Decision spans (authz.tracing); undefined when tracing is off, the default. */
  readonly tracer?: DecisionTracer;
  /** The decision audit log (authz.audit); undefined when off, the default. */
  readonly audit?: AuditLog;
  /** The identity token's keys, served at /.well-known/jwks.json while authz.identity-token is enabled. */
  readonly identityKeys?: IdentityKeyRing;
}

/** The key ring to publish now: undefined while the current config has the identity token off. */
export function publishedKeys(runtime: Pick<Runtime, 'engine' | 'identityKeys'>): IdentityKeyRing | undefined {
  return runtime.engine.config.identityToken?.enabled === true ? runtime.identityKeys : undefined;
}

const NS_PER_S = 1e9;

/** One label object per door, made once (prom-client would build one per observation from labels()). */
const DURATION_LABELS: Readonly<Record<DoorMode, { mode: DoorMode }>> = {
  grpc: Object.freeze({ mode: 'grpc' }),
  http: Object.freeze({ mode: 'http' }),
  cli: Object.freeze({ mode: 'cli' }),
};

/**
 * Decides, never throws: an unexpected failure becomes a 500 denial (never an allow).
 * A plain Decision when the engine answered at once (a cached token), else a
 * promise of one — so the hot path pays no promise hop.
 * `callTrace` gives the trace context of the call itself when the door has
 * one apart from the request's headers (Envoy sends its own span's context as
 * gRPC metadata of the Check call); only read when tracing is on.
 */
export function decideAtDoor(
  runtime: Runtime,
  req: AuthRequest,
  mode: DoorMode,
  callTrace?: () => Readonly<Record<string, string>> | undefined,
): Decision | Promise<Decision> {
  const started = process.hrtime.bigint();
  // Read with the engine, in the same turn: the pair a reload swapped in together.
  const shadow = runtime.shadow;
  const tracer = runtime.tracer;
  const span = tracer === undefined ? undefined : tracer.startDecision(req, mode, callTrace?.());
  let outcome: Decision | Promise<Decision>;
  try {
    outcome = runtime.engine.decide(req);
  } catch (err) {
    return finishDecision(runtime, shadow, req, mode, started, span, failedDecision(runtime, req, err));
  }
  // Closures only on the asynchronous path; a synchronous answer allocates none.
  return outcome instanceof Promise
    ? outcome.then(
      (decision) => finishDecision(runtime, shadow, req, mode, started, span, decision),
      (err: unknown) => finishDecision(runtime, shadow, req, mode, started, span, failedDecision(runtime, req, err)),
    )
    : finishDecision(runtime, shadow, req, mode, started, span, outcome);
}

function failedDecision(runtime: Runtime, req: AuthRequest, err: unknown): Decision {
  runtime.logger.error({ requestId: req.id, err: errorSummary(err) }, 'decision failed');
  return errorDenial(req.id, 'internal_error', 'internal error while deciding; request refused');
}

/** Times, counts, logs (and audits) and ends the span of one decision; hands it to the shadow policy when there is one. */
function finishDecision(
  runtime: Runtime,
  shadow: ShadowEvaluator | undefined,
  req: AuthRequest,
  mode: DoorMode,
  started: bigint,
  span: DecisionSpan | undefined,
  decision: Decision,
): Decision {
  const seconds = Number(process.hrtime.bigint() - started) / NS_PER_S;
  decisionDuration.observe(DURATION_LABELS[mode], seconds);
  const result = decision.allow ? 'allow' : decision.status >= 500 ? 'error' : 'deny';
  countDecision(result, decision.reason, mode);
  countDecisionByAuthMethod(decision.identity?.via ?? 'none', result);
  logDecision(runtime.logger, req, decision, mode);
  if (runtime.audit !== undefined) runtime.audit.record(runtime.engine.config, req, decision, mode);
  if (runtime.tracer !== undefined) runtime.tracer.endDecision(span, req, decision);
  // Queued: decided by the shadow policy after this answer went out.
  if (shadow !== undefined) shadow.observe(req, decision);
  return decision;
}

/**
 * A door's own refusal of a request it cannot turn into an AuthRequest (no
 * HTTP attributes, a path that is not absolute or is ambiguous, bytes that
 * are not a CheckRequest) or will not decode now (overloaded): never
 * decided, but counted with the decisions so a flood of them shows.
 */
export function countDoorRefusal(mode: DoorMode, reason: 'bad_request' | 'overloaded'): void {
  countDecision('deny', reason, mode);
}

/** Error name/code/message only — never the stack's arguments or a request value. */
export function errorSummary(err: unknown): Record<string, string> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { message: String(err) };
}

/**
 * One line per decision: denials at info (an audit trail operators want),
 * allows at debug (volume). The path is logged without its query string
 * (which can carry codes or tokens); no header or cookie value is logged.
 */
function logDecision(logger: Logger, req: AuthRequest, d: Decision, mode: DoorMode): void {
  const level = d.allow ? 'debug' : d.status >= 500 ? 'warn' : 'info';
  if (!logger.isLevelEnabled(level)) return;
  logger[level]({
    requestId: req.id,
    mode,
    method: req.method,
    host: req.host,
    path: req.path,
    status: d.status,
    reason: d.reason,
    rule: d.ruleId,
    user: d.identity?.name,
    via: d.identity?.via,
    source: req.sourceAddress || undefined,
  }, d.allow ? 'allow' : 'deny');
}
