import type { Sql } from '../../../../shared/src/db.js';

/**
 * One pool's hours in [from, to) from jackpot.pool_hourly (migration 0008), its games added up:
 * only hours with wagers or wins have a row. A day already dropped from the ledger is one row at
 * its midnight, `archived`, without the amount wagered (null). Sums as text: exact.
 */
export function selectPoolHistory(poolId: string, fromMs: number, toMs: number): Sql {
  return {
    text: `SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS hour,
                  sum(wagers)::text AS wagers, sum(wagered_minor)::text AS wagered_minor,
                  sum(contribution_micro)::text AS contribution_micro,
                  sum(wins)::text AS wins, sum(won_minor)::text AS won_minor, bool_or(archived) AS archived
             FROM jackpot.pool_hourly(to_timestamp($1::bigint / 1000.0), to_timestamp($2::bigint / 1000.0), $3)
            GROUP BY hour
            ORDER BY hour`,
    values: [fromMs, toMs, poolId],
  };
}

export interface PoolHistoryRow {
  readonly hour: string;
  readonly wagers: string;
  readonly wagered_minor: string | null;
  readonly contribution_micro: string;
  readonly wins: string;
  readonly won_minor: string;
  readonly archived: boolean;
}
