import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOPICS } from '../../../shared/src/kafka.js';
import {
  AWARD_SCHEMA_VERSION,
  awardRecord,
  decodeAward,
  encodeAward,
  type AwardMessage,
} from '../../../shared/src/messages/award.js';

const valid = {
  winId: '0b6f0c1e-4d4f-4f5e-9a43-8d2b1f0f6a10',
  poolId: 'demo:grand',
  cycle: 3,
  amountMinor: 1_000_250,
  kind: 'claim',
  gameId: 'starburst-eu',
  playerId: 'p-12345',
  wonAt: '2026-11-29T12:00:00.123Z',
};
const award: AwardMessage = { ...valid, kind: 'claim', amountMinor: 1_000_250n };

void test('award: the version is the topic name’s', () => {
  assert.ok(TOPICS.awards.endsWith(`.v${AWARD_SCHEMA_VERSION}`));
});

void test('encodeAward writes the contract’s fields in its order; the record is keyed by pool with the win id header', () => {
  assert.equal(encodeAward(award), JSON.stringify(valid));
  assert.deepEqual(awardRecord(award), {
    key: 'demo:grand',
    value: JSON.stringify(valid),
    headers: { 'x-win-id': valid.winId },
  });
  assert.equal(
    (
      JSON.parse(
        encodeAward({ ...award, amountMinor: 2n ** 60n }).replace(
          /"amountMinor":(\d+)/,
          '"amountMinor":"$1"',
        ),
      ) as { amountMinor: string }
    ).amountMinor,
    (2n ** 60n).toString(),
    'an amount beyond 2^53 is written exactly',
  );
});

void test('decodeAward reads what encodeAward writes', () => {
  assert.deepEqual(decodeAward(encodeAward(award)), { ok: true, message: award });
  assert.deepEqual(decodeAward(Buffer.from(encodeAward({ ...award, kind: 'mystery' }))), {
    ok: true,
    message: { ...award, kind: 'mystery' },
  });
  assert.equal(decodeAward(JSON.stringify({ ...valid, extra: 1 })).ok, true, 'unknown fields are ignored');
});

void test('decodeAward refuses bad messages', () => {
  const table: Array<[string, string | null]> = [
    ['a tombstone', null],
    ['not json', '{"winId"'],
    ['an array', '[]'],
    ['winId not a UUID', JSON.stringify({ ...valid, winId: 'w-1' })],
    ['poolId without a tier', JSON.stringify({ ...valid, poolId: 'demo' })],
    ['poolId without a jackpot', JSON.stringify({ ...valid, poolId: ':grand' })],
    ['cycle 0', JSON.stringify({ ...valid, cycle: 0 })],
    ['amount negative', JSON.stringify({ ...valid, amountMinor: -5 })],
    ['amount a string', JSON.stringify({ ...valid, amountMinor: '5' })],
    ['amount beyond 2^53', JSON.stringify(valid).replace('1000250', '9007199254740993')],
    ['unknown kind', JSON.stringify({ ...valid, kind: 'bonus' })],
    ['empty gameId', JSON.stringify({ ...valid, gameId: '' })],
    ['missing playerId', JSON.stringify({ ...valid, playerId: undefined })],
    ['wonAt not ISO', JSON.stringify({ ...valid, wonAt: 'now' })],
  ];
  for (const [name, value] of table) {
    const r = decodeAward(value);
    assert.equal(r.ok, false, name);
    if (!r.ok) assert.ok(r.reason.length > 0, name);
  }
});
