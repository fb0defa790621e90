/**
 * `kestra-authz explain`: run one request through the real decision core
 * (same config, stores and JWKS as `serve`) and print every step.
 * Credentials given on the command line are never echoed back.
 */
import { parseArgs } from 'node:util';
import { spiffeIdProblem } from '../authz/spiffe-id.js';
import { createAuthRequest } from '../core/auth-request.js';
import { AuthzError } from '../core/errors.js';
import { createLogger } from '../observability/logger.js';
import { buildServing, createEngineServices } from '../server/build-engine.js';
import { explainShadow, verdictOf } from '../server/shadow-evaluator.js';
import { loadCliConfig } from './cli-config.js';
import type { CliIo } from './main.js';

function headerPairs(values: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const raw of values) {
    const colon = raw.indexOf(':');
    if (colon <= 0) throw new AuthzError('ERR_CLI_USAGE', `--header must look like 'name: value' (got a value without ':')`);
    const name = raw.slice(0, colon).trim().toLowerCase();
    const value = raw.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  return headers;
}

export async function runExplain(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        method: { type: 'string', default: 'GET' },
        path: { type: 'string' },
        host: { type: 'string', default: 'localhost' },
        scheme: { type: 'string', default: 'https' },
        header: { type: 'string', multiple: true, default: [] },
        cookie: { type: 'string', multiple: true, default: [] },
        source: { type: 'string', default: '127.0.0.1' },
        // The mTLS peer's SPIFFE id, as Envoy's source.principal would carry it.
        principal: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new AuthzError('ERR_CLI_USAGE', `explain: ${(err as Error).message}`);
  }
  const o = parsed.values;
  if (!o.path) throw new AuthzError('ERR_CLI_USAGE', 'explain: --path is required');
  if (o.principal !== undefined) {
    const bad = spiffeIdProblem(o.principal);
    if (bad) throw new AuthzError('ERR_CLI_USAGE', `explain: --principal ${bad}`);
  }
  const headers = headerPairs(o.header ?? []);
  if (o.cookie?.length) headers.cookie = [headers.cookie, ...o.cookie].filter(Boolean).join('; ');
  headers[':authority'] = o.host!;
  headers.accept ??= '*/*';

  const config = await loadCliConfig(o.config);
  const logger = createLogger('silent');
  const services = createEngineServices(config, logger);
  try {
    await services.warmUp();
    const serving = buildServing(config, services);
    const engine = serving.engine;
    const req = createAuthRequest({
      id: 'explain', method: o.method!, scheme: o.scheme, host: o.host, path: o.path, headers, sourceAddress: o.source,
      ...(o.principal === undefined ? {} : { peerPrincipal: o.principal }),
    });
    if (!req) throw new AuthzError('ERR_CLI_USAGE', 'explain: --path must be an absolute path starting with /');
    io.stdout(`request: ${req.method} ${req.scheme}://${req.host}${req.path}${req.query ? '?…' : ''}`);
    if (req.peerPrincipal) io.stdout(`peer principal: ${req.peerPrincipal}`);
    const decision = await engine.decide(req, (stage, detail) => io.stdout(`  ${stage.padEnd(12)} ${detail}`));
    io.stdout(`verdict: ${decision.allow ? 'ALLOW' : 'DENY'} ${decision.status} ${decision.reason} — ${decision.message}`);
    if (decision.identity) {
      const id = decision.identity;
      io.stdout(`identity: ${id.name} (via ${id.via}, sub ${id.subject})${id.groups.length ? `, groups: ${id.groups.join(', ')}` : ''}`);
      if (id.via === 'session' && id.provider) {
        io.stdout(`claims from: id_token${id.userinfoClaims?.length ? `, userinfo (${id.userinfoClaims.join(', ')})` : ''}`);
      }
    }
    for (const [k, v] of decision.upstreamHeaders) io.stdout(`  upstream header ${k}: ${k === 'cookie' ? '(our cookies removed)' : v}`);
    for (const k of decision.upstreamHeadersToRemove) io.stdout(`  upstream header removed: ${k}`);
    for (const [k, v] of decision.responseHeaders) io.stdout(`  response header ${k}: ${k === 'set-cookie' ? '(cookie)' : v}`);
    const shadow = explainShadow(config, req, decision, serving.loginRedirect);
    if (shadow?.kind === 'skipped') io.stdout('shadow verdict: not compared (the live answer is no policy decision)');
    if (shadow?.kind === 'decided') {
      const d = shadow.decision;
      io.stdout(`shadow verdict: ${verdictOf(d) === 'allow' ? 'ALLOW' : `DENY ${d.status}`} ${d.reason} by rule ${d.ruleId} ` +
        `(${config.shadow!.file ?? 'the shadow: true rules'}) — ${shadow.agrees ? 'agrees with' : 'DISAGREES with'} the live verdict`);
    }
    return decision.allow ? 0 : 3;
  } finally {
    await services.close();
  }
}
