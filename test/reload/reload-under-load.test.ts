/**
 * Swaps under load: at least 2000 Checks through the real gRPC door (64 in
 * flight at all times) while the config is reloaded 20 times, alternating
 * `/probe` between public and deny. Every answer must be a well-formed allow
 * or 403 — one of the two configs' verdicts — and none an error. The load
 * runs until both the 2000 Checks and the 20 reloads are done, so every swap
 * happens with Checks in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConfigReloader } from '../../src/server/config-reload.js';
import { configYaml, startReloadFixture } from './reload-fixture.js';

const TOTAL_CHECKS = 2000;
const CONCURRENCY = 64;
const RELOADS = 20;

test('no Check fails while the config is swapped 20 times under load', async () => {
  const fx = await startReloadFixture();
  try {
    const reloader = createConfigReloader({ path: fx.configPath, runtime: fx.service.runtime, services: fx.service.services, logger: fx.service.runtime.logger });
    const verdicts = { allow: 0, deny: 0 };
    const errors: string[] = [];
    let sent = 0;
    let inFlight = 0;
    let reloadsDone = false;

    const worker = async () => {
      while (!reloadsDone || sent < TOTAL_CHECKS) {
        sent++;
        inFlight++;
        try {
          verdicts[fx.verdictOf(await fx.probe())]++;
        } catch (err) {
          errors.push(String(err));
        } finally {
          inFlight--;
        }
      }
    };
    const load = Promise.all(Array.from({ length: CONCURRENCY }, worker));

    const results: string[] = [];
    const inFlightAtSwap: number[] = [];
    try {
      for (let i = 0; i < RELOADS; i++) {
        await fx.write(configYaml(fx.dir, { probe: i % 2 === 0 ? 'deny' : 'public' }));
        results.push(await reloader.reload());
        inFlightAtSwap.push(inFlight);
        // Let Checks run on each engine before the next swap.
        const answered = verdicts.allow + verdicts.deny + errors.length;
        while (verdicts.allow + verdicts.deny + errors.length < answered + CONCURRENCY) await new Promise((r) => setImmediate(r));
      }
    } finally {
      reloadsDone = true;
      await load;
    }

    assert.deepEqual(errors, [], 'every Check answered allow or 403');
    assert.deepEqual(results, Array(RELOADS).fill('success'));
    assert.ok(verdicts.allow + verdicts.deny >= TOTAL_CHECKS);
    assert.ok(inFlightAtSwap.every((n) => n > 0), `Checks were in flight at every swap: ${inFlightAtSwap.join(',')}`);
    assert.ok(verdicts.allow > 0 && verdicts.deny > 0, `both configs answered: ${JSON.stringify(verdicts)}`);
    // The last config written (i = 19) makes /probe public.
    assert.equal(fx.verdictOf(await fx.probe()), 'allow');
  } finally {
    await fx.stop();
  }
});
