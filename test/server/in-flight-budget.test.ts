/** InFlightBudget: takes only what fits, gives back exactly what was taken. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InFlightBudget } from '../../src/server/in-flight-budget.js';

test('takes what fits under the limit, refuses what does not, and frees on release', () => {
  const budget = new InFlightBudget(100);
  assert.equal(budget.tryTake(60), true);
  assert.equal(budget.tryTake(40), true, 'up to the limit exactly');
  assert.equal(budget.tryTake(1), false, 'nothing past it');
  assert.equal(budget.usedBytes, 100, 'a refusal takes nothing');
  budget.release(60);
  assert.equal(budget.tryTake(61), false);
  assert.equal(budget.tryTake(60), true);
  budget.release(60);
  budget.release(40);
  assert.equal(budget.usedBytes, 0);
  assert.equal(budget.tryTake(101), false, 'a request larger than the whole budget never fits');
});

test('the limit must be a positive integer', () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => new InFlightBudget(bad), /positive integer/);
  }
});
