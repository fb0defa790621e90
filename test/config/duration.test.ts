import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationMs } from '../../src/config/duration.js';

describe('parseDurationMs', () => {
  test('ISO-8601 durations', () => {
    assert.equal(parseDurationMs('P2D'), 2 * 86_400_000);
    assert.equal(parseDurationMs('PT5M'), 300_000);
    assert.equal(parseDurationMs('PT30M'), 1_800_000);
    assert.equal(parseDurationMs('PT1H30M'), 5_400_000);
    assert.equal(parseDurationMs('P1DT2H'), 93_600_000);
    assert.equal(parseDurationMs('PT0.5S'), 500);
    assert.equal(parseDurationMs('pt10s'), 10_000);
  });

  test('Micronaut short forms and plain seconds', () => {
    assert.equal(parseDurationMs('30s'), 30_000);
    assert.equal(parseDurationMs('5m'), 300_000);
    assert.equal(parseDurationMs('2h'), 7_200_000);
    assert.equal(parseDurationMs('1d'), 86_400_000);
    assert.equal(parseDurationMs('250ms'), 250);
    assert.equal(parseDurationMs(30), 30_000);
    assert.equal(parseDurationMs('45'), 45_000);
    assert.equal(parseDurationMs(0), 0);
  });

  test('not durations', () => {
    for (const bad of ['', 'P', 'PT', 'P1Y', 'P1M', 'P1DT', '-5s', '5 minutes', '1w', 'PT-1S', -1, Number.NaN, null, true, {}, []]) {
      assert.equal(parseDurationMs(bad), undefined, String(bad));
    }
  });
});
