/**
 * Decides every case with the engine `serve` builds (buildEngine with
 * given identities: route → flow → authenticate → authorize → respond), then
 * compares each expectation given with the Decision. No second evaluator,
 * no network: the services are never warmed up, so a case that would need an
 * IdP or a JWKS (a real token in a header) is decided as the engine decides
 * it without one.
 */
import { GivenIdentities } from '../authn/given-identity.js';
import type { Config } from '../config/types.js';
import { createAuthRequest, type AuthRequest } from '../core/auth-request.js';
import type { Decision } from '../core/decision.js';
import { errorDenial } from '../core/respond.js';
import { createLogger } from '../observability/logger.js';
import { buildEngine, createEngineServices } from '../server/build-engine.js';
import { caseIdentity } from './case-identity.js';
import type { LoadedCase } from './load-cases.js';

/** One expectation that did not hold: the field, what the case expected, what the engine answered. */
export interface Mismatch {
  readonly field: string;
  readonly expected: string;
  readonly actual: string;
}

export interface CaseResult {
  readonly case: LoadedCase;
  readonly passed: boolean;
  readonly mismatches: readonly Mismatch[];
  /** The rule the engine matched ('' when none did, e.g. a path it refused as 400). */
  readonly ruleId: string;
}

function shown(value: string | number | null | undefined): string {
  if (value === undefined || value === null) return '(absent)';
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/**
 * What reaches the upstream after an allow: a header the decision sets has
 * its value; one it removes is absent; any other passes through as the
 * client sent it. After a denial nothing reaches the upstream.
 */
function upstreamHeader(decision: Decision, req: AuthRequest | undefined, name: string): string | undefined {
  if (!decision.allow) return undefined;
  for (const [k, v] of decision.upstreamHeaders) if (k === name) return v;
  if (decision.upstreamHeadersToRemove.includes(name)) return undefined;
  return req?.headers[name];
}

/**
 * The permission a 403 names as missing, from the fields of its JSON body
 * (`permission`, `namespace`: what the client is told): `FLOW:DELETE in
 * namespace company.other`, or `FLOW:DELETE` when no namespace is named.
 */
function missingPermission(decision: Decision): string | undefined {
  if (decision.reason !== 'permission_denied') return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(decision.body);
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== 'object') return undefined;
  const { permission, namespace } = doc as { permission?: unknown; namespace?: unknown };
  if (typeof permission !== 'string') return undefined;
  // The rule's label: `FLOW:READ`, or `FLOW:READ (namespaces from the query)` and the like.
  const bare = permission.split(' ', 1)[0]!;
  return typeof namespace === 'string' ? `${bare} in namespace ${namespace}` : bare;
}

export function compareDecision(c: LoadedCase, decision: Decision, req: AuthRequest | undefined): Mismatch[] {
  const out: Mismatch[] = [];
  const e = c.expect;
  const verdict = decision.allow ? 'allow' : decision.status;
  if (e.verdict !== verdict) out.push({ field: 'verdict', expected: shown(e.verdict), actual: shown(verdict) });
  if (e.rule !== undefined && e.rule !== decision.ruleId) out.push({ field: 'rule', expected: shown(e.rule), actual: shown(decision.ruleId || undefined) });
  if (e.reason !== undefined && e.reason !== decision.reason) out.push({ field: 'reason', expected: shown(e.reason), actual: shown(decision.reason) });
  if (e.missing !== undefined) {
    const missing = missingPermission(decision);
    // `FLOW:DELETE` matches `FLOW:DELETE in namespace company.other`; the whole text matches too.
    const matches = missing !== undefined && (missing === e.missing || missing.split(' ', 1)[0] === e.missing);
    if (!matches) out.push({ field: 'missing', expected: shown(e.missing), actual: shown(missing) });
  }
  for (const [rawName, expected] of Object.entries(e.headers ?? {})) {
    const name = rawName.toLowerCase();
    const actual = upstreamHeader(decision, req, name);
    if ((expected ?? undefined) !== actual) out.push({ field: `headers.${name}`, expected: shown(expected), actual: shown(actual) });
  }
  return out;
}

function requestOf(c: LoadedCase, index: number): AuthRequest | undefined {
  const host = c.request.host ?? 'localhost';
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.request.headers ?? {})) headers[k.toLowerCase()] = v;
  headers[':authority'] = host;
  headers.accept ??= '*/*';
  return createAuthRequest({
    id: `policy-test-${index + 1}`,
    method: c.request.method.toUpperCase(),
    scheme: c.request.scheme ?? 'https',
    host,
    path: c.request.path,
    headers,
    sourceAddress: '127.0.0.1',
    // As Envoy's source.principal: the engine's mtls authenticator and `match.principals` decide on it.
    ...(c.service === undefined ? {} : { peerPrincipal: c.service }),
  }) ?? undefined;
}

function failed(c: LoadedCase, field: string, expected: string, actual: string): CaseResult {
  return { case: c, passed: false, mismatches: [{ field, expected, actual }], ruleId: '' };
}

/** Decides `cases` under `config`, in order; never throws for a case (an exception fails that case). */
export async function runCases(config: Config, cases: readonly LoadedCase[]): Promise<CaseResult[]> {
  const services = createEngineServices(config, createLogger('silent'));
  const given = new GivenIdentities();
  const results: CaseResult[] = [];
  try {
    const engine = buildEngine(config, services, services.jwks, { givenIdentities: given });
    for (const [index, c] of cases.entries()) {
      const who = caseIdentity(c, config);
      if ('problem' in who) {
        results.push(failed(c, 'identity', 'an identity', who.problem));
        continue;
      }
      const req = requestOf(c, index);
      let decision: Decision;
      try {
        if (req === undefined) {
          // A path the doors cannot normalize: they answer 400 before the engine, and so does a case.
          decision = errorDenial(`policy-test-${index + 1}`, 'bad_request', 'the request path cannot be normalized');
        } else {
          if (who.identity !== undefined) given.give(req, who.identity);
          decision = await engine.decide(req);
        }
      } catch (err) {
        results.push(failed(c, 'decision', shown(c.expect.verdict), `an error: ${(err as Error).name}`));
        continue;
      }
      const mismatches = compareDecision(c, decision, req);
      results.push({ case: c, passed: mismatches.length === 0, mismatches, ruleId: decision.ruleId });
    }
  } finally {
    await services.close();
  }
  return results;
}
