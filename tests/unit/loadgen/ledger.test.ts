import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GameShares } from '../../../loadgen/src/jackpot-config.js';
import { createLedger, poolsToJson } from '../../../loadgen/src/ledger.js';
import type { WagerMessage } from '../../../shared/src/messages/wager.js';
import { createTraffic, type TrafficEvent } from '../../../loadgen/src/traffic.js';
import { TWO_JACKPOTS } from '../../helpers/loadgen-shares.js';

const config: GameShares = {
  games: [...TWO_JACKPOTS.games, { gameId: 'lonely', jackpotId: 'empty', currency: 'EUR', pools: [] }],
};

let n = 0;
function wager(over: Partial<WagerMessage> = {}): WagerMessage {
  n++;
  return {
    eventId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
    occurredAt: '2026-11-29T12:00:00.000Z',
    gameId: 'g1',
    playerId: 'p-1',
    currency: 'EUR',
    amountMinor: 100,
    ...over,
  };
}

const fresh = (origin: number, w: WagerMessage): TrafficEvent => ({
  kind: 'wager',
  origin,
  duplicate: false,
  wager: w,
});
const copy = (origin: number, w: WagerMessage): TrafficEvent => ({
  kind: 'wager',
  origin,
  duplicate: true,
  wager: w,
});

void test('a wager counts amount × ppm in every pool of its game, once however many copies are acked', () => {
  const ledger = createLedger(config);
  const w = wager({ amountMinor: 250 });
  const events = [fresh(0, w), copy(0, w), copy(0, { ...w, occurredAt: '2026-11-29T12:00:01.000Z' })];
  for (const e of events) {
    ledger.sent(e);
    ledger.acked(e);
  }
  const s = ledger.snapshot();
  assert.equal(s.sent, 3);
  assert.equal(s.duplicates, 2);
  assert.equal(s.distinct, 1);
  assert.equal(s.acked, 3);
  assert.equal(s.unconfirmed, 0);
  assert.deepEqual(poolsToJson(s.pools), {
    'big:main': { jackpotId: 'big', wagers: 0, wageredMinor: '0', contributionMicro: '0', reserveMicro: '0' },
    'jp:grand': {
      jackpotId: 'jp',
      wagers: 1,
      wageredMinor: '250',
      contributionMicro: '308500',
      reserveMicro: '0',
    },
    'jp:mini': {
      jackpotId: 'jp',
      wagers: 1,
      wageredMinor: '250',
      contributionMicro: '1250000',
      reserveMicro: '250000',
    },
  });
});

void test('a wager whose original failed but whose copy was acked counts once; one never acked is unconfirmed', () => {
  const ledger = createLedger(config);
  const a = wager();
  const b = wager();
  ledger.sent(fresh(0, a));
  ledger.failed(fresh(0, a), 'kafka_unavailable');
  ledger.sent(copy(0, a));
  ledger.acked(copy(0, a));
  ledger.sent(fresh(1, b));
  ledger.failed(fresh(1, b), 'http_503');
  const s = ledger.snapshot();
  assert.equal(s.distinct, 1);
  assert.equal(s.unconfirmed, 1);
  assert.equal(s.errors, 2);
  assert.deepEqual(s.errorsByCode, { kafka_unavailable: 1, http_503: 1 });
  assert.equal(s.pools.get('jp:mini')?.wagers, 1);
});

void test('invalid events count nothing toward pools and one dead letter each when acked', () => {
  const ledger = createLedger(config);
  const bad: TrafficEvent[] = [
    { kind: 'invalid', reason: 'malformed_json', key: 'p-1', value: '{"eventId":' },
    {
      kind: 'invalid',
      reason: 'amount_out_of_range',
      key: 'p-1',
      value: JSON.stringify(wager({ amountMinor: 0 })),
    },
    {
      kind: 'invalid',
      reason: 'amount_out_of_range',
      key: 'p-1',
      value: JSON.stringify(wager({ amountMinor: 0 })),
    },
    { kind: 'invalid', reason: 'unknown_game', key: 'p-1', value: JSON.stringify(wager({ gameId: 'nope' })) },
  ];
  for (const e of bad) ledger.sent(e);
  for (const e of bad.slice(0, 3)) ledger.acked(e);
  const s = ledger.snapshot();
  assert.deepEqual(s.invalid, { malformed_json: 1, amount_out_of_range: 2, unknown_game: 1 });
  assert.deepEqual(s.deadLetters, { malformed_json: 1, amount_out_of_range: 2 });
  assert.equal(s.unconfirmedInvalid, 1);
  assert.equal(s.distinct, 0);
  assert.ok([...s.pools.values()].every((p) => p.contributionMicro === 0n));
});

void test('a "valid" wager the configuration does not cover is expected as a dead letter', () => {
  const ledger = createLedger(config);
  const events = [
    fresh(0, wager({ gameId: 'unconfigured' })),
    fresh(1, wager({ gameId: 'h1', currency: 'EUR' })),
  ];
  for (const e of events) {
    ledger.sent(e);
    ledger.acked(e);
  }
  const s = ledger.snapshot();
  assert.deepEqual(s.deadLetters, { unknown_game: 1, currency_mismatch: 1 });
  assert.equal(s.distinct, 0);
  assert.equal(s.unconfirmed, 0);
});

void test('probe and traffic origins are separate number spaces', () => {
  const ledger = createLedger(config);
  const t = fresh(0, wager());
  const p = fresh(0, wager({ gameId: 'h1', currency: 'USD', amountMinor: 1 }));
  ledger.sent(t);
  ledger.acked(t);
  ledger.sent(p, 'probe');
  ledger.acked(p, 'probe');
  const s = ledger.snapshot();
  assert.equal(s.distinct, 2);
  assert.equal(s.probes, 1);
  assert.equal(s.pools.get('big:main')?.contributionMicro, 1_000_000n);
});

void test('sums stay exact past 2^53 micro-units', () => {
  const ledger = createLedger(config);
  for (let i = 0; i < 20; i++) {
    const e = fresh(i, wager({ gameId: 'h1', currency: 'USD', amountMinor: 1_000_000_000 }));
    ledger.sent(e);
    ledger.acked(e);
  }
  // 20 × 1e9 × 1e6 = 2e16 > 2^53 ≈ 9.007e15.
  assert.equal(poolsToJson(ledger.snapshot().pools)['big:main']?.contributionMicro, '20000000000000000');
});

void test('over generated traffic, the ledger equals an independent sum over distinct eventIds', () => {
  const traffic = createTraffic({
    seed: 5,
    games: config.games.map((g) => ({ gameId: g.gameId, currency: g.currency })),
    dupRate: 0.1,
    invalidRate: 0.05,
  });
  const ledger = createLedger(config);
  const byEventId = new Map<string, WagerMessage>();
  for (let i = 0; i < 50_000; i++) {
    const e = traffic.next(1_795_953_600_000 + i);
    ledger.sent(e);
    // Every 7th message fails; its copies, if any, may still land.
    if (i % 7 === 3) {
      ledger.failed(e, 'x');
      continue;
    }
    ledger.acked(e);
    if (e.kind === 'wager' && !byEventId.has(e.wager.eventId)) byEventId.set(e.wager.eventId, e.wager);
  }
  const expected = new Map<string, bigint>();
  for (const w of byEventId.values()) {
    for (const p of config.games.find((g) => g.gameId === w.gameId)?.pools ?? []) {
      expected.set(
        p.poolId,
        (expected.get(p.poolId) ?? 0n) + BigInt(w.amountMinor) * BigInt(p.contributionPpm),
      );
    }
  }
  const s = ledger.snapshot();
  assert.equal(s.distinct, byEventId.size);
  for (const [poolId, micro] of expected) assert.equal(s.pools.get(poolId)?.contributionMicro, micro, poolId);
  assert.ok(s.unconfirmed > 0);
});
