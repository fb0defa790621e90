/**
 * The raw HTTP/1.1 load generator (bench/raw-h1-*.ts), for the HTTP door:
 * its response reader must frame answers split anywhere across reads and
 * several in one read; under load every answer must be counted right
 * (allowed, denied by status, other statuses as errors), a server closing
 * the connection every few answers must cost nothing, and against the real
 * service's HTTP door the bench's own request must be allowed while a
 * request without a token or outside the binding is denied with 401 / 403.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { writeBenchConfig } from '../../bench/bench-config.js';
import { startBenchIssuer, type BenchIssuer } from '../../bench/bench-issuer.js';
import { encodeHttp1Request, envoyLikeHttp1Request, envoyLikeHttpCheck } from '../../bench/envoy-like-check.js';
import { expectHttpAllowed } from '../../bench/http-preflight.js';
import { H1ResponseReader, splitHttp1Requests, type ResponseSink } from '../../bench/raw-h1-protocol.js';
import { runRawH1Load } from '../../bench/raw-h1-load.js';

const REQUEST = envoyLikeHttp1Request({ token: 'a'.repeat(40), sequence: 1 });

/** Feeds `chunks` to a fresh reader; returns what it reported, as strings ("200", "403 close", "malformed: why"). */
function readAll(chunks: readonly Buffer[]): string[] {
  const seen: string[] = [];
  const sink: ResponseSink = {
    onResponse: (_c, status, close) => seen.push(close ? `${status} close` : String(status)),
    onMalformed: (_c, why) => seen.push(`malformed: ${why}`),
  };
  const reader = new H1ResponseReader(0, sink);
  for (const chunk of chunks) reader.feed(chunk, 0, chunk.length);
  return seen;
}

const THREE = Buffer.from(
  'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n'
  + 'HTTP/1.1 200 OK\r\nX-Kestra-User: alice\r\nContent-Length: 5\r\n\r\nhello'
  + 'HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nconnection: keep-alive, Close\r\ncontent-length: 13\r\n\r\n{"error":"x"}'
  + 'HTTP/1.1 302 Found\r\nlocation: /login\r\ncontent-length:0\r\nconnection: keep-alive\r\n\r\n',
  'latin1');

describe('raw-h1 response reader', () => {
  it('reads several responses in one read, skipping an interim 1xx and the bodies', () => {
    assert.deepEqual(readAll([THREE]), ['200', '403 close', '302']);
  });

  it('reads the same bytes split at every position, and one byte at a time', () => {
    for (let k = 1; k < THREE.length; k++) {
      assert.deepEqual(readAll([THREE.subarray(0, k), THREE.subarray(k)]), ['200', '403 close', '302'], `split at ${k}`);
    }
    assert.deepEqual(readAll(Array.from(THREE, (b) => Buffer.from([b]))), ['200', '403 close', '302']);
  });

  it('takes 204 without a length, and refuses what it cannot frame', () => {
    assert.deepEqual(readAll([Buffer.from('HTTP/1.1 204 No Content\r\n\r\n')]), ['204']);
    assert.deepEqual(readAll([Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n')]), ['malformed: transfer-encoding']);
    assert.deepEqual(readAll([Buffer.from('HTTP/1.1 200 OK\r\n\r\nbody until close')]), ['malformed: no-content-length']);
    assert.deepEqual(readAll([Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n')]), ['malformed: bad-content-length']);
    assert.deepEqual(readAll([Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')]), ['malformed: bad-status-line']);
  });

  it('splits a requests file into whole requests (a body by its content-length)', () => {
    const post = Buffer.from('POST /ext_authz/x HTTP/1.1\r\nhost: a\r\nContent-Length: 4\r\n\r\nbody');
    const parts = splitHttp1Requests(Buffer.concat([REQUEST, post, REQUEST]), 'test');
    assert.deepEqual(parts.map((p) => p.length), [REQUEST.length, post.length, REQUEST.length]);
    assert.throws(() => splitHttp1Requests(post.subarray(0, post.length - 1), 'test'), { code: 'ERR_BENCH_FRAMES' });
  });
});

async function listen(server: Server | net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

function close(server: Server | net.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}

/** What the counting server answers to request i (arrival order). */
function answerOf(i: number): number {
  if (i % 7 === 6) return 503;
  if (i % 5 === 4) return 401;
  if (i % 3 === 2) return 403;
  if (i % 11 === 10) return 302;
  return 200;
}

describe('raw-h1 load against node:http', () => {
  it('counts every answer of a bounded closed-loop run: allows, denials by status, other statuses as errors', async () => {
    let n = 0;
    const server = createServer((req, res) => {
      assert.equal(req.url, '/ext_authz/api/v1/main/flows/company.team/hello');
      assert.equal(req.headers.host, 'kestra.example.com');
      const status = answerOf(n++);
      if (status === 200) res.writeHead(200, { 'x-kestra-user': 'alice', 'content-length': '0' }).end();
      else if (status === 302) res.writeHead(302, { location: '/oauth/login', 'content-length': '0' }).end();
      else {
        // With a length, as the door sends its JSON denials (node:http would otherwise chunk the body).
        const body = JSON.stringify({ error: 'denied', status });
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body);
      }
    });
    const port = await listen(server);
    try {
      const result = await runRawH1Load({ host: '127.0.0.1', port, requests: [REQUEST], connections: 4, warmupS: 0, durationS: 60, maxRequests: 600 });
      const expected = { 200: 0, 302: 0, 401: 0, 403: 0, 503: 0 };
      for (let i = 0; i < 600; i++) expected[answerOf(i) as keyof typeof expected]++;
      assert.equal(n, 600);
      assert.equal(result.sentTotal, 600);
      assert.equal(result.requests, 600);
      assert.equal(result.unfinished, 0);
      assert.equal(result.transportErrors, 0);
      assert.equal(result.allowed, expected[200]);
      assert.equal(result.denied, expected[302] + expected[401] + expected[403]);
      assert.deepEqual(result.deniedByHttpStatus, { 302: expected[302], 401: expected[401], 403: expected[403] });
      assert.deepEqual(result.grpcErrors, { 'http-503': expected[503] });
      assert.equal(result.connectionsOpened, 4);
      assert.equal(result.streams, 1);
    } finally {
      await close(server);
    }
  });

  it('reopens the connection after every `connection: close` without losing or failing a request', async () => {
    let n = 0;
    let accepted = 0;
    const server = createServer((_req, res) => {
      const closeNow = ++n % 5 === 0;
      res.writeHead(200, { 'content-length': '0', ...(closeNow ? { connection: 'close' } : {}) }).end();
    });
    server.on('connection', () => { accepted++; });
    const port = await listen(server);
    try {
      const result = await runRawH1Load({ host: '127.0.0.1', port, requests: [REQUEST], connections: 3, warmupS: 0, durationS: 60, maxRequests: 300 });
      assert.equal(n, 300);
      assert.equal(result.requests, 300);
      assert.equal(result.allowed, 300);
      assert.equal(result.serverCloses, 60);
      assert.equal(result.transportErrors, 0);
      assert.deepEqual(result.grpcErrors, {});
      assert.equal(result.unfinished, 0);
      // One reopen per close, except after the last answers (nothing left to send on them).
      assert.ok(result.connectionsOpened >= 3 + 60 - 3 && result.connectionsOpened <= 3 + 60, `${result.connectionsOpened} connections opened`);
      assert.equal(accepted, result.connectionsOpened);
    } finally {
      await close(server);
    }
  });

  it('sends on a fixed schedule in open loop and reports its own send lag', async () => {
    const server = createServer((_req, res) => { res.writeHead(200, { 'content-length': '0' }).end(); });
    const port = await listen(server);
    try {
      const result = await runRawH1Load({ host: '127.0.0.1', port, requests: [REQUEST], connections: 4, warmupS: 0.2, durationS: 1, rps: 500 });
      assert.equal(result.mode, 'open-loop');
      assert.ok(result.requests >= 400 && result.requests <= 600, `${result.requests} requests in 1 s at 500/s`);
      assert.equal(result.allowed, result.requests);
      assert.equal(result.transportErrors, 0);
      assert.equal(result.dropped, 0);
      assert.equal(typeof result.sendLagP99Ms, 'number');
    } finally {
      await close(server);
    }
  });
});

/**
 * A server written on node:net that answers each request in pieces, with a
 * pause between them so they arrive in separate reads: cut inside the status
 * code, inside a header name, inside the length digits, between the two CRLF
 * of the head's end and inside the body; every third answer is an interim
 * 103 and its final answer in one write.
 */
async function startChoppyServer(): Promise<{ port: number; answered: () => number; close: () => Promise<void> }> {
  const ok = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Kestra-User: alice\r\n\r\nok', 'latin1');
  const denied = Buffer.from('HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n{"error":"nope!"}', 'latin1');
  const cutsOf = (response: Buffer) => {
    const text = response.toString('latin1');
    return [10, text.indexOf('ent-Length') + 3, text.indexOf('ength: ') + 7 + 1, text.indexOf('\r\n\r\n') + 2, response.length - 1]
      .filter((c, i, all) => c > 0 && c < response.length && (i === 0 || c > all[i - 1]!));
  };
  let answered = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    socket.on('data', async (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) !== -1) {
        pending = pending.subarray(end + 4);
        const i = answered++;
        if (i % 3 === 2) {
          socket.write(Buffer.concat([Buffer.from('HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n'), ok]));
          continue;
        }
        const response = i % 3 === 1 ? denied : ok;
        let from = 0;
        for (const cut of [...cutsOf(response), response.length]) {
          socket.write(response.subarray(from, cut));
          from = cut;
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
    });
  });
  const port = await listen(server);
  return {
    port,
    answered: () => answered,
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

describe('raw-h1 load against a server answering in pieces', () => {
  it('frames every answer whatever the cut, with exact counts', async () => {
    const server = await startChoppyServer();
    try {
      const result = await runRawH1Load({ host: '127.0.0.1', port: server.port, requests: [REQUEST], connections: 2, warmupS: 0, durationS: 60, maxRequests: 90 });
      assert.equal(server.answered(), 90);
      assert.equal(result.requests, 90);
      assert.equal(result.allowed, 60);
      assert.deepEqual(result.deniedByHttpStatus, { 403: 30 });
      assert.deepEqual(result.grpcErrors, {});
      assert.equal(result.transportErrors, 0);
      assert.equal(result.unfinished, 0);
      assert.equal(result.connectionsOpened, 2);
    } finally {
      await server.close();
    }
  });
});

describe('raw-h1 load against the real service\'s HTTP door', () => {
  let dir: string;
  let issuer: BenchIssuer;
  let service: RunningService;
  let token: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'raw-h1-test-'));
    issuer = await startBenchIssuer(dir);
    [token] = (await issuer.tokens(1, () => {})) as [string];
    const config = await loadConfigFile(writeBenchConfig({ dir, jwksUri: issuer.jwksUri, tokenCacheSize: 100 }));
    service = await startService(config, { logger: createLogger('silent'), version: 'test' });
  });
  after(async () => {
    await service?.close();
    await issuer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes the preflight with the bench request and refuses a request without a token', async () => {
    const check = envoyLikeHttpCheck({ token, sequence: 0 });
    await expectHttpAllowed(service.httpPort, check, 'x-kestra-user');
    const anonymous = { ...check, headers: check.headers.filter(([name]) => name !== 'authorization') };
    await assert.rejects(expectHttpAllowed(service.httpPort, anonymous, 'x-kestra-user', 300), { code: 'ERR_BENCH_PREFLIGHT' });
  });

  it('counts allows, 401s and 403s of the real decision exactly', async () => {
    const check = envoyLikeHttpCheck({ token, sequence: 0 });
    const allow = encodeHttp1Request(check);
    const anonymous = encodeHttp1Request({ ...check, headers: check.headers.filter(([name]) => name !== 'authorization') });
    // No binding gives FLOW:READ outside company.team.
    const outside = encodeHttp1Request({ ...check, path: check.path.replace('company.team', 'other.team') });
    const result = await runRawH1Load({
      host: '127.0.0.1', port: service.httpPort, requests: [allow, anonymous, outside], connections: 6, warmupS: 0, durationS: 60, maxRequests: 300,
    });
    assert.equal(result.requests, 300);
    assert.equal(result.allowed, 100);
    assert.deepEqual(result.deniedByHttpStatus, { 401: 100, 403: 100 });
    assert.deepEqual(result.grpcErrors, {});
    assert.equal(result.transportErrors, 0);
    assert.equal(result.unfinished, 0);
  });
});
