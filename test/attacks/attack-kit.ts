/**
 * What every attack test checks on an answer of the real service, and the
 * attacker's own infrastructure:
 *
 * - `expectRefused` — a gRPC Check answer is a denial with the HTTP status,
 *   and the stable reason code shows where the service exposes it: the gRPC
 *   status message, the dynamic metadata `reason` (Envoy access logs), and
 *   the JSON body's `error` when the answer is JSON;
 * - `decisions` — `kestra_authz_decisions_total{result,reason,mode}` before
 *   and after, so a test proves the metric's reason label too;
 * - `startAttackerSite` — an HTTP server on 127.0.0.1 the attacker controls
 *   (a JWKS, a certificate URL), counting every request, to prove the
 *   service never fetched from it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CheckResponseJs } from '../helpers/grpc-client.js';
import { metricValue } from '../helpers/metric-value.js';
import { REASONS, type ReasonCode } from '../../src/core/reasons.js';

export type Door = 'grpc' | 'http';
type Denied = NonNullable<CheckResponseJs['denied_response']>;

/** The `result` label the runtime gives a decision with this reason. */
function resultOf(reason: ReasonCode): 'allow' | 'deny' | 'error' {
  const { allow, status } = REASONS[reason];
  return allow ? 'allow' : status >= 500 ? 'error' : 'deny';
}

/** Current value of decisions_total for `reason` on `door`. */
export function decisionCount(reason: ReasonCode, door: Door = 'grpc'): Promise<number> {
  return metricValue('kestra_authz_decisions_total', { result: resultOf(reason), reason, mode: door });
}

/**
 * Runs `attack` and asserts it was counted exactly `times` under `reason`:
 * the metric side of "refused with a stable reason".
 */
export async function countedAs<T>(reason: ReasonCode, attack: () => Promise<T>, times = 1, door: Door = 'grpc'): Promise<T> {
  const before = await decisionCount(reason, door);
  const result = await attack();
  assert.equal(await decisionCount(reason, door), before + times,
    `kestra_authz_decisions_total{reason="${reason}",mode="${door}"} went up by ${times}`);
  return result;
}

/** The JSON body of a denial, or undefined when it is not JSON (an HTML page, a redirect). */
export function jsonBody(denied: Denied): Record<string, unknown> | undefined {
  const type = denied.headers?.find((h) => h.header.key.toLowerCase() === 'content-type')?.header.value ?? '';
  if (!type.startsWith('application/json')) return undefined;
  return JSON.parse(denied.body ?? '{}') as Record<string, unknown>;
}

/**
 * Asserts a gRPC Check answer refused the request with HTTP `status` and
 * reason code `reason`, visible in the gRPC status message, the dynamic
 * metadata and (for JSON answers) the body. Never gRPC OK.
 */
export function expectRefused(res: CheckResponseJs, status: number, reason: ReasonCode): Denied {
  const denied = res.denied_response;
  assert.ok(denied, `expected a denial, got ${JSON.stringify(res).slice(0, 400)}`);
  assert.notEqual(res.status?.code ?? 0, 0, 'a refusal never carries gRPC OK');
  assert.equal(denied.status?.code, status, `status (reason ${res.status?.message})`);
  assert.equal(res.status?.message, reason, 'reason code in the gRPC status');
  assert.equal(res.dynamic_metadata?.fields?.reason?.stringValue, reason, 'reason code in the dynamic metadata');
  const body = jsonBody(denied);
  if (body) assert.equal(body.error, reason, 'reason code in the JSON body');
  return denied;
}

/** Asserts gRPC OK with an ok_response (the control cases: the same door still allows good requests). */
export function expectAllowed(res: CheckResponseJs): NonNullable<CheckResponseJs['ok_response']> {
  assert.equal(res.status?.code ?? 0, 0, `expected allow, got ${JSON.stringify(res).slice(0, 400)}`);
  assert.ok(res.ok_response);
  return res.ok_response;
}

export interface AttackerSite {
  readonly origin: string;
  /** Requests received so far, any path. */
  readonly hits: number;
  /** Sets what `path` answers (status 200, JSON). */
  serve(path: string, body: unknown): void;
  stop(): Promise<void>;
}

/** A site on 127.0.0.1 that the attacker controls; it answers what it was told to and counts everything. */
export async function startAttackerSite(): Promise<AttackerSite> {
  const pages = new Map<string, string>();
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    const page = pages.get(req.url ?? '');
    if (page === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    get hits() { return hits; },
    serve: (path, body) => void pages.set(path, JSON.stringify(body)),
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** base64url of a JSON value or a string, for hand-made tokens. */
export const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
