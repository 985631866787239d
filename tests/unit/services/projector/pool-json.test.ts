import assert from 'node:assert/strict';
import { test } from 'node:test';
import { poolJson } from '../../../../services/projector/src/pool-json.js';

void test('poolJson writes exactly the contract fields, in order, amounts exact', () => {
  const view = {
    poolId: 'demo:grand',
    jackpotId: 'demo',
    tier: 'grand',
    currency: 'EUR',
    amountMinor: 12_345_678_901_234_567_890n,
    cycle: 4,
    version: 99,
    updatedAt: '2026-11-29T12:00:00.123Z',
  };
  const text = poolJson(view);
  assert.equal(
    text,
    '{"poolId":"demo:grand","jackpotId":"demo","tier":"grand","currency":"EUR","amountMinor":12345678901234567890,"cycle":4,"version":99,"updatedAt":"2026-11-29T12:00:00.123Z"}',
  );
  assert.deepEqual(Object.keys(JSON.parse(text) as object), [
    'poolId',
    'jackpotId',
    'tier',
    'currency',
    'amountMinor',
    'cycle',
    'version',
    'updatedAt',
  ]);
  const small = JSON.parse(poolJson({ ...view, amountMinor: 250n })) as { amountMinor: unknown };
  assert.equal(small.amountMinor, 250, 'a JSON number, not a string');
  assert.doesNotThrow(
    () => JSON.parse(poolJson({ ...view, poolId: 'we"ird:\\x', jackpotId: 'we"ird' })),
    'strings are escaped',
  );
});
