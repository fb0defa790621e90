/**
 * The HTTP door's preflight: before a scenario is loaded, node:http's own
 * client (independent of the raw generator's hand-written requests and
 * parser) sends the scenario's request once and checks the answer is an
 * allow — 200, and, when asked, the identity header Envoy would pass
 * upstream (`x-kestra-user`), which only the real decision sets. The first
 * answers may wait for the JWKS fetch, so it retries briefly. A scenario
 * whose requests are denied would measure the denial path.
 */
import { request } from 'node:http';
import { BenchError } from './bench-error.js';
import type { HttpCheck } from './envoy-like-check.js';

interface Answer {
  readonly status: number;
  readonly header: string | undefined;
}

function ask(port: number, check: HttpCheck, header: string | undefined): Promise<Answer | string> {
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1', port, method: check.method, path: check.path,
      // Pairs, not an object: the headers go out as the generator sends them (Host included).
      headers: check.headers.flatMap(([name, value]) => [name, value]),
      agent: false,
      timeout: 2000,
    }, (res) => {
      res.resume();
      res.on('end', () => {
        const value = header === undefined ? undefined : res.headers[header];
        resolve({ status: res.statusCode ?? 0, header: Array.isArray(value) ? value.join(', ') : value });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(`transport error (${err.message})`));
    req.end();
  });
}

const describe = (answer: Answer | string, header: string | undefined) => (typeof answer === 'string' ? answer
  : answer.status !== 200 ? `HTTP ${answer.status}`
    : header !== undefined && !answer.header ? `HTTP 200 without ${header}` : 'allowed');

/** Resolves when the request is answered 200 (with `requireHeader` set, non-empty); throws ERR_BENCH_PREFLIGHT otherwise. */
export async function expectHttpAllowed(port: number, check: HttpCheck, requireHeader?: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let answer = describe(await ask(port, check, requireHeader), requireHeader);
  while (answer !== 'allowed' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    answer = describe(await ask(port, check, requireHeader), requireHeader);
  }
  if (answer !== 'allowed') {
    throw new BenchError('ERR_BENCH_PREFLIGHT', `HTTP preflight: ${check.method} ${check.path} was ${answer}, expected 200${requireHeader ? ` with ${requireHeader}` : ''}`);
  }
}
