/**
 * Before a scenario is loaded, a real grpc-js client (the library Envoy's
 * peers use, independent of the generator's hand-made framing) asks the
 * server a few of the scenario's own requests and checks they are allowed.
 * The first answers may wait for the JWKS fetch, so it retries briefly.
 * A scenario whose requests are denied would measure the denial path.
 */
import * as grpc from '@grpc/grpc-js';
import { loadExtAuthzDefinition } from '../src/server/envoy-protos.js';
import { BenchError } from './bench-error.js';
import type { CheckResponseSeen } from './grpc-frames.js';

type CheckFn = (request: object, options: { deadline: number }, callback: (err: grpc.ServiceError | null, res?: CheckResponseSeen) => void) => void;

function describe(res: CheckResponseSeen, header: string | undefined): string {
  const code = res.status?.code ?? 0;
  if (code !== 0) return `denied (HTTP ${res.denied_response?.status?.code ?? 403})`;
  if (header !== undefined && !res.ok_response?.headers?.some((h) => h.header?.key === header && (h.header.value ?? '') !== '')) {
    return `allowed without ${header}`;
  }
  return 'allowed';
}

/**
 * Resolves when every request gets the expected answer (`allowed`, or e.g.
 * `denied (HTTP 401)` for the forged-token scenarios; an allow must carry
 * `header` when given); throws ERR_BENCH_PREFLIGHT with the last answer otherwise.
 */
export async function expectAllowed(port: number, requests: readonly object[], timeoutMs = 10_000, expected = 'allowed', header?: string): Promise<void> {
  const pkg = grpc.loadPackageDefinition(loadExtAuthzDefinition()) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
  };
  const client = new pkg.envoy.service.auth.v3.Authorization(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const check = (client as unknown as { Check: CheckFn }).Check.bind(client);
  const ask = (request: object) => new Promise<string>((resolve) => {
    check(request, { deadline: Date.now() + 2000 }, (err, res) =>
      resolve(err ? `gRPC error ${err.code}` : describe(res ?? {}, header)));
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (const [index, request] of requests.entries()) {
      let answer = await ask(request);
      while (answer !== expected && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        answer = await ask(request);
      }
      if (answer !== expected) {
        throw new BenchError('ERR_BENCH_PREFLIGHT', `grpc-js preflight: request #${index} was ${answer}, expected ${expected}`);
      }
    }
  } finally {
    client.close();
  }
}
