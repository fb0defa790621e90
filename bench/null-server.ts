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
 * reads the request.
 *
 *   node dist/bench/null-server.js [--port N] [--host 127.0.0.1] [--codec proto|raw]
 */
import * as grpc from '@grpc/grpc-js';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../src/server/envoy-protos.js';
import { BenchError, runMain } from './bench-error.js';
import { flag, parseFlags } from './cli-flags.js';
import { announceReady, closeOnSignal } from './server-ready.js';

const ALLOW = Object.freeze({ status: { code: 0 } });

async function main(): Promise<void> {
  const flags = parseFlags('null-server', process.argv.slice(2), {
    port: { kind: 'int', min: 0, max: 65535 },
    host: { kind: 'string' },
    codec: { kind: 'string' },
  });
  const host = flag(flags, 'host', '127.0.0.1');
  const port = flag(flags, 'port', 0);

  const codec = flag(flags, 'codec', 'proto');
  if (codec !== 'proto' && codec !== 'raw') throw new BenchError('ERR_BENCH_USAGE', `null-server: --codec must be proto or raw, not ${codec}`);
  const loaded = loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as grpc.ServiceDefinition;
  const check = loaded.Check!;
  const allowBytes = check.responseSerialize(ALLOW);
  const service: grpc.ServiceDefinition = codec === 'proto' ? loaded : {
    ...loaded,
    Check: { ...check, requestDeserialize: (bytes: Buffer) => bytes, responseSerialize: () => allowBytes },
  };
  // Same server options as the real gRPC door, so the two differ only by the decision.
  const server = new grpc.Server({
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
  });
  server.addService(service, {
    Check: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, ALLOW),
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new BenchError('ERR_BENCH_CHILD', `null-server: cannot listen on ${host}:${port}`, { cause: err })) : resolve(p));
  });
  closeOnSignal(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  announceReady('null', bound);
}

runMain(main);
