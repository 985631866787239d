import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  createBucketState,
  take,
  type BucketConfig,
  type BucketState,
} from '../../../shared/src/domain/index.js';

interface Step {
  at: number;
  cost?: number;
  allowed: boolean;
  retryAfterMs: number;
  tokensAfter: number;
}

function run(cfg: BucketConfig, steps: Step[]): void {
  let state = createBucketState(cfg.capacity, 0);
  for (const [i, step] of steps.entries()) {
    const result = take(state, cfg, step.at, step.cost);
    const label = `step ${i} at ${step.at} ms`;
    assert.equal(result.allowed, step.allowed, label);
    assert.equal(result.retryAfterMs, step.retryAfterMs, label);
    assert.ok(
      Math.abs(result.state.tokens - step.tokensAfter) < 1e-9,
      `${label}: ${result.state.tokens} tokens`,
    );
    state = result.state;
  }
}

void test('burst of capacity, then one token a second', () => {
  run({ capacity: 3, refillPerSecond: 1 }, [
    { at: 0, allowed: true, retryAfterMs: 0, tokensAfter: 2 },
    { at: 0, allowed: true, retryAfterMs: 0, tokensAfter: 1 },
    { at: 0, allowed: true, retryAfterMs: 0, tokensAfter: 0 },
    { at: 0, allowed: false, retryAfterMs: 1000, tokensAfter: 0 },
    { at: 500, allowed: false, retryAfterMs: 500, tokensAfter: 0.5 },
    { at: 999, allowed: false, retryAfterMs: 1, tokensAfter: 0.999 },
    { at: 1000, allowed: true, retryAfterMs: 0, tokensAfter: 0 },
    { at: 60_000, allowed: true, retryAfterMs: 0, tokensAfter: 2 }, // refill stops at capacity
  ]);
});

void test('costs above one: a batch of wagers', () => {
  run({ capacity: 100, refillPerSecond: 50 }, [
    { at: 0, cost: 60, allowed: true, retryAfterMs: 0, tokensAfter: 40 },
    { at: 0, cost: 60, allowed: false, retryAfterMs: 400, tokensAfter: 40 }, // 20 missing at 50/s
    { at: 400, cost: 60, allowed: true, retryAfterMs: 0, tokensAfter: 0 },
    { at: 400, cost: 0, allowed: true, retryAfterMs: 0, tokensAfter: 0 },
    { at: 400, cost: 101, allowed: false, retryAfterMs: Number.POSITIVE_INFINITY, tokensAfter: 0 },
  ]);
});

void test('fractional refill rates round the wait up, and the wait is enough', () => {
  run({ capacity: 1, refillPerSecond: 3 }, [
    { at: 0, allowed: true, retryAfterMs: 0, tokensAfter: 0 },
    { at: 0, allowed: false, retryAfterMs: 334, tokensAfter: 0 }, // 333.33 ms, rounded up
    { at: 333, allowed: false, retryAfterMs: 1, tokensAfter: 0.999 },
    { at: 334, allowed: true, retryAfterMs: 0, tokensAfter: 0 }, // 1.002 capped at capacity 1
  ]);
});

void test('no refill: once empty, never again', () => {
  run({ capacity: 2, refillPerSecond: 0 }, [
    { at: 0, allowed: true, retryAfterMs: 0, tokensAfter: 1 },
    { at: 0, allowed: true, retryAfterMs: 0, tokensAfter: 0 },
    { at: 1e9, allowed: false, retryAfterMs: Number.POSITIVE_INFINITY, tokensAfter: 0 },
  ]);
});

void test('a clock that goes backwards mints no tokens', () => {
  const cfg = { capacity: 1, refillPerSecond: 1 };
  const first = take(createBucketState(1, 10_000), cfg, 10_000);
  const back = take(first.state, cfg, 5_000);
  assert.equal(back.allowed, false);
  assert.equal(back.state.updatedAtMs, 10_000);
  assert.equal(take(back.state, cfg, 10_999).allowed, false);
  assert.equal(take(back.state, cfg, 11_000).allowed, true);
});

void test('take does not modify the state it is given', () => {
  const state: BucketState = Object.freeze(createBucketState(5, 0));
  const result = take(state, { capacity: 5, refillPerSecond: 1 }, 100);
  assert.deepEqual(state, { tokens: 5, updatedAtMs: 0 });
  assert.deepEqual(result.state, { tokens: 4, updatedAtMs: 100 });
});

void test('bad configuration is refused', () => {
  assert.throws(() => createBucketState(0, 0), RangeError);
  assert.throws(() => take(createBucketState(1, 0), { capacity: 0, refillPerSecond: 1 }, 0), RangeError);
  assert.throws(() => take(createBucketState(1, 0), { capacity: 1, refillPerSecond: -1 }, 0), RangeError);
  assert.throws(
    () => take(createBucketState(1, 0), { capacity: 1, refillPerSecond: Number.NaN }, 0),
    RangeError,
  );
  assert.throws(() => take(createBucketState(1, 0), { capacity: 1, refillPerSecond: 1 }, 0, -1), RangeError);
});

const configs = fc.record({
  capacity: fc.integer({ min: 1, max: 1000 }),
  refillPerSecond: fc.oneof(
    fc.integer({ min: 1, max: 1000 }),
    fc.double({ min: 0.01, max: 1000, noNaN: true }),
  ),
});

void test('property: waiting retryAfterMs is always enough', () => {
  fc.assert(
    fc.property(configs, fc.array(fc.tuple(fc.nat(5000), fc.integer({ min: 1, max: 20 }))), (cfg, calls) => {
      let state = createBucketState(cfg.capacity, 0);
      let now = 0;
      for (const [gap, rawCost] of calls) {
        const cost = Math.min(rawCost, cfg.capacity);
        now += gap;
        const denied = take(state, cfg, now, cost);
        state = denied.state;
        if (denied.allowed) continue;
        assert.ok(Number.isInteger(denied.retryAfterMs) && denied.retryAfterMs >= 1);
        const onTime = take(state, cfg, now + denied.retryAfterMs, cost);
        assert.equal(onTime.allowed, true, `retry after ${denied.retryAfterMs} ms`);
        // and no longer than needed: a millisecond earlier the bucket did not yet hold the cost
        // (up to the 1e-9 tokens of float slack that take forgives)
        const tokensEarly = take(state, cfg, now + denied.retryAfterMs - 1, 0).state.tokens;
        if (denied.retryAfterMs > 1) assert.ok(tokensEarly < cost + 1e-9, `${tokensEarly} tokens 1 ms early`);
      }
    }),
  );
});

void test('property: over any run, admitted cost ≤ capacity + elapsed × rate', () => {
  fc.assert(
    fc.property(
      configs,
      fc.array(fc.tuple(fc.nat(2000), fc.integer({ min: 1, max: 5 })), { maxLength: 200 }),
      (cfg, calls) => {
        let state = createBucketState(cfg.capacity, 0);
        let now = 0;
        let admitted = 0;
        for (const [gap, cost] of calls) {
          now += gap;
          const result = take(state, cfg, now, cost);
          state = result.state;
          if (result.allowed) admitted += cost;
          assert.ok(
            admitted <= cfg.capacity + (now * cfg.refillPerSecond) / 1000 + 1e-6,
            `${admitted} admitted by ${now} ms`,
          );
          assert.ok(state.tokens >= 0 && state.tokens <= cfg.capacity);
        }
      },
    ),
  );
});
