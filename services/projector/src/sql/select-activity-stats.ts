import type { Sql } from '../../../../shared/src/db.js';

/**
 * Activity per jackpot, or per jackpot and game, in [from, to), from jackpot.pool_hourly
 * (migration 0008). The function has a row per pool: a wager is in every pool of its jackpot, so
 * per hour and game it is counted once, by the pool that has the most (`max`, which is each of
 * them when all pools take every wager, and the oldest when a pool was added within the hour);
 * contributions and wins are added up over the pools. A day already dropped from the ledger has
 * no game (and no amount wagered): it counts for its jackpot, not for any game.
 */
const PER_GAME_HOUR = `
  per_game_hour AS (
    SELECT p.jackpot_id, h.hour, h.game_id, max(h.wagers) AS wagers, max(h.wagered_minor) AS wagered_minor,
           sum(h.contribution_micro) AS contribution_micro, sum(h.wins) AS wins, sum(h.won_minor) AS won_minor
      FROM jackpot.pool_hourly(to_timestamp($1::bigint / 1000.0), to_timestamp($2::bigint / 1000.0)) h
      JOIN jackpot.pools p USING (pool_id)
     GROUP BY p.jackpot_id, h.hour, h.game_id
  )`;

const SUMS = `coalesce(sum(g.wagers), 0)::text AS wagers, coalesce(sum(g.wagered_minor), 0)::text AS wagered_minor,
              coalesce(sum(g.contribution_micro), 0)::text AS contribution_micro,
              coalesce(sum(g.wins), 0)::text AS wins, coalesce(sum(g.won_minor), 0)::text AS won_minor`;

/** Every jackpot, active in the range or not, by jackpotId. */
export function selectJackpotStats(fromMs: number, toMs: number): Sql {
  return {
    text: `WITH ${PER_GAME_HOUR}
           SELECT j.jackpot_id, j.currency,
                  (SELECT count(*) FROM jackpot.pools p WHERE p.jackpot_id = j.jackpot_id)::int AS pools,
                  ${SUMS}
             FROM jackpot.jackpots j
             LEFT JOIN per_game_hour g ON g.jackpot_id = j.jackpot_id
            GROUP BY j.jackpot_id, j.currency
            ORDER BY j.jackpot_id`,
    values: [fromMs, toMs],
  };
}

/** The games with wagers or wins in the range, most wagered first, at most `limit`. */
export function selectGameStats(fromMs: number, toMs: number, jackpotId: string | null, limit: number): Sql {
  return {
    text: `WITH ${PER_GAME_HOUR}
           SELECT g.game_id, g.jackpot_id, j.currency, ${SUMS}
             FROM per_game_hour g
             JOIN jackpot.jackpots j ON j.jackpot_id = g.jackpot_id
            WHERE g.game_id IS NOT NULL AND ($3::text IS NULL OR g.jackpot_id = $3)
            GROUP BY g.game_id, g.jackpot_id, j.currency
            ORDER BY sum(g.wagered_minor) DESC NULLS LAST, g.game_id, g.jackpot_id
            LIMIT $4`,
    values: [fromMs, toMs, jackpotId, limit],
  };
}

export interface ActivitySums {
  readonly wagers: string;
  readonly wagered_minor: string;
  readonly contribution_micro: string;
  readonly wins: string;
  readonly won_minor: string;
}

export interface JackpotStatsRow extends ActivitySums {
  readonly jackpot_id: string;
  readonly currency: string;
  readonly pools: number;
}

export interface GameStatsRow extends ActivitySums {
  readonly game_id: string;
  readonly jackpot_id: string;
  readonly currency: string;
}
