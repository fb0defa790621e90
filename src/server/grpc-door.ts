/**
 * The Envoy gRPC door: envoy.service.auth.v3.Authorization/Check,
 * grpc.health.v1.Health and server reflection on one grpc-js server.
 * Translation only — the decision is the core's.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { errorDenial } from '../core/respond.js';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from './envoy-protos.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { Decision } from '../core/decision.js';
import { authRequestFromCheckBytes } from './check-request-wire.js';
import { encodeCheckResponse } from './check-response-wire.js';
import { InFlightBudget } from './in-flight-budget.js';
import { countDoorRefusal, decideAtDoor, errorSummary, type Runtime } from './runtime.js';

export interface GrpcDoor {
  readonly port: number;
  setServing(serving: boolean): void;
  close(): Promise<void>;
}

/** Same answer for every CheckRequest without usable HTTP attributes or path: encoded once. */
const BAD_REQUEST = encodeCheckResponse(errorDenial('', 'bad_request', 'CheckRequest has no usable HTTP request attributes, or its path is not absolute, is ambiguous or carries a control character'));
const OVERLOADED = encodeCheckResponse(errorDenial('', 'overloaded', 'too many large requests in flight; retry later'));

/**
 * CheckRequest bytes the door holds decoded and unanswered at once (see
 * InFlightBudget). An Envoy CheckRequest is 1–5 KB, so this is thousands of
 * waiting requests; only a flood of multi-megabyte ones reaches it. With the
 * heap cap the service ships with (160 MB) decoded strings then stay under
 * ~64 MB even for text outside Latin-1.
 */
export const GRPC_IN_FLIGHT_BYTES = 32 * 1024 * 1024;

/** What the Check handler answers with: a Decision, or bytes already encoded. */
type CheckAnswer = Decision | Uint8Array;

function serializeAnswer(answer: CheckAnswer): Buffer {
  const bytes = answer instanceof Uint8Array ? answer : encodeCheckResponse(answer);
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Envoy's Authorization service with our own codec for Check: the handler
 * turns the request bytes into an AuthRequest and a Decision becomes
 * response bytes in one pass each (check-request-wire.ts,
 * check-response-wire.ts), instead of proto-loader's generic object round
 * trips. Same wire format, same service and method path; reflection still
 * describes the real protos. The bytes are decoded in the handler, not in
 * requestDeserialize, so that decoding and answering are one span the
 * in-flight budget can count: grpc-js deserializes a message as soon as it
 * arrives, and a client that then cancels never reaches the handler.
 */
function authorizationServiceWithWireCodec(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const check = service.Check;
  if (!check) throw new Error(`${AUTHORIZATION_SERVICE} has no Check method in the loaded protos`);
  return {
    ...service,
    Check: {
      ...check,
      requestDeserialize: (bytes: Buffer): Buffer => bytes,
      responseSerialize: serializeAnswer,
    },
  };
}

/** Trace-context metadata Envoy's ext_authz gRPC client puts on the Check call (its span, not the request's). */
const TRACE_METADATA = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'] as const;

function traceContextOf(metadata: grpc.Metadata): Record<string, string> | undefined {
  let found: Record<string, string> | undefined;
  for (const name of TRACE_METADATA) {
    const value = metadata.get(name)[0];
    if (typeof value === 'string' && value) (found ??= {})[name] = value;
  }
  return found;
}

/**
 * decideAtDoor never throws nor rejects; this is a last line of defence.
 * Envoy treats a gRPC error as status_on_error (fail closed).
 */
function failCall(runtime: Runtime, callback: grpc.sendUnaryData<CheckAnswer>, err: unknown): void {
  runtime.logger.error({ err: errorSummary(err) }, 'Check handler failed');
  callback({ code: grpc.status.INTERNAL, details: 'internal error' });
}

export async function startGrpcDoor(runtime: Runtime, host: string, port: number): Promise<GrpcDoor> {
  const definition = loadExtAuthzDefinition();
  const service = authorizationServiceWithWireCodec(definition[AUTHORIZATION_SERVICE] as grpc.ServiceDefinition);
  const server = new grpc.Server({
    // Envoy keeps long-lived HTTP/2 connections; answer its keepalive pings.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
  });

  const budget = new InFlightBudget(GRPC_IN_FLIGHT_BYTES);
  server.addService(service, {
    Check: (call: grpc.ServerUnaryCall<Buffer, CheckAnswer>, callback: grpc.sendUnaryData<CheckAnswer>) => {
      const bytes = call.request;
      const size = bytes.length;
      if (!budget.tryTake(size)) {
        countDoorRefusal('grpc', 'overloaded');
        callback(null, OVERLOADED);
        return;
      }
      let req: AuthRequest | null;
      try {
        req = authRequestFromCheckBytes(bytes);
      } catch {
        // Not a CheckRequest encoding: a gRPC error, as grpc-js gives for a message it cannot deserialize.
        budget.release(size);
        countDoorRefusal('grpc', 'bad_request');
        callback({ code: grpc.status.INTERNAL, details: 'request is not a valid CheckRequest' });
        return;
      }
      if (req === null) {
        budget.release(size);
        countDoorRefusal('grpc', 'bad_request');
        callback(null, BAD_REQUEST);
        return;
      }
      // The call's trace metadata is only read with tracing on: no closure per Check otherwise.
      const callTrace = runtime.tracer === undefined ? undefined : () => traceContextOf(call.metadata);
      let answer: Decision | Promise<Decision>;
      try {
        answer = decideAtDoor(runtime, req, 'grpc', callTrace);
      } catch (err) {
        // decideAtDoor never throws; if it ever did, the budget must still be given back.
        budget.release(size);
        failCall(runtime, callback, err);
        return;
      }
      if (!(answer instanceof Promise)) {
        budget.release(size);
        callback(null, answer);
        return;
      }
      answer.then(
        (decision) => {
          budget.release(size);
          callback(null, decision);
        },
        (err: unknown) => {
          budget.release(size);
          failCall(runtime, callback, err);
        },
      );
    },
  });

  const health = new HealthImplementation({ '': 'NOT_SERVING', [AUTHORIZATION_SERVICE]: 'NOT_SERVING' });
  health.addToServer(server);
  new ReflectionService(definition).addToServer(server);

  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p));
  });

  return {
    port: boundPort,
    setServing(serving: boolean) {
      const status = serving ? 'SERVING' : 'NOT_SERVING';
      health.setStatus('', status);
      health.setStatus(AUTHORIZATION_SERVICE, status);
    },
    close: () => new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
      // Don't wait forever on a client that keeps a stream open.
      setTimeout(() => { server.forceShutdown(); resolve(); }, 2000).unref();
    }),
  };
}
