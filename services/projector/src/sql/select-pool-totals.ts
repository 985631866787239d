import type { Sql } from '../../../../shared/src/db.js';

/**
 * Every pool's served columns. Amounts and versions are bigint in Postgres: read as text so they
 * arrive exact, never through a float. `updated_at` is formatted in UTC here, with milliseconds,
 * the same shape the aggregator publishes (`Date#toISOString`).
 */
export function selectPoolTotals(): Sql {
  return {
    text: `SELECT pool_id, jackpot_id, tier, currency,
                  amount_minor::text AS amount_minor, cycle, version::text AS version,
                  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at
             FROM jackpot.pool_totals`,
    values: [],
  };
}

export interface PoolTotalsRow {
  readonly pool_id: string;
  readonly jackpot_id: string;
  readonly tier: string;
  readonly currency: string;
  readonly amount_minor: string;
  readonly cycle: number;
  readonly version: string;
  readonly updated_at: string;
}
