/**
 * Known inputs and an independent expectation for pipeline tests: jackpot configuration stored the
 * way the admin API stores it (validator and jackpot store), wagers with duplicates and bad ones
 * mixed in, and the pool totals they must produce computed here with plain BigInt (never with the
 * code under test).
 */
import type { JackpotRequest } from '../../shared/src/domain/jackpot-config.js';
import type pg from 'pg';
import type { DrawTriggerMinor } from '../../shared/src/domain/index.js';
import { validateJackpotConfig } from '../../shared/src/domain/jackpot-config.js';
import { putJackpot } from '../../shared/src/jackpot-store.js';
import { newEventId } from '../../shared/src/producer.js';

export type JackpotSpec = JackpotRequest;

/** Configures a jackpot the way the admin API does (validation, cycle records, seed top-ups, audit). */
export async function seedJackpot(
  pool: pg.Pool,
  spec: JackpotSpec,
  drawTriggerMinor?: DrawTriggerMinor,
): Promise<void> {
  const valid = validateJackpotConfig(spec.jackpotId, {
    currency: spec.currency,
    pools: spec.pools,
    games: spec.games,
  });
  if (!valid.ok) throw new Error(`bad test jackpot ${spec.jackpotId}: ${JSON.stringify(valid.details)}`);
  const client = await pool.connect();
  try {
    const stored = await putJackpot(client, valid.config, {
      actor: 'test',
      ...(drawTriggerMinor ? { drawTriggerMinor } : {}),
    });
    if (!stored.ok) throw new Error(`test jackpot ${spec.jackpotId} refused: ${JSON.stringify(stored)}`);
  } finally {
    client.release();
  }
}

export interface TestWager {
  eventId: string;
  occurredAt: string;
  gameId: string;
  playerId: string;
  currency: string;
  amountMinor: number;
}

/** A raw message as a producer would send it; `expectReason` when the pipeline must reject it. */
export interface RawEvent {
  readonly key: string | null;
  readonly value: Buffer;
  readonly wager?: TestWager;
  readonly expectReason?: string;
}

/** A small deterministic PRNG so a failing run can be replayed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function wager(over: Partial<TestWager> = {}): TestWager {
  return {
    // Time-ordered, as game servers are advised to make them (the chaos suite keeps sending v4).
    eventId: newEventId(),
    occurredAt: new Date().toISOString(),
    gameId: 'game-1',
    playerId: 'p-1',
    currency: 'EUR',
    amountMinor: 100,
    ...over,
  };
}

export function asEvent(w: TestWager): RawEvent {
  return { key: w.playerId, value: Buffer.from(JSON.stringify(w)), wager: w };
}

/**
 * A stream of `n` valid wagers over `games`, plus about 5 % re-sends (same eventId, another
 * occurredAt) and five bad events spread through it, one for each of `malformed_json`,
 * `amount_out_of_range`, `unknown_game`, `currency_mismatch` and `empty_payload`.
 */
export function mixedStream(n: number, games: readonly string[], currency: string, seed = 1): RawEvent[] {
  const rnd = prng(seed);
  const out: RawEvent[] = [];
  for (let i = 0; i < n; i++) {
    const w = wager({
      gameId: games[Math.floor(rnd() * games.length)] ?? 'game-1',
      playerId: `p-${Math.floor(rnd() * 500)}`,
      currency,
      amountMinor: 1 + Math.floor(rnd() * rnd() * 50_000),
    });
    out.push(asEvent(w));
    if (rnd() < 0.05) out.push(asEvent({ ...w, occurredAt: new Date(Date.now() - 60_000).toISOString() }));
  }
  const bad: RawEvent[] = [
    { key: 'p-x', value: Buffer.from('{"eventId": nope'), expectReason: 'malformed_json' },
    {
      key: 'p-x',
      value: Buffer.from(JSON.stringify(wager({ amountMinor: 0 }))),
      expectReason: 'amount_out_of_range',
    },
    {
      key: 'p-x',
      value: Buffer.from(JSON.stringify(wager({ gameId: 'no-such-game' }))),
      expectReason: 'unknown_game',
    },
    {
      key: 'p-x',
      value: Buffer.from(JSON.stringify(wager({ gameId: games[0] ?? 'game-1', currency: 'XXX' }))),
      expectReason: 'currency_mismatch',
    },
    { key: null, value: Buffer.alloc(0), expectReason: 'empty_payload' },
  ];
  bad.forEach((b, i) => out.splice(Math.floor(((i + 1) * out.length) / (bad.length + 1)), 0, b));
  return out;
}

/** Distinct eventIds that must be applied: valid, linked, in the jackpot's currency. */
export function expectedApplied(events: readonly RawEvent[], jackpots: readonly JackpotSpec[]): number {
  const currencyOf = new Map(jackpots.flatMap((j) => j.games.map((g) => [g, j.currency] as const)));
  const ids = events.filter(
    (e) => e.expectReason === undefined && e.wager && currencyOf.get(e.wager.gameId) === e.wager.currency,
  );
  return new Set(ids.map((e) => e.wager?.eventId.toLowerCase())).size;
}

/** Expected micro-units per pool: the seed plus amount × ppm of every distinct valid eventId. */
export function expectedTotals(
  events: readonly RawEvent[],
  jackpots: readonly JackpotSpec[],
): Map<string, bigint> {
  const totals = new Map<string, bigint>();
  const poolsOfGame = new Map<string, { poolId: string; ppm: number; currency: string }[]>();
  for (const j of jackpots) {
    for (const p of j.pools) totals.set(`${j.jackpotId}:${p.tier}`, BigInt(p.seedMinor) * 1_000_000n);
    for (const g of j.games)
      poolsOfGame.set(
        g,
        j.pools.map((p) => ({
          poolId: `${j.jackpotId}:${p.tier}`,
          ppm: p.contributionPpm,
          currency: j.currency,
        })),
      );
  }
  const seen = new Set<string>();
  for (const e of events) {
    if (e.expectReason !== undefined || e.wager === undefined) continue;
    const id = e.wager.eventId.toLowerCase();
    const pools = poolsOfGame.get(e.wager.gameId) ?? [];
    // Unknown games and wrong currencies are dead-lettered and do not claim their eventId.
    if (seen.has(id) || pools.length === 0 || pools[0]?.currency !== e.wager.currency) continue;
    seen.add(id);
    for (const p of pools)
      totals.set(p.poolId, (totals.get(p.poolId) ?? 0n) + BigInt(e.wager.amountMinor) * BigInt(p.ppm));
  }
  return totals;
}

export async function poolMicros(pool: pg.Pool): Promise<Map<string, bigint>> {
  const rows = (
    await pool.query<{ pool_id: string; amount_micro: string }>(
      'SELECT pool_id, amount_micro::text FROM jackpot.pool_totals',
    )
  ).rows;
  return new Map(rows.map((r) => [r.pool_id, BigInt(r.amount_micro)]));
}

/** Polls `check` until it returns true or `ms` pass; returns whether it became true. */
export async function eventually(check: () => Promise<boolean>, ms = 30_000, stepMs = 100): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}
