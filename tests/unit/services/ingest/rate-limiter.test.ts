import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateLimiter } from '../../../../services/ingest/src/rate-limiter.js';

const T0 = 1_000_000;

void test('a key starts with a full burst, counted in wagers', () => {
  const limiter = createRateLimiter({ perSecond: 10, burst: 100 });
  assert.deepEqual(limiter.take('k', 60, T0), { allowed: true });
  assert.deepEqual(limiter.take('k', 40, T0), { allowed: true });
  assert.deepEqual(limiter.take('k', 1, T0), { allowed: false, retryAfterSeconds: 1 });
});

void test('Retry-After is whole seconds, rounded up, at least 1', () => {
  const limiter = createRateLimiter({ perSecond: 10, burst: 100 });
  limiter.take('k', 100, T0);
  assert.deepEqual(
    limiter.take('k', 1, T0),
    { allowed: false, retryAfterSeconds: 1 },
    '0.1 s rounds up to 1',
  );
  assert.deepEqual(
    limiter.take('k', 25, T0),
    { allowed: false, retryAfterSeconds: 3 },
    '2.5 s rounds up to 3',
  );
  assert.deepEqual(limiter.take('k', 100, T0), { allowed: false, retryAfterSeconds: 10 });
});

void test('a refused request takes nothing; waiting the advertised time is enough', () => {
  const limiter = createRateLimiter({ perSecond: 10, burst: 100 });
  limiter.take('k', 100, T0);
  const refused = limiter.take('k', 25, T0);
  assert.equal(refused.allowed, false);
  const wait = refused.allowed ? 0 : (refused.retryAfterSeconds ?? 0) * 1000;
  assert.deepEqual(limiter.take('k', 25, T0 + wait), { allowed: true });
});

void test('keys have separate buckets', () => {
  const limiter = createRateLimiter({ perSecond: 1, burst: 5 });
  assert.equal(limiter.take('a', 5, T0).allowed, true);
  assert.equal(limiter.take('a', 1, T0).allowed, false);
  assert.equal(limiter.take('b', 5, T0).allowed, true);
});

void test('more wagers than the burst can never pass: no Retry-After', () => {
  const limiter = createRateLimiter({ perSecond: 1000, burst: 5 });
  assert.deepEqual(limiter.take('k', 6, T0), { allowed: false, retryAfterSeconds: null });
  assert.equal(limiter.take('k', 5, T0).allowed, true, 'the refusal took nothing');
});

void test('check answers like take without taking; refund gives tokens back up to the burst', () => {
  const limiter = createRateLimiter({ perSecond: 1, burst: 2 });
  assert.deepEqual(limiter.check('k', 2, T0), { allowed: true });
  assert.deepEqual(limiter.take('k', 2, T0), { allowed: true }, 'check took nothing');
  assert.deepEqual(limiter.check('k', 1, T0), { allowed: false, retryAfterSeconds: 1 });
  limiter.refund('k', 1);
  assert.deepEqual(limiter.take('k', 1, T0), { allowed: true });
  limiter.refund('k', 10);
  assert.deepEqual(limiter.take('k', 2, T0), { allowed: true });
  assert.equal(limiter.take('k', 1, T0).allowed, false, 'a refund never fills past the burst');
});

void test('maxKeys forgets the least recently used bucket', () => {
  const limiter = createRateLimiter({ perSecond: 0.001, burst: 1 }, { maxKeys: 2 });
  limiter.take('a', 1, T0);
  limiter.take('b', 1, T0);
  limiter.take('a', 1, T0); // refused, but a is now the most recently used
  limiter.take('c', 1, T0); // evicts b
  assert.equal(limiter.take('a', 1, T0).allowed, false, 'a kept its empty bucket');
  assert.equal(limiter.take('b', 1, T0).allowed, true, 'b starts full again');
});
