import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPacer } from '../../../loadgen/src/pacer.js';

void test('10 ms ticks release the rate, evenly', () => {
  const pacer = createPacer({ rate: 5000, startMs: 0 });
  const perTick: number[] = [];
  for (let t = 10; t <= 1000; t += 10) perTick.push(pacer.take(t, Infinity));
  assert.equal(
    perTick.reduce((s, x) => s + x, 0),
    5000,
  );
  assert.ok(perTick.every((x) => x === 50));
});

void test('fractional rates accumulate instead of rounding away', () => {
  const pacer = createPacer({ rate: 33, startMs: 0 });
  let total = 0;
  for (let t = 10; t <= 10_000; t += 10) total += pacer.take(t, Infinity);
  assert.ok(total >= 329 && total <= 330, `total ${total}`);
});

void test('no room in flight holds events back; a long stall catches up by at most the burst', () => {
  const pacer = createPacer({ rate: 1000, startMs: 0, burstMs: 100 });
  assert.equal(pacer.take(10, 3), 3);
  assert.equal(pacer.take(20, 0), 0);
  // 5 s stalled: only 100 ms worth is kept.
  assert.equal(pacer.take(5000, Infinity), 100);
  assert.equal(pacer.take(5010, Infinity), 10);
});

void test('a clock that goes backwards releases nothing extra', () => {
  const pacer = createPacer({ rate: 1000, startMs: 100 });
  assert.equal(pacer.take(50, Infinity), 0);
  assert.equal(pacer.take(110, Infinity), 10);
});
