/**
 * The baseline: a grpc-js server for envoy.service.auth.v3.Authorization/Check
 * built from the same loaded definition as the real service, answering
 * `{status: {code: 0}}` to everything. What is left when the decision costs
 * nothing is the gRPC library's own cost.
 *
 * `--codec proto` (default) decodes each CheckRequest with proto-loader, as
 * any server written on grpc-js and Envoy's protos does: the "null ext_authz
 * server on the same gRPC stack". `--codec raw` decodes nothing and answers
 * with bytes encoded once: the floor of grpc-js itself, below anything that
 * reads the request. `--codec verify --jwks-uri URL` decodes like `proto`
 * and verifies the Bearer token of every request with jose (RS256, the
 * bench issuer and audience) before answering OK, denying a token that does
 * not verify: the floor of "grpc-js + a signature check per call" that the
 * unique-token scenario is compared with — no cache, no route, no RBAC.
 *
 *   node dist/bench/null-server.js [--port N] [--host 127.0.0.1] [--codec proto|raw|verify] [--jwks-uri URL]
 */
import * as grpc from '@grpc/grpc-js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../src/server/envoy-protos.js';
import { BenchError, runMain } from './bench-error.js';
import { BENCH_AUDIENCE, BENCH_ISSUER } from './bench-issuer.js';
import { flag, parseFlags } from './cli-flags.js';
import { announceReady, closeOnSignal } from './server-ready.js';

const ALLOW = Object.freeze({ status: { code: 0 } });
const DENY = Object.freeze({ status: { code: 16 }, denied_response: { status: { code: 401 } } });

type CheckHandler = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => void;

interface DecodedCheck {
  readonly attributes?: { readonly request?: { readonly http?: { readonly headers?: Record<string, string> } } };
}

/** Verifies `authorization: Bearer …` with jose on every call, as a server with no token cache would. */
function verifyingHandler(jwksUri: string): CheckHandler {
  const keys = createRemoteJWKSet(new URL(jwksUri));
  const options = { issuer: BENCH_ISSUER, audience: BENCH_AUDIENCE, algorithms: ['RS256'], requiredClaims: ['exp', 'sub'] };
  return (call, callback) => {
    const authorization = (call.request as DecodedCheck).attributes?.request?.http?.headers?.authorization ?? '';
    const token = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
    jwtVerify(token, keys, options).then(() => callback(null, ALLOW), () => callback(null, DENY));
  };
}

async function main(): Promise<void> {
  const flags = parseFlags('null-server', process.argv.slice(2), {
    port: { kind: 'int', min: 0, max: 65535 },
    host: { kind: 'string' },
    codec: { kind: 'string' },
    'jwks-uri': { kind: 'string' },
  });
  const host = flag(flags, 'host', '127.0.0.1');
  const port = flag(flags, 'port', 0);

  const codec = flag<string>(flags, 'codec', 'proto');
  if (codec !== 'proto' && codec !== 'raw' && codec !== 'verify') {
    throw new BenchError('ERR_BENCH_USAGE', `null-server: --codec must be proto, raw or verify, not ${codec}`);
  }
  const jwksUri = flags['jwks-uri'];
  if ((codec === 'verify') !== (typeof jwksUri === 'string')) {
    throw new BenchError('ERR_BENCH_USAGE', 'null-server: --jwks-uri URL goes with --codec verify, and only with it');
  }
  const loaded = loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as grpc.ServiceDefinition;
  const check = loaded.Check!;
  const allowBytes = check.responseSerialize(ALLOW);
  const service: grpc.ServiceDefinition = codec !== 'raw' ? loaded : {
    ...loaded,
    Check: { ...check, requestDeserialize: (bytes: Buffer) => bytes, responseSerialize: () => allowBytes },
  };
  // Same server options as the real gRPC door, so the two differ only by the decision.
  const server = new grpc.Server({
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
  });
  const alwaysAllow: CheckHandler = (_call, callback) => callback(null, ALLOW);
  server.addService(service, { Check: typeof jwksUri === 'string' ? verifyingHandler(jwksUri) : alwaysAllow });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new BenchError('ERR_BENCH_CHILD', `null-server: cannot listen on ${host}:${port}`, { cause: err })) : resolve(p));
  });
  closeOnSignal(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  announceReady('null', bound);
}

runMain(main);
