/**
 * `authz.http.keep-alive-timeout` follows a hot reload: the real service from
 * a file, the real reloader, the HTTP door's own `Keep-Alive` answer header.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createConfigReloader, type ConfigReloader } from '../../src/server/config-reload.js';
import { configYaml, startReloadFixture, type ReloadFixture } from './reload-fixture.js';

/** One GET on a fresh connection; the door's Keep-Alive answer header. */
function keepAliveHeader(port: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/.well-known/none', agent: false, headers: { connection: 'keep-alive' } }, (res) => {
      res.resume();
      res.on('end', () => {
        const header = res.headers['keep-alive'];
        resolve(typeof header === 'string' ? header : undefined);
        req.destroy();
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('authz.http.keep-alive-timeout on reload', () => {
  let fx: ReloadFixture;
  let reloader: ConfigReloader;
  before(async () => {
    fx = await startReloadFixture();
    reloader = createConfigReloader({ path: fx.configPath, runtime: fx.service.runtime, services: fx.service.services, logger: fx.service.runtime.logger });
  });
  after(async () => { await fx.stop(); });

  // The door applies a reloaded value when it serves the next request (that request's connection already
  // idles for the new time); node:http wrote that request's Keep-Alive header when it arrived, so the header
  // shows the new value from the request after.
  const afterNextRequest = async (port: number) => {
    await keepAliveHeader(port);
    return keepAliveHeader(port);
  };

  test('75 s at start, 100 s after a reload that sets it, 75 s again after one that removes it', async () => {
    const port = fx.service.httpPort;
    assert.equal(await keepAliveHeader(port), 'timeout=75');
    await fx.write(configYaml(fx.dir, { authzExtra: '  http: { keep-alive-timeout: 100s }' }));
    assert.equal(await reloader.reload(), 'success');
    assert.equal(await afterNextRequest(port), 'timeout=100');
    await fx.write(configYaml(fx.dir));
    assert.equal(await reloader.reload(), 'success');
    assert.equal(await afterNextRequest(port), 'timeout=75');
  });
});
