/** What the demo reads from Postgres: snapshots of the meters, stored positions, applied wagers, the outbox. */
import type pg from 'pg';
import type { Snapshot } from './checks.js';

export async function takeSnapshot(db: pg.Pool, jackpotIds: readonly string[]): Promise<Snapshot> {
  const client = await db.connect();
  try {
    // One snapshot of the database: the meters, dead letters and wins agree with each other.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const at = (await client.query<{ now: Date }>('SELECT now() AS now')).rows[0]?.now ?? new Date();
    const pools = await client.query<{
      pool_id: string;
      jackpot_id: string;
      currency: string;
      cycle: number;
      version: string;
      amount_minor: string;
      amount_micro: string;
      contribution_micro_total: string;
      reserve_micro_total: string;
      overflow_micro_total: string;
      won_micro_total: string;
      hits: string;
    }>(
      `SELECT pool_id, jackpot_id, currency, cycle, version::text, amount_minor::text, amount_micro::text,
              contribution_micro_total::text, reserve_micro_total::text, overflow_micro_total::text,
              won_micro_total::text, hits::text
         FROM jackpot.pool_totals WHERE jackpot_id = ANY($1::text[]) ORDER BY pool_id`,
      [jackpotIds],
    );
    const dead = await client.query<{ reason: string; n: string }>(
      'SELECT reason, count(*)::text AS n FROM jackpot.dead_letters GROUP BY reason',
    );
    const wins = await client.query<{ pool_id: string; n: string; minor: string }>(
      `SELECT pool_id, count(*)::text AS n, coalesce(sum(amount_minor), 0)::text AS minor
         FROM jackpot.wins WHERE kind = 'mystery' GROUP BY pool_id`,
    );
    await client.query('COMMIT');
    return {
      at,
      pools: new Map(
        pools.rows.map((r) => [
          r.pool_id,
          {
            poolId: r.pool_id,
            jackpotId: r.jackpot_id,
            currency: r.currency.trim(),
            cycle: r.cycle,
            version: r.version,
            amountMinor: BigInt(r.amount_minor),
            amountMicro: BigInt(r.amount_micro),
            contributionTotalMicro: BigInt(r.contribution_micro_total),
            reserveTotalMicro: BigInt(r.reserve_micro_total),
            overflowTotalMicro: BigInt(r.overflow_micro_total),
            wonTotalMicro: BigInt(r.won_micro_total),
            hits: Number(r.hits),
          },
        ]),
      ),
      deadLetters: new Map(dead.rows.map((r) => [r.reason, Number(r.n)])),
      mysteryWins: new Map(wins.rows.map((r) => [r.pool_id, { count: Number(r.n), minor: BigInt(r.minor) }])),
    };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

export async function storedOffsets(
  db: pg.Pool,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const rows = await db.query<{ partition: number; next_offset: string }>(
    'SELECT partition, next_offset::text AS next_offset FROM jackpot.consumer_offsets WHERE group_id = $1 AND topic = $2',
    [groupId, topic],
  );
  return new Map(rows.rows.map((r) => [r.partition, BigInt(r.next_offset)]));
}

/** Wagers the aggregators applied since `since` (Postgres' clock), and the first and last batch's time. */
export async function appliedSince(
  db: pg.Pool,
  since: Date,
): Promise<{ count: number; first: Date | null; last: Date | null }> {
  const r = await db.query<{ n: string; first: Date | null; last: Date | null }>(
    'SELECT count(*)::text AS n, min(applied_at) AS first, max(applied_at) AS last FROM jackpot.applied_events WHERE applied_at >= $1',
    [since],
  );
  const row = r.rows[0];
  return { count: Number(row?.n ?? 0), first: row?.first ?? null, last: row?.last ?? null };
}

export async function unpublished(db: pg.Pool): Promise<{ deadLetters: number; wins: number }> {
  const r = await db.query<{ d: string; w: string }>(
    `SELECT (SELECT count(*) FROM jackpot.dead_letters WHERE published_at IS NULL)::text AS d,
            (SELECT count(*) FROM jackpot.wins WHERE published_at IS NULL)::text AS w`,
  );
  return { deadLetters: Number(r.rows[0]?.d ?? 0), wins: Number(r.rows[0]?.w ?? 0) };
}
