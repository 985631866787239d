/**
 * The aggregator's binary COPY of ledger rows against Postgres itself: every column must be
 * stored exactly as Postgres would store the same value given as text, timestamps with 7 to 9
 * fraction digits and time-zone offsets included.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { from as copyFrom } from 'pg-copy-streams';
import type { LedgerRow, Wager } from '../../shared/src/domain/index.js';
import { createLedgerEncoder, timestampMicros } from '../../services/aggregator/src/ledger-copy.js';
import * as sql from '../../services/aggregator/src/sql.js';
import { createTestDatabase } from '../helpers/db.js';

const db = await createTestDatabase();

/** `LedgerRow`s as binary COPY data through the aggregator's encoder; an empty list gives header and trailer. */
function ledgerCopyChunks(rows: readonly LedgerRow[], chunkBytes?: number): Buffer[] {
  const encoder = createLedgerEncoder(chunkBytes);
  let wager: Wager | undefined;
  for (const r of rows) {
    if (
      wager === undefined ||
      r.eventId !== wager.eventId ||
      r.occurredAt !== wager.occurredAt ||
      r.gameId !== wager.gameId ||
      r.playerId !== wager.playerId ||
      r.wagerCurrency !== wager.currency ||
      r.wagerMinor !== wager.amountMinor
    ) {
      wager = {
        eventId: r.eventId,
        occurredAt: r.occurredAt,
        occurredAtMs: 0, // not encoded: occurred_at comes from the text, to the microsecond
        gameId: r.gameId,
        playerId: r.playerId,
        currency: r.wagerCurrency,
        amountMinor: r.wagerMinor,
      };
    }
    encoder.row(
      wager,
      r.fxRateMicro,
      r.poolId,
      r.cycle,
      r.contributionMicro,
      r.overflowMicro,
      r.reserveMicro,
    );
  }
  return encoder.finish();
}

const TIMESTAMPS = [
  '2026-11-29T01:00:00Z',
  '2026-11-29T01:00:00.1Z',
  '2026-11-29T01:00:00.12Z',
  '2026-11-29T01:00:00.123Z',
  '2026-11-29T01:00:00.1234Z',
  '2026-11-29T01:00:00.123456Z',
  '2026-11-29T01:00:00.1234565Z', // a half: rounds to even, or not, as the double says
  '2026-11-29T01:00:00.1234575Z',
  '2026-11-29T01:00:00.0000005Z',
  '2026-11-29T01:00:00.0000015Z',
  '2026-11-29T01:00:00.000000500Z',
  '2026-11-29T01:00:00.999999499Z',
  '2026-11-29T01:00:00.9999995Z', // rounds up into the next second
  '2026-11-29T23:59:59.9999999Z', // … and the next day
  '2026-11-29T01:00:00.123456789+05:30',
  '2026-11-29T01:00:00-08:00',
  '2024-02-29T23:59:59.999999999+14:00',
  '1999-12-31T23:59:59.999999Z', // just before Postgres's epoch: negative microseconds
  '1970-01-01T00:00:00Z',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999Z',
];

/** A seeded stream of timestamps with every fraction length, so the rounding is exercised widely. */
function randomTimestamps(n: number): string[] {
  let x = 123456789;
  const next = (): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x;
  };
  const pad = (v: number, w: number): string => String(v).padStart(w, '0');
  return Array.from({ length: n }, () => {
    const digits = next() % 10;
    const fraction = digits === 0 ? '' : `.${Array.from({ length: digits }, () => next() % 10).join('')}`;
    const offset =
      next() % 3 === 0
        ? 'Z'
        : `${next() % 2 === 0 ? '+' : '-'}${pad(next() % 15, 2)}:${pad((next() % 4) * 15, 2)}`;
    return `${pad(1900 + (next() % 200), 4)}-${pad(1 + (next() % 12), 2)}-${pad(1 + (next() % 28), 2)}T${pad(next() % 24, 2)}:${pad(next() % 60, 2)}:${pad(next() % 60, 2)}${fraction}${offset}`;
  });
}

function uuid(i: number): string {
  const hex = i.toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const POOLS = ['j:mini', 'j:grand', 'j:é-tier'];

function rowsFor(timestamps: readonly string[]): LedgerRow[] {
  return timestamps.flatMap((occurredAt, i) =>
    POOLS.map((poolId, k) => ({
      eventId: uuid(i * 7919 + 1).replace(/[0-9a-f]$/, 'A'), // upper case hex must parse too
      poolId,
      cycle: 1 + k,
      wagerMinor: 1 + i,
      wagerCurrency: i % 2 === 0 ? 'EUR' : 'SEK',
      fxRateMicro: i % 2 === 0 ? null : 95_123n,
      contributionMicro: k === 2 ? 2n ** 62n + BigInt(i) : BigInt(i) * 10_000n,
      overflowMicro: BigInt(k),
      reserveMicro: k === 1 ? -1n : 0n,
      occurredAt,
      gameId: `game-${i % 5}`,
      playerId: i % 3 === 0 ? `p-${i}` : `pläyer-😀-${i}`,
    })),
  );
}

async function copyRows(rows: readonly LedgerRow[], chunkBytes?: number): Promise<void> {
  const client = await db.pool.connect();
  try {
    await client.query('TRUNCATE jackpot.ledger');
    await pipeline(
      Readable.from(ledgerCopyChunks(rows, chunkBytes)),
      client.query(copyFrom(sql.COPY_LEDGER)),
    );
  } finally {
    client.release();
  }
}

void test('binary COPY stores every column as Postgres stores the same text', async () => {
  const timestamps = [...TIMESTAMPS, ...randomTimestamps(500)];
  const rows = rowsFor(timestamps);
  await copyRows(rows, 1024); // small chunks: rows straddle many chunk boundaries
  const stored = await db.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM jackpot.contributions');
  assert.equal(stored.rows[0]?.n, String(rows.length));

  const { rows: mismatches } = await db.pool.query(
    `SELECT c.event_id, c.pool_id, c.occurred_at, e.occurred_at AS expected_at
       FROM jackpot.contributions c
       JOIN unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],
                   $10::text[], $11::text[], $12::text[])
            AS e(event_id, pool_id, cycle, wager_minor, wager_currency, fx_rate_micro, contribution_micro, overflow_micro, reserve_micro,
                 occurred_at, game_id, player_id)
         ON c.event_id = e.event_id::uuid AND c.pool_id = e.pool_id
      WHERE (c.cycle, c.wager_minor, c.wager_currency, c.contribution_micro, c.overflow_micro, c.reserve_micro, c.occurred_at, c.game_id, c.player_id)
            IS DISTINCT FROM
            (e.cycle, e.wager_minor, e.wager_currency::char(3), e.contribution_micro, e.overflow_micro, e.reserve_micro, e.occurred_at::timestamptz,
             e.game_id, e.player_id)
         OR c.fx_rate_micro IS DISTINCT FROM e.fx_rate_micro`,
    [
      rows.map((r) => r.eventId),
      rows.map((r) => r.poolId),
      rows.map((r) => r.cycle),
      rows.map((r) => r.wagerMinor),
      rows.map((r) => r.wagerCurrency),
      rows.map((r) => r.fxRateMicro?.toString() ?? null),
      rows.map((r) => r.contributionMicro.toString()),
      rows.map((r) => r.overflowMicro.toString()),
      rows.map((r) => r.reserveMicro.toString()),
      rows.map((r) => r.occurredAt),
      rows.map((r) => r.gameId),
      rows.map((r) => r.playerId),
    ],
  );
  assert.deepEqual(mismatches, []);
  const joined = await db.pool.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM jackpot.contributions c JOIN unnest($1::text[]) AS e(id) ON c.event_id = e.id::uuid`,
    [[...new Set(rows.map((r) => r.eventId))]],
  );
  assert.equal(joined.rows[0]?.n, String(rows.length), 'every row found by its event id');
});

void test('a wager with many pools is one ledger row whose shares the view unnests exactly', async () => {
  // 150 shares: past the encoder's first scratch buffers, so they grow mid-wager.
  const [base] = rowsFor(['2026-11-29T01:00:00Z']);
  assert.ok(base);
  const rows = Array.from({ length: 150 }, (_, k) => ({
    ...base,
    poolId: `j:tier-${String(k).padStart(3, '0')}-${'x'.repeat(k % 40)}`,
    cycle: k + 1,
    contributionMicro: BigInt(k) * 1_000_003n,
    overflowMicro: BigInt(k % 7),
    reserveMicro: 2n ** 62n - BigInt(k),
  }));
  await copyRows(rows, 512);
  const ledger = await db.pool.query<{ n: string; shares: number }>(
    'SELECT count(*)::text AS n, max(cardinality(pool_ids)) AS shares FROM jackpot.ledger',
  );
  assert.deepEqual(ledger.rows[0], { n: '1', shares: 150 });
  const view = await db.pool.query<{ pool_id: string; cycle: number; c: string; o: string; r: string }>(
    'SELECT pool_id, cycle, contribution_micro::text AS c, overflow_micro::text AS o, reserve_micro::text AS r FROM jackpot.contributions ORDER BY pool_id',
  );
  assert.deepEqual(
    view.rows,
    rows.map((r) => ({
      pool_id: r.poolId,
      cycle: r.cycle,
      c: r.contributionMicro.toString(),
      o: r.overflowMicro.toString(),
      r: r.reserveMicro.toString(),
    })),
  );
});

void test('timestampMicros equals Postgres microseconds since 2000-01-01', async () => {
  const timestamps = [...TIMESTAMPS, ...randomTimestamps(200)];
  const { rows } = await db.pool.query<{ us: string }>(
    `SELECT ((extract(epoch FROM t::timestamptz - '2000-01-01T00:00:00Z'::timestamptz) * 1000000)::numeric(30, 0))::text AS us
       FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i`,
    [timestamps],
  );
  assert.deepEqual(
    timestamps.map((t) => timestampMicros(t).toString()),
    rows.map((r) => r.us),
  );
});

void test('an empty COPY and bad values', async () => {
  await copyRows([]);
  const [base] = rowsFor(['2026-11-29T01:00:00Z']);
  assert.ok(base);
  for (const [bad, pattern] of [
    [{ ...base, eventId: 'not-a-uuid' }, /UUID/],
    [{ ...base, eventId: `${base.eventId.slice(0, 35)}g` }, /UUID/],
    [{ ...base, playerId: 'a\u0000b' }, /NUL/],
    [{ ...base, gameId: 'a\ud800b' }, /surrogate/],
    [{ ...base, occurredAt: '2026-11-29 01:00:00' }, /RFC 3339/],
    [{ ...base, wagerMinor: 1.5 }, /safe integer/],
    [{ ...base, contributionMicro: 2n ** 63n }, /range/],
  ] as const) {
    assert.throws(
      () => [...ledgerCopyChunks([bad])],
      pattern,
      JSON.stringify(bad, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    );
  }
});
