import assert from 'node:assert/strict';
import { test } from 'node:test';
import { msUntilFlush, shouldFlush, type WindowState } from '../../../shared/src/domain/index.js';

const limits = { maxEvents: 500, maxWaitMs: 200 };

void test('flush when full or when the oldest event has waited maxWaitMs', () => {
  const table: [WindowState, number, boolean, number | null][] = [
    [{ events: 0, oldestAtMs: null }, 10_000, false, null],
    [{ events: 0, oldestAtMs: 0 }, 10_000, false, null], // stale timestamp of an emptied buffer
    [{ events: 1, oldestAtMs: 1_000 }, 1_000, false, 200],
    [{ events: 1, oldestAtMs: 1_000 }, 1_150, false, 50],
    [{ events: 1, oldestAtMs: 1_000 }, 1_199, false, 1],
    [{ events: 1, oldestAtMs: 1_000 }, 1_200, true, 0],
    [{ events: 1, oldestAtMs: 1_000 }, 5_000, true, 0],
    [{ events: 499, oldestAtMs: 1_000 }, 1_000, false, 200],
    [{ events: 500, oldestAtMs: 1_000 }, 1_000, true, 0],
    [{ events: 501, oldestAtMs: 1_000 }, 1_000, true, 0],
    [{ events: 3, oldestAtMs: null }, 1_000, true, 0],
    [{ events: 1, oldestAtMs: 2_000 }, 1_000, false, 1_200], // a clock behind the event: wait the full window
  ];
  for (const [window, now, flush, ms] of table) {
    const label = `${JSON.stringify(window)} at ${now}`;
    assert.equal(shouldFlush(window, now, limits), flush, label);
    assert.equal(msUntilFlush(window, now, limits), ms, label);
  }
});

void test('maxWaitMs 0 flushes every event at once; maxEvents 1 likewise', () => {
  assert.equal(shouldFlush({ events: 1, oldestAtMs: 5 }, 5, { maxEvents: 100, maxWaitMs: 0 }), true);
  assert.equal(shouldFlush({ events: 1, oldestAtMs: 5 }, 5, { maxEvents: 1, maxWaitMs: 1000 }), true);
});
