import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWager, validateWager } from '../../../shared/src/domain/wager.js';
import {
  createProbeTraffic,
  createTraffic,
  INVALID_REASONS,
  type GameSpec,
  type TrafficEvent,
} from '../../../loadgen/src/traffic.js';
import type { WagerMessage } from '../../../shared/src/messages/wager.js';

const NOW = Date.parse('2026-11-29T12:00:00.000Z');
const games: GameSpec[] = Array.from({ length: 50 }, (_, i) => ({
  gameId: `game-${i}`,
  currency: i % 5 === 0 ? 'USD' : 'EUR',
}));
const currencyOf = new Map(games.map((g) => [g.gameId, g.currency]));

/** `n` events, the clock moving 1 ms an event. */
function generate(n: number, opts: Partial<Parameters<typeof createTraffic>[0]> = {}): TrafficEvent[] {
  const traffic = createTraffic({ seed: 42, games, ...opts });
  return Array.from({ length: n }, (_, i) => traffic.next(NOW + i));
}

function wagers(events: readonly TrafficEvent[]): (TrafficEvent & { kind: 'wager' })[] {
  return events.filter((e): e is TrafficEvent & { kind: 'wager' } => e.kind === 'wager');
}

void test('the same seed and clock give the same events; another seed does not', () => {
  const opts = { dupRate: 0.05, invalidRate: 0.05 };
  assert.deepEqual(generate(5000, opts), generate(5000, opts));
  assert.notDeepEqual(generate(100, { ...opts, seed: 43 }), generate(100, opts));
});

void test('every generated wager passes the pipeline’s own validation, on a configured game in its currency', () => {
  for (const e of wagers(generate(20_000, { dupRate: 0.02 }))) {
    const parsed = validateWager(JSON.parse(JSON.stringify(e.wager)), NOW + 20_000);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
    assert.equal(currencyOf.get(e.wager.gameId), e.wager.currency);
  }
});

void test('games and players are skewed, bets heavy-tailed, within the contract range', () => {
  const ws = wagers(generate(100_000)).map((e) => e.wager);
  const byGame = new Map<string, number>();
  const byPlayer = new Map<string, number>();
  for (const w of ws) {
    byGame.set(w.gameId, (byGame.get(w.gameId) ?? 0) + 1);
    byPlayer.set(w.playerId, (byPlayer.get(w.playerId) ?? 0) + 1);
  }
  const gameCounts = [...byGame.values()].sort((a, b) => b - a);
  // Zipf(50, 1.1): the top game takes ~25 %, the median one under 1 %.
  const top = (gameCounts[0] ?? 0) / ws.length;
  assert.ok(top > 0.15 && top < 0.35, `top game share ${top}`);
  assert.ok((gameCounts[0] ?? 0) > 10 * (gameCounts[25] ?? 1));
  // Zipf(100,000, 1.1) over 100,000 draws: far fewer distinct players than draws, one very heavy.
  assert.ok(byPlayer.size < 60_000, `distinct players ${byPlayer.size}`);
  assert.ok(Math.max(...byPlayer.values()) > 2000);

  const amounts = ws.map((w) => w.amountMinor).sort((a, b) => a - b);
  const q = (p: number): number => amounts[Math.floor(p * (amounts.length - 1))] ?? 0;
  assert.ok(q(0.5) >= 80 && q(0.5) <= 125, `median ${q(0.5)}`);
  assert.ok(q(0.99) > 10 * q(0.5), `p99 ${q(0.99)} vs median ${q(0.5)}`);
  assert.ok(amounts.every((a) => Number.isInteger(a) && a >= 1 && a <= 1_000_000_000));
});

void test('the bet clip holds even for an absurd spread', () => {
  const ws = wagers(generate(20_000, { amountSigma: 12 })).map((e) => e.wager.amountMinor);
  assert.ok(ws.includes(1) && ws.includes(1_000_000_000));
  assert.ok(ws.every((a) => a >= 1 && a <= 1_000_000_000));
});

void test('duplicates: the requested share, each an exact earlier wager but sometimes for occurredAt', () => {
  const events = generate(100_000, { dupRate: 0.02 });
  const originals = new Map<number, WagerMessage>();
  let dups = 0;
  let retimed = 0;
  for (const e of wagers(events)) {
    if (!e.duplicate) {
      assert.ok(!originals.has(e.origin));
      originals.set(e.origin, e.wager);
      continue;
    }
    dups++;
    const original = originals.get(e.origin);
    assert.ok(original !== undefined, 'a duplicate re-sends a wager already sent');
    const { occurredAt, ...rest } = e.wager;
    const { occurredAt: originalAt, ...originalRest } = original;
    assert.deepEqual(rest, originalRest);
    if (occurredAt !== originalAt) retimed++;
  }
  assert.ok(
    dups / events.length > 0.017 && dups / events.length < 0.023,
    `duplicate share ${dups / events.length}`,
  );
  assert.ok(retimed / dups > 0.2 && retimed / dups < 0.4, `retimed share ${retimed / dups}`);
  // Distinct eventIds are exactly the originals.
  const ids = new Set(wagers(events).map((e) => e.wager.eventId));
  assert.equal(ids.size, originals.size);
});

void test('invalid events are really invalid, for the reason they carry, in the requested share', () => {
  const events = generate(40_000, { invalidRate: 0.1 });
  const invalid = events.filter((e): e is TrafficEvent & { kind: 'invalid' } => e.kind === 'invalid');
  assert.ok(invalid.length / events.length > 0.09 && invalid.length / events.length < 0.11);
  const byReason = new Map<string, number>();
  for (const e of invalid) {
    byReason.set(e.reason, (byReason.get(e.reason) ?? 0) + 1);
    const parsed = parseWager(Buffer.from(e.value, 'utf8'), NOW + 40_000);
    switch (e.reason) {
      case 'malformed_json':
      case 'amount_out_of_range':
        assert.equal(parsed.ok ? 'ok' : parsed.reason, e.reason);
        break;
      case 'unknown_game':
        // Well-formed, so only the configuration can reject it.
        assert.ok(parsed.ok);
        assert.equal(currencyOf.has(parsed.wager.gameId), false);
        break;
      case 'currency_mismatch':
        assert.ok(parsed.ok);
        assert.notEqual(currencyOf.get(parsed.wager.gameId), undefined);
        assert.notEqual(currencyOf.get(parsed.wager.gameId), parsed.wager.currency);
        break;
    }
    assert.ok(e.key.length > 0);
  }
  assert.deepEqual([...byReason.keys()].sort(), [...INVALID_REASONS].sort());
});

void test('an unknown game is unknown even when the configuration has a game of that name pattern', () => {
  const tricky: GameSpec[] = [{ gameId: 'loadgen-unknown-0', currency: 'EUR' }];
  const traffic = createTraffic({ seed: 1, games: tricky, invalidRate: 1, invalidReasons: ['unknown_game'] });
  for (let i = 0; i < 100; i++) {
    const e = traffic.next(NOW);
    assert.equal(e.kind, 'invalid');
    if (e.kind === 'invalid')
      assert.notEqual((JSON.parse(e.value) as WagerMessage).gameId, 'loadgen-unknown-0');
  }
});

void test('rates out of range are refused', () => {
  assert.throws(() => createTraffic({ seed: 1, games, dupRate: 1.5 }), RangeError);
  assert.throws(() => createTraffic({ seed: 1, games, dupRate: 0.6, invalidRate: 0.6 }), RangeError);
  assert.throws(() => createTraffic({ seed: 1, games: [] }), RangeError);
});

void test('probe wagers: fixed game and amount, distinct ids, independent of the main stream', () => {
  const probe = createProbeTraffic({ seed: 42, gameId: 'probe-game', currency: 'EUR', amountMinor: 1 });
  const ids = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const e = probe.next(NOW);
    assert.equal(e.origin, i);
    assert.equal(e.wager.gameId, 'probe-game');
    assert.equal(e.wager.amountMinor, 1);
    ids.add(e.wager.eventId);
  }
  assert.equal(ids.size, 100);
  const main = wagers(generate(1000)).map((e) => e.wager.eventId);
  assert.ok(main.every((id) => !ids.has(id)));
});
