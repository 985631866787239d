import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkWagers, mergeRejected, wagerItems } from '../../../../services/ingest/src/wager-request.js';
import { CONTRACT_WAGER } from '../../../helpers/contract-wager.js';

const NOW = Date.parse('2026-11-29T12:00:00.000Z');
const W = CONTRACT_WAGER;

const SHAPES: readonly { name: string; body: unknown; expect: string }[] = [
  { name: 'one wager', body: W, expect: 'items 1' },
  { name: 'a batch', body: { wagers: [W, W, 'x'] }, expect: 'items 3' },
  { name: 'a batch of exactly the maximum', body: { wagers: [W, W, W, W] }, expect: 'items 4' },
  { name: 'one more than the maximum', body: { wagers: [W, W, W, W, W] }, expect: '413 too_many_wagers' },
  { name: 'an empty batch', body: { wagers: [] }, expect: '400 bad_request' },
  { name: 'wagers not an array', body: { wagers: W }, expect: '400 bad_request' },
  { name: 'a bare array', body: [W], expect: '400 bad_request' },
  { name: 'no body', body: undefined, expect: '400 bad_request' },
  { name: 'null', body: null, expect: '400 bad_request' },
  { name: 'a string', body: 'hello', expect: '400 bad_request' },
  // An object without `wagers` is one wager, even an empty one: validation then says what is missing.
  { name: 'an empty object', body: {}, expect: 'items 1' },
];

for (const c of SHAPES) {
  void test(`wagerItems: ${c.name} → ${c.expect}`, () => {
    const r = wagerItems(c.body, 4);
    assert.equal(r.ok ? `items ${r.items.length}` : `${r.status} ${r.code}`, c.expect);
  });
}

void test('wagerItems: an inherited wagers property does not make a batch', () => {
  const r = wagerItems(Object.create({ wagers: [W] }) as unknown, 4);
  assert.equal(r.ok && r.items.length, 1);
});

void test('checkWagers keeps request indexes and reason codes, and the validated wagers in order', () => {
  const items = [
    W,
    { ...W, amountMinor: 0 },
    { ...W, eventId: W.eventId.toUpperCase() },
    7,
    { ...W, gameId: undefined },
  ];
  const { accepted, rejected } = checkWagers(items, NOW);
  assert.deepEqual(
    accepted.map((a) => [a.index, a.wager.eventId]),
    [
      [0, W.eventId],
      [2, W.eventId],
    ],
  );
  assert.deepEqual(
    rejected.map((r) => [r.index, r.code]),
    [
      [1, 'amount_out_of_range'],
      [3, 'not_an_object'],
      [4, 'missing_field'],
    ],
  );
});

void test('checkWagers judges occurredAt against the given clock', () => {
  const future = { ...W, occurredAt: '2026-11-29T14:00:00Z' };
  assert.equal(checkWagers([future], NOW).rejected[0]?.code, 'occurred_at_in_future');
  assert.equal(checkWagers([future], NOW + 2 * 3600_000).accepted.length, 1);
});

void test('checkWagers refuses games outside the scope as game_not_in_scope, after validation, in request order', () => {
  const items = [
    { ...W, gameId: 'mine' },
    { ...W, gameId: 'theirs' },
    { ...W, gameId: 'theirs', amountMinor: 0 },
    W,
  ];
  const { accepted, rejected } = checkWagers(items, NOW, (g) => g !== 'theirs');
  assert.deepEqual(
    accepted.map((a) => a.index),
    [0, 3],
  );
  assert.deepEqual(
    rejected.map((r) => [r.index, r.code]),
    [
      [1, 'game_not_in_scope'],
      [2, 'amount_out_of_range'],
    ],
  );
  assert.doesNotMatch(rejected[0]?.message ?? '', /jackpot "/, 'the other jackpot is not named');
});

void test('mergeRejected keeps request order', () => {
  const r = (index: number) => ({ index, code: 'kafka_unavailable' as const, message: '' });
  assert.deepEqual(
    mergeRejected(
      [r(4), r(1)].sort((a, b) => a.index - b.index),
      [r(0), r(3)],
    ).map((x) => x.index),
    [0, 1, 3, 4],
  );
});
