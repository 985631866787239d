/**
 * The jackpot configuration the load is generated against: which games exist, the currency of
 * each game's jackpot, and the pools a wager on that game contributes to. Read from Postgres, or
 * passed in by a caller that already knows it.
 */
import pg from 'pg';
import type { Sql } from '../../shared/src/db.js';

export interface PoolShare {
  readonly poolId: string;
  /** Parts per million of each wager that go to the visible amount. */
  readonly contributionPpm: number;
  /** Parts per million that go to the hidden reserve. */
  readonly reservePpm: number;
}

export interface GameConfig {
  readonly gameId: string;
  readonly jackpotId: string;
  /** The jackpot's currency: the only one its games' wagers may carry. */
  readonly currency: string;
  readonly pools: readonly PoolShare[];
}

/**
 * What the load generator reads back to predict the ledger: every linked game with its jackpot's
 * pools and the shares booked now. Not a jackpot's configuration (the domain's `JackpotConfig`).
 */
export interface GameShares {
  readonly games: readonly GameConfig[];
}

/**
 * One row a game and pool (a game whose jackpot has no pools yet gets one row with null pool
 * columns). The shares are the current cycle's, frozen in pool_totals, when the pool is running:
 * the contract applies a configuration change only from a pool's next cycle, so until then the
 * aggregator books the old share and so must the expectation. A pool with no pool_totals row yet
 * uses its configured share.
 */
function selectGameShares(): Sql {
  return {
    text: `SELECT g.game_id, j.jackpot_id, j.currency, p.pool_id,
                  COALESCE(pt.contribution_ppm, p.contribution_ppm) AS contribution_ppm,
                  COALESCE(pt.reserve_ppm, p.reserve_ppm) AS reserve_ppm
             FROM jackpot.games g
             JOIN jackpot.jackpots j ON j.jackpot_id = g.jackpot_id
             LEFT JOIN jackpot.pools p ON p.jackpot_id = j.jackpot_id
             LEFT JOIN jackpot.pool_totals pt ON pt.pool_id = p.pool_id
            ORDER BY g.game_id, p.pool_id`,
  };
}

interface Row {
  game_id: string;
  jackpot_id: string;
  currency: string;
  pool_id: string | null;
  contribution_ppm: number | null;
  reserve_ppm: number | null;
}

function gameSharesFromRows(rows: readonly Row[]): GameShares {
  const games = new Map<
    string,
    { gameId: string; jackpotId: string; currency: string; pools: PoolShare[] }
  >();
  for (const row of rows) {
    let game = games.get(row.game_id);
    if (game === undefined) {
      game = { gameId: row.game_id, jackpotId: row.jackpot_id, currency: row.currency.trim(), pools: [] };
      games.set(row.game_id, game);
    }
    if (row.pool_id !== null) {
      game.pools.push({
        poolId: row.pool_id,
        contributionPpm: row.contribution_ppm ?? 0,
        reservePpm: row.reserve_ppm ?? 0,
      });
    }
  }
  return { games: [...games.values()] };
}

/** Reads the configuration with one short-lived connection. */
export async function readGameShares(databaseUrl: string): Promise<GameShares> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    application_name: 'jackpot-loadgen',
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    const sql = selectGameShares();
    const result = await client.query<Row>(sql.text, sql.values === undefined ? [] : [...sql.values]);
    return gameSharesFromRows(result.rows);
  } finally {
    await client.end();
  }
}
