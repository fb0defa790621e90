/**
 * The raw HTTP/2 load generator (bench/raw-h2-*.ts) against a real grpc-js
 * server: its hand-made frames must be accepted, every answer counted right
 * (allowed, denied with the HTTP status, trailers-only errors), stream-id
 * exhaustion must roll over to fresh connections without losing a request,
 * and its frame sources must hand out exactly what they promise.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../../src/server/envoy-protos.js';
import { envoyLikeCheckRequest } from '../../bench/envoy-like-check.js';
import { checkCodec, encodeFrame } from '../../bench/grpc-frames.js';
import { cycleSource, mixSource, tokenSource } from '../../bench/raw-h2-frame-source.js';
import { runRawLoad } from '../../bench/raw-h2-load.js';
import { readCheckVerdict, type CheckVerdict } from '../../bench/raw-h2-protocol.js';

const definition = loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as unknown as Record<string, MethodDefinition<object, object>>;
const serializeResponse = (response: object) => definition.Check!.responseSerialize(response);

/** Answers request n (in arrival order): every 5th a gRPC error (trailers-only), else every 3rd a 403 denial, else OK. */
async function startCountingServer(): Promise<{ port: number; answered: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = new grpc.Server();
  server.addService(loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as grpc.ServiceDefinition, {
    Check: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const i = n++;
      if (i % 5 === 4) callback({ code: grpc.status.UNAVAILABLE, details: 'test' });
      else if (i % 3 === 2) callback(null, { status: { code: 7 }, denied_response: { status: { code: 403 } } });
      else callback(null, { status: { code: 0 } });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { port, answered: () => n, close: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}

const frame = encodeFrame(checkCodec().serializeRequest(envoyLikeCheckRequest({ token: 'a'.repeat(40), sequence: 1 })));

describe('raw-h2 CheckResponse reader', () => {
  const read = (response: object) => {
    const bytes = serializeResponse(response);
    const out: CheckVerdict = { code: 99, httpStatus: 99 };
    readCheckVerdict(bytes, 0, bytes.length, out);
    return out;
  };
  it('reads an allow, a denial with its HTTP status, and an empty message as allowed', () => {
    assert.deepEqual(read({ status: { code: 0 }, ok_response: { headers: [{ header: { key: 'x-a', value: 'b' } }] } }), { code: 0, httpStatus: 0 });
    assert.deepEqual(read({ status: { code: 16 }, denied_response: { status: { code: 401 }, body: 'no' } }), { code: 16, httpStatus: 401 });
    assert.deepEqual(read({}), { code: 0, httpStatus: 0 });
  });
  it('flags bytes that are not a protobuf message', () => {
    const out: CheckVerdict = { code: 0, httpStatus: 0 };
    const junk = Buffer.from([0x0a, 0x7f, 0x01]);           // field 1, length 127, 1 byte present
    readCheckVerdict(junk, 0, junk.length, out);
    assert.equal(out.code, -1);
  });
});

describe('raw-h2 load against grpc-js', () => {
  let server: Awaited<ReturnType<typeof startCountingServer>>;
  before(async () => { server = await startCountingServer(); });
  after(async () => { await server.close(); });

  it('counts every answer of a bounded closed-loop run, rolling over connections when stream ids run out', async () => {
    const start = server.answered();
    const result = await runRawLoad({
      host: '127.0.0.1', port: server.port, source: cycleSource([frame]), connections: 2, streams: 4,
      warmupS: 0, durationS: 120, maxRequests: 600, maxStreamId: 41,   // 21 streams per connection
    });
    assert.equal(server.answered() - start, 600);
    assert.equal(result.sentTotal, 600);
    assert.equal(result.requests, 600);
    assert.equal(result.unfinished, 0);
    assert.equal(result.transportErrors, 0);
    // Of 600 answers in arrival order: 120 errors (every 5th), 160 denials (every 3rd of the rest), 320 allows.
    assert.equal(result.grpcErrors['trailers-only'], 120);
    assert.equal(result.denied, 160);
    assert.deepEqual(result.deniedByHttpStatus, { 403: 160 });
    assert.equal(result.allowed, 320);
    assert.ok(result.connectionsOpened >= Math.ceil(600 / 21), `only ${result.connectionsOpened} connections opened`);
  });

  it('sends on a fixed schedule in open loop and reports its own send lag', async () => {
    const result = await runRawLoad({
      host: '127.0.0.1', port: server.port, source: cycleSource([frame]), connections: 1, streams: 16,
      warmupS: 0.2, durationS: 1, rps: 500,
    });
    assert.equal(result.mode, 'open-loop');
    assert.ok(result.requests > 0);
    assert.equal(result.transportErrors, 0);
    assert.equal(result.allowed + result.denied + (result.grpcErrors['trailers-only'] ?? 0), result.requests);
    assert.equal(typeof result.sendLagP99Ms, 'number');
  });
});

describe('raw-h2 frame sources', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'raw-h2-test-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('patches fixed-length tokens into the template in file order, starting over after count', () => {
    const tokensFile = join(dir, 'tokens.bin');
    writeFileSync(tokensFile, Array.from({ length: 600 }, (_, i) => `tok${String(i).padStart(5, '0')}`).join(''));
    const template = Buffer.from('[--------]');
    const source = tokenSource({ name: 't', template, tokenOffset: 1, tokenLength: 8, tokensFile, first: 10, count: 300 });
    try {
      const seen = Array.from({ length: 301 }, () => source.next().toString());
      assert.equal(seen[0], '[tok00010]');
      assert.equal(seen[299], '[tok00309]');
      assert.equal(seen[300], '[tok00010]');
      assert.equal(source.wraps, 1);
      assert.equal(template.toString(), '[--------]', 'the caller\'s template is not modified');
    } finally {
      source.close();
    }
  });

  it('interleaves a mix by weight and tags each request with its kind', () => {
    const a = Buffer.from('a');
    const b = Buffer.from('b');
    const mix = mixSource([{ source: cycleSource([a], 'A'), weight: 3 }, { source: cycleSource([b], 'B'), weight: 1 }]);
    const kinds = Array.from({ length: 400 }, () => { const body = mix.next(); return `${mix.names[mix.lastKind]}${body.toString()}`; });
    assert.equal(kinds.filter((k) => k === 'Aa').length, 300);
    assert.equal(kinds.filter((k) => k === 'Bb').length, 100);
    assert.ok(kinds.slice(0, 4).includes('Bb'), 'B is spread out, not bunched at the end');
  });
});
