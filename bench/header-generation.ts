/**
 * Where Node puts the header strings of a request it receives: in V8's young
 * generation (they die in the next cheap scavenge) or directly in old space
 * (they live until the next mark-compact). The answer explains the gRPC
 * door's latency tail: node:http2 hands every header name and value over as
 * an old-space string (values are external strings over nghttp2's buffers),
 * so each Check leaves old-space garbage that only a mark-compact — a pause
 * of tens of ms on one core — collects, while node:http's parser makes
 * ordinary young strings. Needs V8's natives syntax:
 *
 *   node --allow-natives-syntax dist/bench/header-generation.js
 *
 * Prints one JSON line per transport: for each header, true = young.
 */
import { once } from 'node:events';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer as createHttp2Server, type IncomingHttpHeaders as Http2Headers } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { BenchError, runMain } from './bench-error.js';

type YoungProbe = (value: unknown) => boolean;

function youngProbe(): YoungProbe {
  try {
    // Only parses with --allow-natives-syntax; the V8 intrinsic says whether an object is in new space.
    return new Function('value', 'return %InYoungGeneration(value)') as YoungProbe;
  } catch {
    throw new BenchError('ERR_BENCH_USAGE', 'header-generation: run with node --allow-natives-syntax');
  }
}

/** The headers of a gRPC Check as Envoy sends them, plus one a browser sent. */
const GRPC_HEADERS = {
  ':method': 'POST',
  ':path': '/envoy.service.auth.v3.Authorization/Check',
  'content-type': 'application/grpc',
  te: 'trailers',
  'grpc-timeout': '200m',
  'x-request-id': '6f1c2b9e-4d3a-4b8f-9a1e-000000000001',
};
const HTTP_HEADERS = { authorization: 'Bearer header.payload.signature', 'x-request-id': '6f1c2b9e-4d3a-4b8f-9a1e-000000000001' };

function generations(headers: IncomingHttpHeaders | Http2Headers, isYoung: YoungProbe): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = isYoung(value);
  out['(an object made now, for comparison)'] = isYoung({});
  return out;
}

async function probeHttp2(isYoung: YoungProbe): Promise<Record<string, boolean>> {
  const server = createHttp2Server();
  let seen: Record<string, boolean> = {};
  server.on('stream', (stream, headers) => {
    seen = generations(headers, isYoung);
    stream.respond({ ':status': 200 });
    stream.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const req = client.request(GRPC_HEADERS);
  req.end();
  req.resume();
  await once(req, 'close');
  client.close();
  server.close();
  return seen;
}

async function probeHttp1(isYoung: YoungProbe): Promise<Record<string, boolean>> {
  let seen: Record<string, boolean> = {};
  const server = createHttpServer((req, res) => {
    seen = { ...generations(req.headers, isYoung), url: isYoung(req.url) };
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/ext_authz/api/v1/main/flows', headers: HTTP_HEADERS, agent: false }, (res) => {
      res.resume();
      res.once('end', resolve);
    }).once('error', reject).end();
  });
  server.close();
  return seen;
}

async function main(): Promise<void> {
  const isYoung = youngProbe();
  console.log(JSON.stringify({ transport: 'node:http2 (the gRPC door)', young: await probeHttp2(isYoung) }));
  console.log(JSON.stringify({ transport: 'node:http (the HTTP door)', young: await probeHttp1(isYoung) }));
}

runMain(main);
