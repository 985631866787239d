import type { Sql } from '../../../../shared/src/db.js';

/**
 * The latest wins for the live page, newest first, with the pool's jackpot, tier and currency.
 * No player id: the page is public. Amounts as text, exact. Wins are rare (one a pool and cycle),
 * so sorting them is cheap next to the cache in front of it.
 */
export function selectRecentWins(limit: number): Sql {
  return {
    text: `SELECT w.win_id::text AS win_id, w.pool_id, p.jackpot_id, p.tier, p.currency, w.cycle, w.kind,
                  w.amount_minor::text AS amount_minor, w.game_id,
                  to_char(w.won_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS won_at
             FROM jackpot.wins w
             JOIN jackpot.pool_totals p USING (pool_id)
            ORDER BY w.won_at DESC, w.win_id
            LIMIT $1`,
    values: [limit],
  };
}

export interface RecentWinRow {
  readonly win_id: string;
  readonly pool_id: string;
  readonly jackpot_id: string;
  readonly tier: string;
  readonly currency: string;
  readonly cycle: number;
  readonly kind: string;
  readonly amount_minor: string;
  readonly game_id: string;
  readonly won_at: string;
}
