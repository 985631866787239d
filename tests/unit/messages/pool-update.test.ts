import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOPICS } from '../../../shared/src/kafka.js';
import {
  decodePoolUpdate,
  encodePoolUpdate,
  POOL_UPDATE_SCHEMA_VERSION,
  poolUpdateRecord,
  type PoolUpdateMessage,
} from '../../../shared/src/messages/pool-update.js';

const valid = {
  poolId: 'demo:grand',
  jackpotId: 'demo',
  cycle: 2,
  amountMinor: 123_456,
  version: 7,
  updatedAt: '2026-11-29T12:00:00.123Z',
};
const message: PoolUpdateMessage = { ...valid, amountMinor: 123_456n };

void test('pool update: the version is the topic name’s', () => {
  assert.ok(TOPICS.poolUpdates.endsWith(`.v${POOL_UPDATE_SCHEMA_VERSION}`));
});

void test('encodePoolUpdate writes what JSON.stringify wrote before, in the contract’s order', () => {
  assert.equal(encodePoolUpdate(message), JSON.stringify(valid));
  assert.deepEqual(poolUpdateRecord(message), { key: 'demo:grand', value: JSON.stringify(valid) });
  assert.equal(
    encodePoolUpdate({ ...message, amountMinor: 12_345_678_901_234_567_890n }),
    JSON.stringify(valid).replace('123456', '12345678901234567890'),
    'an amount beyond 2^53 is written exactly, never rounded',
  );
  assert.doesNotThrow(
    () => JSON.parse(encodePoolUpdate({ ...message, poolId: 'we"ird:\\x', jackpotId: 'we"ird' })),
    'strings are escaped',
  );
});

void test('decodePoolUpdate reads what encodePoolUpdate writes, as text or bytes', () => {
  assert.deepEqual(decodePoolUpdate(encodePoolUpdate(message)), { ok: true, message });
  assert.deepEqual(decodePoolUpdate(Buffer.from(encodePoolUpdate(message), 'utf8')), { ok: true, message });
});

void test('decodePoolUpdate accepts good messages', () => {
  const table: Array<[string, unknown]> = [
    ['unknown fields ignored', { ...valid, somethingNew: true }],
    ['a timestamp without fraction', { ...valid, updatedAt: '2026-11-29T12:00:00Z' }],
    ['a timestamp with an offset', { ...valid, updatedAt: '2026-11-29T13:00:00.123456+01:00' }],
    ['an empty pool', { ...valid, amountMinor: 0 }],
    ['the largest exact amount', { ...valid, amountMinor: Number.MAX_SAFE_INTEGER }],
  ];
  for (const [name, value] of table) assert.equal(decodePoolUpdate(JSON.stringify(value)).ok, true, name);
  const extra = decodePoolUpdate(JSON.stringify({ ...valid, tier: 'ignored-too' }));
  assert.ok(extra.ok);
  assert.equal('tier' in extra.message, false, 'tier only ever comes from Postgres');
});

void test('decodePoolUpdate refuses what it cannot show exactly', () => {
  const table: Array<[string, string | Uint8Array | null]> = [
    ['a tombstone', null],
    ['not UTF-8', Uint8Array.from([0x7b, 0xff, 0x7d])],
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
      JSON.stringify(valid).replace('123456', '9007199254740993'),
    ],
    ['cycle 0', JSON.stringify({ ...valid, cycle: 0 })],
    ['version 0', JSON.stringify({ ...valid, version: 0 })],
    ['version as a string', JSON.stringify({ ...valid, version: '7' })],
    ['updatedAt not ISO', JSON.stringify({ ...valid, updatedAt: 'yesterday' })],
    ['updatedAt a number', JSON.stringify({ ...valid, updatedAt: 1_700_000_000_000 })],
  ];
  for (const [name, value] of table) {
    const r = decodePoolUpdate(value);
    assert.equal(r.ok, false, name);
    if (!r.ok) assert.ok(r.reason.length > 0, name);
  }
});
