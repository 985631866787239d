/**
 * Pre-generated traffic (`npm run bench`) sends the bytes the live path would send and expects what
 * the live path's ledger would: the same seeded events, encoded by the producer library's encoder,
 * each to the producer its key's shard names; the expectation after any whole number of chunks
 * equals a ledger fed the same events, whether all of them were acknowledged or only some.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shard } from '../../../loadgen/src/kafka-sender.js';
import { createLedger, poolsToJson, type LedgerSnapshot } from '../../../loadgen/src/ledger.js';
import { CHUNK, mergeSnapshots, pregenerate } from '../../../loadgen/src/pregenerated.js';
import { createTraffic, type TrafficEvent } from '../../../loadgen/src/traffic.js';
import { encodeWager } from '../../../shared/src/messages/wager.js';
import { TWO_JACKPOTS } from '../../helpers/loadgen-shares.js';

const config = TWO_JACKPOTS;

const traffic = {
  seed: 11,
  games: config.games.map((g) => ({ gameId: g.gameId, currency: g.currency })),
  players: 50,
  // High rates, so that a few thousand events have many copies and every kind of invalid one.
  dupRate: 0.2,
  invalidRate: 0.1,
  eventIds: 'v7' as const,
};
const START_MS = Date.parse('2026-11-30T12:00:00Z');
const RATE = 2000;

function liveEvents(count: number): TrafficEvent[] {
  const t = createTraffic(traffic);
  return Array.from({ length: count }, (_, i) => t.next(Math.floor(START_MS + (i * 1000) / RATE)));
}

function comparable(s: LedgerSnapshot): unknown {
  return { ...s, pools: poolsToJson(s.pools) };
}

function liveLedger(events: readonly TrafficEvent[], acked: (i: number) => boolean): LedgerSnapshot {
  const ledger = createLedger(config);
  events.forEach((e, i) => {
    ledger.sent(e);
    if (acked(i)) ledger.acked(e);
  });
  return ledger.snapshot();
}

const pre = pregenerate({
  traffic,
  config,
  count: 5 * CHUNK - 3,
  startMs: START_MS,
  ratePerS: RATE,
  producers: 4,
  shard,
});
const events = liveEvents(pre.count);

void test('makes whole chunks of the live path’s events, as the bytes the producer library sends', () => {
  assert.equal(pre.count, 5 * CHUNK);
  events.forEach((e, i) => {
    const key = e.kind === 'invalid' ? e.key : e.wager.playerId;
    const value = e.kind === 'invalid' ? Buffer.from(e.value, 'utf8') : encodeWager(e.wager);
    assert.equal(pre.key(i).toString('utf8'), key, `key of event ${i}`);
    assert.ok(pre.value(i).equals(value), `value of event ${i}`);
    assert.equal(pre.producerOf(i), shard(key, 4));
    assert.equal(pre.isWager(i), e.kind === 'wager');
  });
  assert.ok(events.some((e) => e.kind === 'invalid'));
  assert.ok(events.some((e) => e.kind === 'wager' && e.duplicate));
});

void test('expects, after each whole chunk all acknowledged, what the live ledger expects', () => {
  for (let chunks = 0; chunks <= 5; chunks++) {
    const n = chunks * CHUNK;
    assert.deepEqual(
      comparable(pre.expectation(n, () => true)),
      comparable(liveLedger(events.slice(0, n), () => true)),
    );
  }
});

void test('with some messages unacknowledged, expects exactly what the live ledger does', () => {
  const n = 4 * CHUNK;
  // Some originals lost while a copy got through, some copies lost, some invalid events lost.
  const lost = (i: number): boolean => i % 7 === 3 || i % 11 === 0;
  const expected = liveLedger(events.slice(0, n), (i) => !lost(i));
  const got = pre.expectation(n, (i) => !lost(i));
  assert.deepEqual(comparable(got), comparable(expected));
  assert.ok(got.unconfirmed > 0 && got.unconfirmedInvalid > 0);
  assert.throws(() => pre.expectation(n + 1, () => true), RangeError);
});

void test('merges the probes’ ledger into the traffic’s', () => {
  const a = pre.expectation(CHUNK, () => true);
  const probes = createLedger(config);
  const probe: TrafficEvent = {
    kind: 'wager',
    origin: 0,
    duplicate: false,
    wager: { eventId: 'x', occurredAt: '', gameId: 'h1', playerId: 'probe', currency: 'USD', amountMinor: 3 },
  };
  probes.sent(probe, 'probe');
  probes.acked(probe, 'probe');
  const merged = mergeSnapshots(a, probes.snapshot());
  assert.equal(merged.sent, a.sent + 1);
  assert.equal(merged.probes, 1);
  assert.equal(merged.distinct, a.distinct + 1);
  assert.equal(
    merged.pools.get('big:main')?.contributionMicro,
    (a.pools.get('big:main')?.contributionMicro ?? 0n) + 3_000_000n,
  );
});
