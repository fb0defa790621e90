/**
 * `kestra-authz audit replay LOG… --config NEW`: re-decides every logged
 * decision under NEW, for the identity the log names (given beside the
 * request: the engine `serve` builds, no credential re-checked, no network),
 * and prints the decisions that would change. Exit 0 when none would, 1
 * when some would, 2 on bad input (unreadable log, broken record, bad config).
 */
import { parseArgs } from 'node:util';
import type { AuditRecord } from '../audit/audit-line.js';
import { readAuditLog } from '../audit/read-audit-log.js';
import { GivenIdentities } from '../authn/given-identity.js';
import { createAuthRequest } from '../core/auth-request.js';
import type { Decision } from '../core/decision.js';
import { AuthzError, ConfigError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { loadConfigFile } from '../config/load-config.js';
import { createLogger } from '../observability/logger.js';
import { buildEngine, createEngineServices } from '../server/build-engine.js';
import type { CliIo } from './main.js';

/** The login flow's own endpoints answer with the flow, not the policy: not replayed. */
const FLOW_RULE = 'login-flow';

/** What a browser opening a page sends, or what an API client sends: the headers that pick 302 over 401. */
const BROWSER_HEADERS = Object.freeze({ accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' });
const API_HEADERS = Object.freeze({ accept: 'application/json' });

/** Logged values come from clients and tokens: no control character reaches the terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

function verdictOf(allow: boolean, status: number, rule: string): string {
  return `${allow ? 'allow' : 'deny'} ${status} ${rule || '(no rule)'}`;
}

function identityOf(record: AuditRecord): Identity | undefined {
  const id = record.identity;
  if (id === undefined) return undefined;
  return {
    via: id.via as Identity['via'],
    subject: id.subject,
    name: id.name,
    groups: id.groups,
    ...(id.issuer === undefined ? {} : { issuer: id.issuer }),
    ...(id.provider === undefined ? {} : { provider: id.provider }),
    ...(id.tenant === undefined ? {} : { tenant: id.tenant }),
    ...(id.admin === true ? { admin: true } : {}),
  };
}

/**
 * The logged path, and for a search the namespaces it was bounded to as one
 * `filters[namespace][IN]` filter: the same namespaces to check as the
 * original query (the query string itself is not in the log).
 */
function replayedPath(record: AuditRecord): string {
  const searched = record.searchNamespaces;
  if (searched === undefined || searched === null || searched.length === 0) return record.path;
  return `${record.path}?filters%5Bnamespace%5D%5BIN%5D=${searched.map(encodeURIComponent).join(',')}`;
}

function changed(record: AuditRecord, decision: Decision): boolean {
  return record.status !== decision.status || (record.verdict === 'allow') !== decision.allow || record.rule !== decision.ruleId;
}

export async function runAuditReplay(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new AuthzError('ERR_CLI_USAGE', `audit replay: ${(err as Error).message}`);
  }
  const files = parsed.positionals;
  const configPath = parsed.values.config;
  if (files.length === 0) throw new AuthzError('ERR_CLI_USAGE', 'audit replay: give at least one audit log file (audit replay LOG… --config NEW)');
  if (!configPath) throw new AuthzError('ERR_CLI_USAGE', 'audit replay: --config NEW is required (the config to replay the log under)');

  let config;
  try {
    config = await loadConfigFile(configPath, process.env);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof AuthzError) {
      io.stderr(err.message);
      return 2;
    }
    throw err;
  }
  // Replayed requests carry no cookie and the login-flow lines are skipped, so the sessions
  // store is never asked: the cookie store stands in for a Redis one, which would connect.
  if (config.sessions.store !== 'cookie') config = Object.freeze({ ...config, sessions: Object.freeze({ store: 'cookie' as const }) });
  const services = createEngineServices(config, createLogger('silent'));
  const given = new GivenIdentities();
  // No warmUp: nothing is fetched; given identities never reach a store or an issuer.
  const engine = buildEngine(config, services, services.jwks, { givenIdentities: given });
  let replayed = 0;
  let changes = 0;
  let skipped = 0;
  try {
    for (const file of files) {
      for await (const { file: name, line, record } of readAuditLog(file)) {
        // The flow's own answers, and failures of a dependency (an IdP, JWKS or store down): not policy decisions.
        if (record.rule === FLOW_RULE || record.status >= 500) {
          skipped++;
          continue;
        }
        const req = createAuthRequest({
          id: record.requestId,
          method: record.method,
          host: record.host,
          path: replayedPath(record),
          headers: { ...(record.browser ? BROWSER_HEADERS : API_HEADERS) },
          // A workload logged as `via mtls` was the mTLS peer: its rules' `principals` see it again.
          ...(record.identity?.via === 'mtls' ? { peerPrincipal: record.identity.name } : {}),
        });
        if (!req) throw new AuthzError('ERR_AUDIT_LOG', `${name}:${line}: the logged path cannot be decided`);
        const identity = identityOf(record);
        if (identity !== undefined) given.give(req, identity);
        const decision = await engine.decide(req);
        replayed++;
        if (!changed(record, decision)) continue;
        changes++;
        const who = identity === undefined ? 'anonymous' : `${identity.name} (${identity.via})`;
        io.stdout(printable(`${name}:${line} ${record.method} ${record.route ?? record.path} as ${who}: `
          + `${verdictOf(record.verdict === 'allow', record.status, record.rule)} → ${verdictOf(decision.allow, decision.status, decision.ruleId)}`
          + `${decision.allow ? '' : ` (${decision.reason})`} [request ${record.requestId || '-'}, path ${record.path}]`));
      }
    }
  } catch (err) {
    if (err instanceof AuthzError && err.code === 'ERR_AUDIT_LOG') {
      io.stderr(`error: ${err.message}`);
      return 2;
    }
    throw err;
  } finally {
    await services.close();
  }
  if (replayed === 0 && skipped === 0) {
    io.stderr('error: no audit records found in the given files');
    return 2;
  }
  io.stdout(`${replayed} decisions replayed, ${changes} would change${skipped ? ` (${skipped} not replayed: login-flow endpoints, 5xx failures)` : ''}`);
  return changes === 0 ? 0 : 1;
}
