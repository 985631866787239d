import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePoolUpdate, poolJson } from '../../../../services/projector/src/pool-json.js';

const valid = {
  poolId: 'demo:grand',
  jackpotId: 'demo',
  cycle: 2,
  amountMinor: 123_456,
  version: 7,
  updatedAt: '2026-11-29T12:00:00.123Z',
};

void test('parsePoolUpdate reads the topic value', () => {
  assert.deepEqual(parsePoolUpdate(JSON.stringify(valid)), {
    ok: true,
    update: {
      poolId: 'demo:grand',
      jackpotId: 'demo',
      cycle: 2,
      amountMinor: 123_456n,
      version: 7,
      updatedAt: '2026-11-29T12:00:00.123Z',
    },
  });
  const extra = parsePoolUpdate(JSON.stringify({ ...valid, somethingNew: true, tier: 'ignored-too' }));
  assert.equal(extra.ok, true, 'unknown fields are ignored');
  if (extra.ok) assert.equal('tier' in extra.update, false, 'tier only ever comes from Postgres');
  for (const updatedAt of ['2026-11-29T12:00:00Z', '2026-11-29T13:00:00.123456+01:00']) {
    assert.equal(parsePoolUpdate(JSON.stringify({ ...valid, updatedAt })).ok, true, updatedAt);
  }
  assert.equal(parsePoolUpdate(JSON.stringify({ ...valid, amountMinor: 0 })).ok, true, 'an empty pool is 0');
  assert.equal(parsePoolUpdate(JSON.stringify({ ...valid, amountMinor: Number.MAX_SAFE_INTEGER })).ok, true);
});

void test('parsePoolUpdate refuses what it cannot show exactly', () => {
  const table: Array<[string, string]> = [
    ['not json', '{"poolId":'],
    ['an array', '[]'],
    ['null', 'null'],
    ['missing poolId', JSON.stringify({ ...valid, poolId: undefined })],
    ['empty poolId', JSON.stringify({ ...valid, poolId: '' })],
    ['poolId of another jackpot', JSON.stringify({ ...valid, poolId: 'other:grand' })],
    ['poolId without tier', JSON.stringify({ ...valid, poolId: 'demo:' })],
    ['jackpotId a number', JSON.stringify({ ...valid, jackpotId: 5 })],
    ['amount as a string', JSON.stringify({ ...valid, amountMinor: '123456' })],
    ['fractional amount', JSON.stringify({ ...valid, amountMinor: 1.5 })],
    ['negative amount', JSON.stringify({ ...valid, amountMinor: -1 })],
    [
      'amount beyond 2^53 (rounded by JSON.parse)',
      '{"poolId":"demo:grand","jackpotId":"demo","cycle":1,"amountMinor":9007199254740993,"version":1,"updatedAt":"2026-11-29T12:00:00Z"}',
    ],
    ['cycle 0', JSON.stringify({ ...valid, cycle: 0 })],
    ['version 0', JSON.stringify({ ...valid, version: 0 })],
    ['version as a string', JSON.stringify({ ...valid, version: '7' })],
    ['updatedAt not ISO', JSON.stringify({ ...valid, updatedAt: 'yesterday' })],
    ['updatedAt a number', JSON.stringify({ ...valid, updatedAt: 1_700_000_000_000 })],
  ];
  for (const [name, text] of table) {
    const r = parsePoolUpdate(text);
    assert.equal(r.ok, false, name);
    if (!r.ok) assert.ok(r.reason.length > 0, name);
  }
});

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
