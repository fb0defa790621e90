/**
 * The fuzz properties, shared by test/fuzz/fuzz.test.ts (moderate counts) and
 * bench/fuzz-long.ts (≥ 1M cases). Each check throws an AssertionError naming
 * what broke; fast-check turns that into a counterexample with seed and path.
 *
 * (a) decide() never rejects, the door's translation never throws;
 * (b) every Decision is well-formed (decision-shape.ts);
 * (c) no allow without a valid credential (fuzz-credentials.ts's oracle);
 * (d) the rendered CheckResponse encodes, decodes and says the same;
 * (e) through the real gRPC door, any frame gets a well-formed CheckResponse
 *     or a gRPC error status, and the service keeps serving.
 */
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import type { AuthRequest } from '../../src/core/auth-request.js';
import { authRequestFromCheck, type CheckRequestLike } from '../../src/server/check-request.js';
import { authRequestFromCheckBytes } from '../../src/server/check-request-wire.js';
import { checkResponseFor } from '../../src/server/check-response.js';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../../src/server/envoy-protos.js';
import type { Decision } from '../../src/core/decision.js';
import type { CheckResponseJs } from '../helpers/grpc-client.js';
import { checkRequestOf, type RequestCase } from './arbitraries.js';
import { assertCheckResponseWellFormed, assertDecisionWellFormed, assertSameAfterProto, wellFormedUtf16 } from './decision-shape.js';
import { unexplainedAllow, unexplainedAllowInBytes, type AllowedWho } from './fuzz-credentials.js';
import type { FuzzWorld } from './fuzz-world.js';

export interface FuzzStats {
  cases: number;
  allows: number;
  /** Requests the door could not turn into an AuthRequest (answered 400). */
  badRequests: number;
  /** Frames the door's own reader refused (in process; over gRPC they become grpcErrors). */
  undecodable: number;
  grpcCases: number;
  grpcErrors: Record<string, number>;
  /** gRPC allows protobufjs's decode does not explain (explained instead by the credential bytes the frame carries). */
  allowedDecoderDivergence: number;
  reasons: Record<string, number>;
}

export const newStats = (): FuzzStats =>
  ({ cases: 0, allows: 0, badRequests: 0, undecodable: 0, grpcCases: 0, grpcErrors: {}, allowedDecoderDivergence: 0, reasons: {} });

export interface FuzzHarness {
  readonly world: FuzzWorld;
  readonly method: grpc.MethodDefinition<object, object>;
  readonly stats: FuzzStats;
}

export function createHarness(world: FuzzWorld, stats: FuzzStats = newStats()): FuzzHarness {
  const method = (loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as grpc.ServiceDefinition).Check as grpc.MethodDefinition<object, object>;
  return { world, method, stats };
}

/** Request headers as the oracle reads them: keys lower-cased, repeats joined with ',', map and header_map both. */
export function headersOfCheck(check: CheckRequestLike): Record<string, string> {
  const http = check.attributes?.request?.http;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const add = (key: string, value: string) => {
    const k = key.toLowerCase();
    out[k] = out[k] === undefined ? value : `${out[k]},${value}`;
  };
  for (const [k, v] of Object.entries(http?.headers ?? {})) add(k, v);
  for (const h of http?.header_map?.headers ?? []) {
    if (h.key) add(h.key, h.raw_value?.length ? Buffer.from(h.raw_value).toString('latin1') : h.value ?? '');
  }
  return out;
}

/** (a), (b), (d), and (c) through `explain` (undefined = the allow is explained by a valid credential). */
async function decideAndCheck(h: FuzzHarness, req: AuthRequest, explain: (who: AllowedWho | undefined) => string | undefined): Promise<Decision> {
  let decision: Decision;
  try {
    decision = await h.world.engine.decide(req);
  } catch (err) {
    assert.fail(`decide() rejected: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
  assertDecisionWellFormed(decision);
  h.stats.reasons[decision.reason] = (h.stats.reasons[decision.reason] ?? 0) + 1;
  if (decision.allow) {
    h.stats.allows++;
    const why = explain(decision.identity);
    assert.equal(why, undefined, `allow without valid credentials: ${why}`);
  }
  assertRenders(h, decision);
  return decision;
}

/** (a)–(d) for one CheckRequest object, in process: door translation → decide() → render. */
export async function checkInProcess(h: FuzzHarness, check: CheckRequestLike): Promise<Decision | null> {
  h.stats.cases++;
  const req = authRequestFromCheck(check);
  if (!req) {
    h.stats.badRequests++;
    return null;
  }
  return decideAndCheck(h, req, (who) => unexplainedAllow(h.world.credentials, h.world.config.cookie.name, who, headersOfCheck(check)));
}

/** (d): checkResponseFor → protobuf bytes → decoded again → the same answer. */
function assertRenders(h: FuzzHarness, d: Decision): void {
  const bytes = h.method.responseSerialize(checkResponseFor(d));
  const back = h.method.responseDeserialize(bytes) as CheckResponseJs;
  assertCheckResponseWellFormed(back);
  if (d.allow) {
    assert.equal(back.status?.code ?? 0, 0, 'allow renders gRPC OK');
    assert.ok(back.ok_response && !back.denied_response, 'allow renders ok_response only');
    const headers = (back.ok_response.headers ?? []).map((o) => [o.header.key, o.header.value] as const);
    assertSameAfterProto(headers, d.upstreamHeaders, 'upstream headers survive encoding');
    assert.deepEqual(back.ok_response.headers_to_remove ?? [], [...d.upstreamHeadersToRemove]);
  } else {
    assert.ok(back.denied_response && !back.ok_response, 'deny renders denied_response only');
    assert.notEqual(back.status?.code ?? 0, 0, 'a denial never carries gRPC OK');
    assert.equal(back.denied_response.status?.code, d.status, 'HTTP status survives encoding');
    const headers = (back.denied_response.headers ?? []).map((o) => [o.header.key, o.header.value] as const);
    assertSameAfterProto(headers, d.responseHeaders, 'response headers survive encoding');
    if (wellFormedUtf16(d.body)) assert.equal(back.denied_response.body ?? '', d.body, 'body survives encoding');
  }
}

/** One RequestCase through (a)–(d). */
export function checkRequestCase(h: FuzzHarness, c: RequestCase): Promise<Decision | null> {
  return checkInProcess(h, checkRequestOf(c) as CheckRequestLike);
}

/**
 * One raw frame in process, read twice: by the gRPC door's own reader
 * (check-request-wire.ts, what the door runs) and by protobufjs through
 * proto-loader + authRequestFromCheck. A frame a reader refuses (throws) is
 * the transport's to answer with a gRPC error; the rest goes through (a)–(d).
 */
export async function checkFrameInProcess(h: FuzzHarness, frame: Uint8Array): Promise<void> {
  h.stats.cases++;
  let fromReader: AuthRequest | null = null;
  try {
    fromReader = authRequestFromCheckBytes(frame);
  } catch (err) {
    assert.ok(err instanceof Error, 'the door\'s reader refuses a frame with an Error');
    h.stats.undecodable++;
  }
  let decoded: CheckRequestLike | undefined;
  try {
    decoded = h.method.requestDeserialize(Buffer.from(frame)) as CheckRequestLike;
  } catch {
    // protobufjs refuses it too (or alone: the reader skips fields it does not use)
  }
  if (fromReader) {
    await decideAndCheck(h, fromReader, (who) => explainFrameAllow(h, who, frame, decoded));
  } else {
    h.stats.badRequests++;
  }
  if (decoded) await checkInProcess(h, decoded);
}

/** Undefined when a frame's allow is explained: by protobufjs's reading of it, else by the credential bytes it carries. */
function explainFrameAllow(h: FuzzHarness, who: AllowedWho | undefined, frame: Uint8Array, decoded: CheckRequestLike | undefined): string | undefined {
  const creds = h.world.credentials;
  const strict = decoded ? unexplainedAllow(creds, h.world.config.cookie.name, who, headersOfCheck(decoded)) : 'protobufjs cannot decode the frame';
  if (strict === undefined) return undefined;
  // The door's reader and protobufjs may read a damaged frame differently: the reader skips fields it does
  // not use (damage there goes unnoticed) and merges a repeated embedded message as the protobuf spec says,
  // where protobufjs keeps only the last one. The allow must then still carry its valid credential, byte for byte.
  h.stats.allowedDecoderDivergence++;
  return unexplainedAllowInBytes(creds, who, frame);
}

// ---- over the wire -------------------------------------------------------------------

export interface RawCheckClient {
  /** Sends `frame` as the Check request message as is; the reply's bytes, or the gRPC error. */
  send(frame: Uint8Array): Promise<{ bytes?: Buffer; error?: grpc.ServiceError }>;
  close(): void;
}

export function createRawCheckClient(port: number): RawCheckClient {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const path = `/${AUTHORIZATION_SERVICE}/Check`;
  const same = (b: Buffer) => b;
  return {
    send: (frame) => new Promise((resolve) => {
      client.makeUnaryRequest(path, same, same, Buffer.from(frame), { deadline: Date.now() + 30_000 }, (error, bytes) =>
        resolve(error ? { error } : { bytes: bytes ?? Buffer.alloc(0) }));
    }),
    close: () => client.close(),
  };
}

/** (e) for one frame through the real gRPC door. */
export async function checkOverGrpc(h: FuzzHarness, client: RawCheckClient, frame: Uint8Array): Promise<void> {
  h.stats.grpcCases++;
  const { bytes, error } = await client.send(frame);
  if (error) {
    assert.notEqual(error.code, grpc.status.OK, 'an error carries a non-OK status');
    assert.notEqual(error.code, grpc.status.DEADLINE_EXCEEDED, 'the door answered in time');
    const name = grpc.status[error.code] ?? String(error.code);
    h.stats.grpcErrors[name] = (h.stats.grpcErrors[name] ?? 0) + 1;
    return;
  }
  const res = h.method.responseDeserialize(bytes!) as CheckResponseJs;
  assertCheckResponseWellFormed(res);
  if ((res.status?.code ?? 0) !== 0) return;
  const fields = res.dynamic_metadata?.fields ?? {};
  const who = fields.via?.stringValue ? { via: fields.via.stringValue, name: fields.user?.stringValue ?? '' } : undefined;
  let decoded: CheckRequestLike | undefined;
  try {
    decoded = h.method.requestDeserialize(Buffer.from(frame)) as CheckRequestLike;
  } catch {
    decoded = undefined;
  }
  const why = explainFrameAllow(h, who, frame, decoded);
  assert.equal(why, undefined, `gRPC allow without valid credentials: ${why}`);
}

/** One request per valid credential, on a route that needs only authentication. */
export function validCredentialCases(h: FuzzHarness): RequestCase[] {
  const creds = h.world.credentials;
  const base = { method: 'GET', path: '/ui/main/flows', host: 'kestra.example.com', scheme: 'https', shape: 'envoy', body: '' } as const;
  return [
    ...creds.validTokens.map((t) => ({ ...base, headers: { authorization: `Bearer ${t.token}` } })),
    ...creds.validTokens.map((t) => ({ ...base, headers: { cookie: `a=1; id_token=${t.token}` } })),
    ...creds.validBasic.map((u) => ({ ...base, headers: { authorization: `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}` } })),
    ...creds.validSessions.map((s) => ({ ...base, headers: { cookie: s.cookie } })),
  ];
}

/**
 * Every valid credential is allowed (else property (c) would hold vacuously).
 * Polls: the issuer's JWKS is fetched in the background at start-up.
 */
export async function assertValidCredentialsAllowed(h: FuzzHarness, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (const c of validCredentialCases(h)) {
    for (;;) {
      const d = await checkRequestCase(h, c);
      if (d?.allow) break;
      if (Date.now() > deadline) assert.fail(`a valid credential was not allowed: ${d?.reason} for ${JSON.stringify(c.headers).slice(0, 80)}…`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * fc.check with a short report: seed and path to replay (FUZZ_SEED / FUZZ_PATH),
 * the broken check's message, and the counterexample cut to 2 000 characters
 * (a mutated frame can be tens of kilobytes).
 */
export async function assertProperty<T>(property: fc.IAsyncProperty<T>, params: fc.Parameters<T>): Promise<void> {
  const result = await fc.check(property, params);
  if (!result.failed) return;
  const error = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
  const example = fc.stringify(result.counterexample);
  assert.fail(
    `property failed after ${result.numRuns} run(s), shrunk ${result.numShrinks} time(s)\n` +
    `replay: FUZZ_SEED=${result.seed} FUZZ_PATH=${result.counterexamplePath ?? ''}\n` +
    `error: ${error}\ncounterexample: ${example.length > 2000 ? `${example.slice(0, 2000)}… (${example.length} chars)` : example}`,
  );
}

/** (e) for a batch sent at once, then a valid request that must still be answered and allowed. */
export async function checkGrpcBatch(h: FuzzHarness, client: RawCheckClient, frames: readonly Uint8Array[], validFrame: Uint8Array): Promise<void> {
  await Promise.all(frames.map((f) => checkOverGrpc(h, client, f)));
  const { bytes, error } = await client.send(validFrame);
  assert.equal(error, undefined, `a valid request after the batch is answered (${error?.message ?? ''})`);
  const res = h.method.responseDeserialize(bytes!) as CheckResponseJs;
  assert.equal(res.status?.code ?? 0, 0, 'and still allowed');
}

/** A serialized CheckRequest with the first valid credential (a Bearer token), for "still serving" checks. */
export function validFrame(h: FuzzHarness): Uint8Array {
  return h.method.requestSerialize(checkRequestOf(validCredentialCases(h)[0]!));
}
