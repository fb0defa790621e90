/**
 * Every Prometheus instrument, created once (the only module-level singleton
 * the design allows). Label values are bounded: reason codes, results, modes,
 * configured issuer URLs and provider names — never users, paths or tokens.
 */
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });
// prom-client's three `*_total` gauges break the exposition conventions
// (`promtool check metrics`: "non-counter metrics should not have _total
// suffix") and only repeat sum(nodejs_active_handles) etc., so they go.
for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
  registry.removeSingleMetric(name);
}

const P = 'kestra_authz_';

type DecisionLabels = { result: string; reason: string; mode: string };

/**
 * Decisions are counted on every request, and prom-client's
 * labels(...).inc() builds and hashes the label set each time. The hot path
 * (countDecision) bumps a plain number per label set instead; the counter
 * takes the pending counts in its collect hook, which prom-client runs before
 * every read (a scrape, or get()). Label values are closed sets (result,
 * registered reason codes, door), so the map is bounded.
 */
const pendingDecisions = new Map<string, { readonly labels: DecisionLabels; count: number }>();

export const decisionsTotal = new client.Counter({
  name: `${P}decisions_total`,
  help: 'Authorization decisions by result (allow|deny|error), reason code and door (grpc|http|cli).',
  labelNames: ['result', 'reason', 'mode'] as const,
  registers: [registry],
  collect() {
    for (const pending of pendingDecisions.values()) {
      if (pending.count === 0) continue;
      this.inc(pending.labels, pending.count);
      pending.count = 0;
    }
  },
});

export function countDecision(result: 'allow' | 'deny' | 'error', reason: string, mode: string): void {
  const key = `${result} ${reason} ${mode}`;
  const pending = pendingDecisions.get(key);
  if (pending) pending.count++;
  else pendingDecisions.set(key, { labels: { result, reason, mode }, count: 1 });
}

export const decisionDuration = new client.Histogram({
  name: `${P}decision_duration_seconds`,
  help: 'Time spent in decide(), seconds.',
  labelNames: ['mode'] as const,
  buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  registers: [registry],
});

export const jwksFetchTotal = new client.Counter({
  name: `${P}jwks_fetch_total`,
  help: 'JWKS fetches by configured issuer and result (ok|error|timeout|invalid).',
  labelNames: ['issuer', 'result'] as const,
  registers: [registry],
});

export const jwksKeys = new client.Gauge({
  name: `${P}jwks_keys`,
  help: 'Keys currently held for each configured issuer.',
  labelNames: ['issuer'] as const,
  // serve --workers N: each worker fetches its own; the group shows the worker holding fewest (0 = one fails closed).
  aggregator: 'min',
  registers: [registry],
});

export const tokenCacheHits = new client.Counter({
  name: `${P}token_cache_hits_total`,
  help: 'Bearer tokens answered from the verified-token cache (positive or negative entry).',
  registers: [registry],
});

export const tokenCacheMisses = new client.Counter({
  name: `${P}token_cache_misses_total`,
  help: 'Bearer tokens that needed a signature verification.',
  registers: [registry],
});

export const oidcLoginsTotal = new client.Counter({
  name: `${P}oidc_logins_total`,
  help: 'OIDC logins by configured provider and result.',
  labelNames: ['provider', 'result'] as const,
  registers: [registry],
});

export const oidcRefreshTotal = new client.Counter({
  name: `${P}oidc_refresh_total`,
  help: 'Session refreshes at the provider by configured provider and result.',
  labelNames: ['provider', 'result'] as const,
  registers: [registry],
});

/**
 * Connections accepted on the HTTP door. A proxy that keeps its connections
 * alive (docs/recipes/keep-alive.md) adds a handful per worker; one that
 * opens a connection per check makes this follow the request rate.
 */
export const httpConnectionsTotal = new client.Counter({
  name: `${P}http_connections_total`,
  help: 'Connections accepted on the HTTP door (a proxy that reuses its connections adds few; one per check means no keep-alive).',
  registers: [registry],
});

export const basicAuthLockoutsTotal = new client.Counter({
  name: `${P}basic_auth_lockouts_total`,
  help: 'Basic-auth lockouts started after too many failed attempts.',
  registers: [registry],
});

export const configReloadsTotal = new client.Counter({
  name: `${P}config_reloads_total`,
  help: 'Configuration loads by result (success|failure).',
  labelNames: ['result'] as const,
  // serve --workers N: every worker loads the same file at the same moments; the group counts the loads once (the most any worker made).
  aggregator: 'max',
  registers: [registry],
});

export const configLastReloadSuccess = new client.Gauge({
  name: `${P}config_last_reload_success_timestamp_seconds`,
  help: 'Unix time of the last configuration that loaded successfully.',
  // serve --workers N: the stalest worker's (a reload that failed on one shows).
  aggregator: 'min',
  registers: [registry],
});

export const buildInfo = new client.Gauge({
  name: `${P}build_info`,
  help: 'Always 1; labels carry the version and the Node.js version.',
  aggregator: 'max',
  labelNames: ['version', 'node'] as const,
  registers: [registry],
});

export const auditDroppedTotal = new client.Counter({
  name: `${P}audit_dropped_total`,
  help: 'Audit log lines not written, by reason (buffer_full: the output was too slow; write_error: the file could not be written).',
  labelNames: ['reason'] as const,
  registers: [registry],
});
// Both series exist from the start (0), so a dashboard and an alert see them before the first drop.
auditDroppedTotal.labels('buffer_full').inc(0);
auditDroppedTotal.labels('write_error').inc(0);

/**
 * Shadow policy (docs/rules.md "Shadow rules"). Labels are bounded: verdicts are
 * `allow` or an HTTP status, rule ids come from the config, outcomes are a
 * closed set. Counted off the answer path (shadow-evaluator.ts), so the
 * plain labels().inc() is fine here.
 */
export const shadowEvaluationsTotal = new client.Counter({
  name: `${P}shadow_evaluations_total`,
  help: 'Requests seen by the shadow policy, by outcome: agree|disagree (compared), skipped (not a policy answer: bad credential, login flow, error), dropped (queue full), error (the shadow evaluation failed).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const shadowDisagreementsTotal = new client.Counter({
  name: `${P}shadow_disagreements_total`,
  help: 'Requests the shadow policy would have answered differently, by live and shadow verdict (allow or the HTTP status) and the shadow decision\'s rule id.',
  labelNames: ['live', 'shadow', 'rule'] as const,
  registers: [registry],
});

/** Closed set: who vouched for the caller ('none' = anonymous or refused before an identity was known). */
export const AUTH_METHODS = ['none', 'session', 'bearer', 'basic', 'mtls'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
const DECISION_RESULTS = ['allow', 'deny', 'error'] as const;
/** Pending counts per (auth method × result), taken by the collect hook as for decisions_total. */
const pendingByAuthMethod = new Float64Array(AUTH_METHODS.length * DECISION_RESULTS.length);

export const decisionsByAuthMethodTotal = new client.Counter({
  name: `${P}decisions_by_auth_method_total`,
  help: 'Authorization decisions by how the caller was authenticated (none|session|bearer|basic|mtls) and result (allow|deny|error).',
  labelNames: ['auth_method', 'result'] as const,
  registers: [registry],
  collect() {
    for (let m = 0; m < AUTH_METHODS.length; m++) {
      for (let r = 0; r < DECISION_RESULTS.length; r++) {
        const i = m * DECISION_RESULTS.length + r;
        if (pendingByAuthMethod[i] === 0) continue;
        this.inc({ auth_method: AUTH_METHODS[m]!, result: DECISION_RESULTS[r]! }, pendingByAuthMethod[i]!);
        pendingByAuthMethod[i] = 0;
      }
    }
  },
});

export function countDecisionByAuthMethod(method: AuthMethod, result: 'allow' | 'deny' | 'error'): void {
  const m = AUTH_METHODS.indexOf(method);
  pendingByAuthMethod[(m === -1 ? 0 : m) * DECISION_RESULTS.length + DECISION_RESULTS.indexOf(result)]!++;
}

/**
 * Signed identity tokens handed to upstreams (authz.identity-token), by
 * source: `minted` (signed now) or `cached` (a token of the same identity ×
 * audience × rule × tenant reused before its renewal time). Pending counts
 * taken by the collect hook, as for decisions_total: the cached path is the
 * hot path.
 */
const pendingIdentityTokens = { minted: 0, cached: 0 };

export const identityTokensTotal = new client.Counter({
  name: `${P}identity_tokens_total`,
  help: 'Signed identity tokens set on allowed requests, by source (minted: signed now; cached: reused before its renewal).',
  labelNames: ['source'] as const,
  registers: [registry],
  collect() {
    for (const source of ['minted', 'cached'] as const) {
      if (pendingIdentityTokens[source] === 0) continue;
      this.inc({ source }, pendingIdentityTokens[source]);
      pendingIdentityTokens[source] = 0;
    }
  },
});
// Both series exist from the start, so the cached share can be graphed before the first mint.
identityTokensTotal.labels('minted').inc(0);
identityTokensTotal.labels('cached').inc(0);

export function countIdentityToken(source: 'minted' | 'cached'): void {
  pendingIdentityTokens[source]++;
}
