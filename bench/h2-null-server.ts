/**
 * The floor below grpc-js: a gRPC unary answer to every POST, written on
 * node:http2 alone — read the request frame, send one pre-encoded
 * CheckResponse frame and `grpc-status: 0` trailers. Not a gRPC server (no
 * deadlines, compression, health, reflection): it exists to tell how much
 * of a Check's cost and tail latency is grpc-js and how much is Node's
 * HTTP/2 itself.
 *
 *   node dist/bench/h2-null-server.js [--port N] [--host 127.0.0.1]
 */
import { createServer, constants, type ServerHttp2Stream } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../src/server/envoy-protos.js';
import { BenchError, runMain } from './bench-error.js';
import { flag, parseFlags } from './cli-flags.js';
import { announceReady, closeOnSignal } from './server-ready.js';

async function main(): Promise<void> {
  const flags = parseFlags('h2-null-server', process.argv.slice(2), {
    port: { kind: 'int', min: 0, max: 65535 },
    host: { kind: 'string' },
  });
  const host = flag(flags, 'host', '127.0.0.1');
  const port = flag(flags, 'port', 0);
  const check = (loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as grpc.ServiceDefinition).Check!;
  const message = check.responseSerialize({ status: { code: 0 } });
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  const responseHeaders = { [constants.HTTP2_HEADER_STATUS]: 200, 'content-type': 'application/grpc' };
  const trailers = { 'grpc-status': '0' };

  const server = createServer();
  server.on('stream', (stream: ServerHttp2Stream) => {
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond(responseHeaders, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers(trailers));
      stream.end(frame);
    });
    stream.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new BenchError('ERR_BENCH_CHILD', `h2-null-server: cannot listen on ${host}:${port}`, { cause: err })));
    server.listen(port, host, resolve);
  });
  const address = server.address();
  closeOnSignal(() => new Promise<void>((resolve) => server.close(() => resolve())));
  announceReady('null', typeof address === 'object' && address ? address.port : port);
}

runMain(main);
