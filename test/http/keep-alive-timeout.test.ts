/**
 * The HTTP door keeps idle connections for `authz.http.keep-alive-timeout`
 * (default 75 s, longer than the recipes' 60 s proxy idle timeouts) and says
 * so on every answer (`Keep-Alive: timeout=N`), so a proxy reusing the
 * connection knows the door will not close it first.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startHttpFixture, type HttpFixture } from './service-fixture.js';

/** One GET on a fresh keep-alive connection; the answer's Connection and Keep-Alive headers. */
function connectionHeaders(port: number, path: string): Promise<{ connection: string | undefined; keepAlive: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'keep-alive' } }, (res) => {
      res.resume();
      res.on('end', () => {
        resolve({ connection: res.headers.connection, keepAlive: String(res.headers['keep-alive']) });
        req.destroy();
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('authz.http.keep-alive-timeout', () => {
  const fixtures: HttpFixture[] = [];
  after(async () => { for (const fx of fixtures) await fx.stop(); });

  test('default: the door keeps a connection 75 s, longer than the proxies\' 60 s', async () => {
    const fx = await startHttpFixture();
    fixtures.push(fx);
    const seen = await connectionHeaders(fx.service.httpPort, '/.well-known/does-not-exist');
    assert.equal(seen.connection, 'keep-alive');
    assert.equal(seen.keepAlive, 'timeout=75');
  });

  test('configured: 100s (behind Traefik, whose forwardAuth client idles 90 s)', async () => {
    const fx = await startHttpFixture({ keepAliveTimeout: '100s' });
    fixtures.push(fx);
    const seen = await connectionHeaders(fx.service.httpPort, '/.well-known/does-not-exist');
    assert.equal(seen.connection, 'keep-alive');
    assert.equal(seen.keepAlive, 'timeout=100');
  });
});
