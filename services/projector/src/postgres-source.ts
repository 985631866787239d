/**
 * Postgres, the source of truth: the full state of every pool, read at start and on every resync.
 */
import type pg from 'pg';
import { withClient, type Sql } from '../../../shared/src/db.js';
import type { PoolView } from './projection.js';
import { selectPoolTotals, type PoolTotalsRow } from './sql/select-pool-totals.js';

/** The narrow port this service needs from the database. */
export type ExecuteSql = <R extends object>(sql: Sql) => Promise<R[]>;

export function executeSqlOn(pool: pg.Pool): ExecuteSql {
  return <R extends object>(sql: Sql) =>
    withClient(
      pool,
      async (client) =>
        (await client.query<R>(sql.text, sql.values === undefined ? [] : [...sql.values])).rows,
    );
}

function rowToView(row: PoolTotalsRow): PoolView {
  const version = Number(row.version);
  if (!Number.isSafeInteger(version))
    throw new RangeError(`pool ${row.pool_id}: version ${row.version} is beyond 2^53`);
  return {
    poolId: row.pool_id,
    jackpotId: row.jackpot_id,
    tier: row.tier,
    currency: row.currency,
    amountMinor: BigInt(row.amount_minor),
    cycle: row.cycle,
    version,
    updatedAt: row.updated_at,
  };
}

/** One consistent snapshot of every pool (a single statement sees one snapshot). */
export async function loadPools(executeSql: ExecuteSql): Promise<PoolView[]> {
  const rows = await executeSql<PoolTotalsRow>(selectPoolTotals());
  return rows.map(rowToView);
}
