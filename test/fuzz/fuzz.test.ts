/**
 * Property-based fuzzing of the decision core and the gRPC door (issue 5):
 * random and mutated CheckRequests, headers, cookies, paths and raw protobuf
 * frames. Counts are moderate here; `npm run fuzz` (bench/fuzz-long.ts) runs
 * the same properties for ≥ 1M cases.
 *
 * Reproducing a failure: fast-check prints `{ seed, path }`; rerun with
 * FUZZ_SEED=<seed> (and, to jump straight to the shrunk case, FUZZ_PATH=<path>).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { frameArb, requestCaseArb } from './arbitraries.js';
import { createFuzzWorld, type FuzzWorld } from './fuzz-world.js';
import {
  assertProperty, assertValidCredentialsAllowed, checkFrameInProcess, checkGrpcBatch, checkRequestCase, createHarness, createRawCheckClient,
  validFrame, type FuzzHarness, type RawCheckClient,
} from './properties.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_251_105);
const runOptions = <T>(numRuns: number): fc.Parameters<T> => ({
  numRuns,
  seed: SEED,
  ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
});

describe('fuzz: decide() and the gRPC door', { timeout: 240_000 }, () => {
  let world: FuzzWorld;
  let h: FuzzHarness;

  before(async () => {
    world = await createFuzzWorld();
    h = createHarness(world);
    await assertValidCredentialsAllowed(h);
  });
  after(() => world?.close());

  test('random and mutated requests: decide() never rejects, answers are well-formed and render, no allow without a valid credential', async () => {
    const before = h.stats.allows;
    await assertProperty(fc.asyncProperty(requestCaseArb(world.credentials), async (c) => {
      await checkRequestCase(h, c);
    }), runOptions(6000));
    // Not vacuous: valid credentials do get through among the mutations.
    assert.ok(h.stats.allows - before > 50, `only ${h.stats.allows - before} allows`);
  });

  test('raw mutated CheckRequest frames, decoded in process: same properties', async () => {
    await assertProperty(fc.asyncProperty(frameArb(world.credentials, (v) => h.method.requestSerialize(v)), async (frame) => {
      await checkFrameInProcess(h, frame);
    }), runOptions(4000));
  });

  test('through the real gRPC door: every frame gets a well-formed CheckResponse or a gRPC error, and the door keeps serving', async () => {
    const service = await world.service();
    const client: RawCheckClient = createRawCheckClient(service.grpcPort);
    const valid = validFrame(h);
    try {
      await assertProperty(fc.asyncProperty(fc.array(frameArb(world.credentials, (v) => h.method.requestSerialize(v)), { minLength: 20, maxLength: 20 }),
        (frames) => checkGrpcBatch(h, client, frames, valid)), runOptions(20));
    } finally {
      client.close();
    }
    assert.ok(h.stats.grpcCases >= 400);
  });

  // Found by this fuzz: a cookie header that we rewrite (our own cookies removed) kept the client's NUL/CR/LF.
  test('regression: control characters in a passed-through cookie never reach the upstream Cookie header', async () => {
    const session = world.credentials.spareSession;
    for (const junk of ['\u0000', '\r\nx-injected: 1', '\u001d']) {
      const d = await checkRequestCase(h, {
        method: 'GET', path: '/ui/main', host: 'kestra.example.com', scheme: 'https', shape: 'envoy', body: '',
        headers: { cookie: `${session.cookie}; id_token=${junk}x; other=${junk}` },
      });
      assert.ok(d?.allow, `${JSON.stringify(junk)}: the session is still valid`);
      const cookie = d.upstreamHeaders.find(([n]) => n === 'cookie')?.[1];
      assert.ok(cookie !== undefined && !/[\x00-\x1f]/.test(cookie), `${JSON.stringify(junk)}: upstream cookie ${JSON.stringify(cookie)}`);
      assert.ok(!cookie.includes(session.token), 'our session cookie is stripped');
    }
  });
});
