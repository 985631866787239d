/**
 * Jackpot configuration in Postgres: `putJackpot` stores what an operator PUTs, `getJackpot` reads
 * it back as stored. The configuration must already have passed `validateJackpotConfig`.
 *
 * Rules (the schema holds money in pools, so configuration never destroys or moves it):
 * - A new jackpot starts at once: each pool gets its `pool_totals` row at cycle 1, holding its
 *   seed, with the contribution and reserve shares frozen for that cycle.
 * - A pool added to an existing jackpot starts the same way.
 * - Changes to an existing pool update `jackpot.pools` only. The running cycle keeps the shares
 *   frozen in `pool_totals`; the new ones (and the new seed, which is a reset value) apply from the
 *   pool's next cycle. The stored configuration says so per pool (`current`, `appliesFromCycle`).
 * - The currency of an existing jackpot cannot change: its pools hold amounts in the old one.
 *   Create a new jackpot instead.
 * - A tier cannot be removed from an existing jackpot: its pool holds money (the current amount
 *   and the reserve) that must first be paid out by a deliberate operation, not by a config edit.
 * - A game linked to another jackpot is refused with every such game listed: silently moving a
 *   game would change which pools its players feed. Unlink it there first.
 * - Otherwise `games` replaces this jackpot's links: games not in the list are unlinked.
 *
 * Concurrency: the jackpot's row is locked first (`FOR UPDATE`), so two PUTs of one jackpot run one
 * after the other. Two PUTs of different jackpots claiming the same game: the second one's insert
 * waits for the first to commit, then the re-check after the insert finds the game taken and the
 * whole PUT is refused. Games are inserted in sorted order so such PUTs lock rows in one order.
 */
import type pg from 'pg';
import type { Sql } from './db.js';
import type { JackpotConfig, OverflowPolicy, PoolConfig } from './domain/jackpot-config.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

export interface StoredPool extends PoolConfig {
  /** The running cycle and the shares frozen for it when it started. */
  readonly current: { readonly cycle: number; readonly contributionPpm: number; readonly reservePpm: number };
  /**
   * The first cycle the shares above govern: the current one when they are the shares it runs
   * with, else the next one. A seed change always takes effect at the next reset.
   */
  readonly appliesFromCycle: number;
}

export interface StoredJackpot {
  readonly jackpotId: string;
  readonly currency: string;
  /** Ordered by seed, then tier: mini before grand. */
  readonly pools: readonly StoredPool[];
  /** Sorted. */
  readonly games: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type PutJackpotConflictCode = 'currency_change' | 'tier_removed' | 'game_linked_elsewhere';

export interface PutJackpotIssue {
  readonly path: string;
  readonly code: PutJackpotConflictCode;
  readonly message: string;
}

export type PutJackpotResult =
  | { readonly ok: true; readonly created: boolean; readonly jackpot: StoredJackpot }
  /** Nothing was written. The gateway answers 409 with `code` and `details`. */
  | {
      readonly ok: false;
      readonly code: PutJackpotConflictCode;
      readonly message: string;
      readonly details: readonly PutJackpotIssue[];
    };

// ---- statements ---------------------------------------------------------------------------------

const insertJackpot = (jackpotId: string, currency: string, now: Date): Sql => ({
  text: `INSERT INTO jackpot.jackpots (jackpot_id, currency, created_at, updated_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (jackpot_id) DO NOTHING RETURNING jackpot_id`,
  values: [jackpotId, currency, now],
});

const lockJackpot = (jackpotId: string): Sql => ({
  text: `SELECT currency FROM jackpot.jackpots WHERE jackpot_id = $1 FOR UPDATE`,
  values: [jackpotId],
});

const touchJackpot = (jackpotId: string, now: Date): Sql => ({
  text: `UPDATE jackpot.jackpots SET updated_at = $2 WHERE jackpot_id = $1`,
  values: [jackpotId, now],
});

const poolTiers = (jackpotId: string): Sql => ({
  text: `SELECT tier FROM jackpot.pools WHERE jackpot_id = $1 ORDER BY tier`,
  values: [jackpotId],
});

/** Inserts new pools and updates changed ones; unchanged rows are not touched (rowCount = changes). */
const upsertPools = (jackpotId: string, pools: readonly PoolConfig[], now: Date): Sql => ({
  text: `INSERT INTO jackpot.pools AS p (pool_id, jackpot_id, tier, seed_minor, contribution_ppm, reserve_ppm,
                                         ceiling_minor, overflow, must_hit_by_minor, created_at, updated_at)
         SELECT $1 || ':' || t.tier, $1, t.tier, t.seed, t.cppm, t.rppm, t.ceiling, t.overflow, t.mhb, $2, $2
         FROM unnest($3::text[], $4::bigint[], $5::int[], $6::int[], $7::bigint[], $8::text[], $9::bigint[])
              AS t(tier, seed, cppm, rppm, ceiling, overflow, mhb)
         ORDER BY t.tier
         ON CONFLICT (pool_id) DO UPDATE SET
           seed_minor = EXCLUDED.seed_minor, contribution_ppm = EXCLUDED.contribution_ppm,
           reserve_ppm = EXCLUDED.reserve_ppm, ceiling_minor = EXCLUDED.ceiling_minor,
           overflow = EXCLUDED.overflow, must_hit_by_minor = EXCLUDED.must_hit_by_minor, updated_at = EXCLUDED.updated_at
         WHERE (p.seed_minor, p.contribution_ppm, p.reserve_ppm, p.ceiling_minor, p.overflow, p.must_hit_by_minor)
               IS DISTINCT FROM (EXCLUDED.seed_minor, EXCLUDED.contribution_ppm, EXCLUDED.reserve_ppm,
                                 EXCLUDED.ceiling_minor, EXCLUDED.overflow, EXCLUDED.must_hit_by_minor)`,
  values: [
    jackpotId,
    now,
    pools.map((p) => p.tier),
    pools.map((p) => p.seedMinor),
    pools.map((p) => p.contributionPpm),
    pools.map((p) => p.reservePpm),
    pools.map((p) => p.ceilingMinor),
    pools.map((p) => p.overflow),
    pools.map((p) => p.mustHitByMinor),
  ],
});

/** Cycle 1 for every pool of the jackpot that has no running state yet: amount = seed, in micro-units. */
const startNewPools = (jackpotId: string, currency: string, now: Date): Sql => ({
  text: `INSERT INTO jackpot.pool_totals (pool_id, jackpot_id, tier, currency, cycle, version, updated_at, amount_micro,
                                          contribution_ppm, reserve_ppm, seed_micro, cycle_started_at)
         SELECT p.pool_id, p.jackpot_id, p.tier, $2, 1, 1, $3, p.seed_minor::numeric * 1000000,
                p.contribution_ppm, p.reserve_ppm, p.seed_minor::numeric * 1000000, $3
         FROM jackpot.pools p WHERE p.jackpot_id = $1
         ORDER BY p.pool_id
         ON CONFLICT (pool_id) DO NOTHING`,
  values: [jackpotId, currency, now],
});

const gamesLinkedElsewhere = (jackpotId: string, games: readonly string[]): Sql => ({
  text: `SELECT game_id, jackpot_id FROM jackpot.games WHERE game_id = ANY($2::text[]) AND jackpot_id <> $1 ORDER BY game_id`,
  values: [jackpotId, games],
});

const unlinkOtherGames = (jackpotId: string, games: readonly string[]): Sql => ({
  text: `DELETE FROM jackpot.games WHERE jackpot_id = $1 AND NOT (game_id = ANY($2::text[]))`,
  values: [jackpotId, games],
});

const linkGames = (jackpotId: string, games: readonly string[]): Sql => ({
  text: `INSERT INTO jackpot.games (game_id, jackpot_id)
         SELECT g, $1 FROM unnest($2::text[]) AS g ORDER BY g
         ON CONFLICT (game_id) DO NOTHING`,
  values: [jackpotId, games],
});

const selectJackpot = (jackpotId: string): Sql => ({
  text: `SELECT jackpot_id, currency, created_at, updated_at FROM jackpot.jackpots WHERE jackpot_id = $1`,
  values: [jackpotId],
});

const selectPools = (jackpotId: string): Sql => ({
  text: `SELECT p.pool_id, p.tier, p.seed_minor::text AS seed_minor, p.contribution_ppm, p.reserve_ppm,
                p.ceiling_minor::text AS ceiling_minor, p.overflow, p.must_hit_by_minor::text AS must_hit_by_minor,
                t.cycle, t.contribution_ppm AS current_contribution_ppm, t.reserve_ppm AS current_reserve_ppm
         FROM jackpot.pools p LEFT JOIN jackpot.pool_totals t ON t.pool_id = p.pool_id
         WHERE p.jackpot_id = $1
         ORDER BY p.seed_minor, p.tier`,
  values: [jackpotId],
});

const selectGames = (jackpotId: string): Sql => ({
  text: `SELECT game_id FROM jackpot.games WHERE jackpot_id = $1 ORDER BY game_id`,
  values: [jackpotId],
});

// ---- operations ---------------------------------------------------------------------------------

async function run<R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: Queryable,
  sql: Sql,
): Promise<pg.QueryResult<R>> {
  return client.query<R>(sql.text, sql.values === undefined ? [] : [...sql.values]);
}

/** Thrown inside the transaction to roll it back; turned into a result at its edge. */
class Refused extends Error {
  constructor(readonly result: Extract<PutJackpotResult, { ok: false }>) {
    super(result.message);
  }
}

function gameConflict(
  config: JackpotConfig,
  rows: readonly { game_id: string; jackpot_id: string }[],
): Refused {
  const index = new Map(config.games.map((g, i) => [g, i]));
  return new Refused({
    ok: false,
    code: 'game_linked_elsewhere',
    message: `${rows.length} game(s) already belong to another jackpot; unlink them there first`,
    details: rows.map((r) => ({
      path: `games[${index.get(r.game_id) ?? '?'}]`,
      code: 'game_linked_elsewhere',
      message: `game ${JSON.stringify(r.game_id)} is linked to jackpot ${JSON.stringify(r.jackpot_id)}`,
    })),
  });
}

/**
 * Stores `config` in one transaction of its own on `client` (which must not be inside one).
 * Conflicts with what is stored come back as `{ ok: false }` with nothing written; database errors
 * are thrown (retryable ones are safe to retry: the transaction was rolled back).
 */
export async function putJackpot(
  client: Queryable,
  config: JackpotConfig,
  now: Date = new Date(),
): Promise<PutJackpotResult> {
  await client.query('BEGIN');
  try {
    const result = await putInTransaction(client, config, now);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (e instanceof Refused) return e.result;
    throw e;
  }
}

async function putInTransaction(
  client: Queryable,
  config: JackpotConfig,
  now: Date,
): Promise<PutJackpotResult> {
  const { jackpotId, currency } = config;
  const created = (await run(client, insertJackpot(jackpotId, currency, now))).rowCount === 1;
  let changed = created;

  if (!created) {
    const locked = await run<{ currency: string }>(client, lockJackpot(jackpotId));
    const stored = locked.rows[0]?.currency;
    if (stored !== undefined && stored !== currency) {
      throw new Refused({
        ok: false,
        code: 'currency_change',
        message: `jackpot ${JSON.stringify(jackpotId)} is in ${stored}: its pools hold ${stored} amounts, so the currency cannot change to ${currency}; create a new jackpot instead`,
        details: [{ path: 'currency', code: 'currency_change', message: `the stored currency is ${stored}` }],
      });
    }
    const wanted = new Set(config.pools.map((p) => p.tier));
    const removed = (await run<{ tier: string }>(client, poolTiers(jackpotId))).rows.filter(
      (r) => !wanted.has(r.tier),
    );
    if (removed.length > 0) {
      throw new Refused({
        ok: false,
        code: 'tier_removed',
        message: `a running jackpot's pools cannot be removed: they hold money (missing: ${removed.map((r) => r.tier).join(', ')})`,
        details: removed.map((r) => ({
          path: 'pools',
          code: 'tier_removed',
          message: `pool ${JSON.stringify(`${jackpotId}:${r.tier}`)} exists and must stay in the configuration`,
        })),
      });
    }
  }

  const elsewhere = await run<{ game_id: string; jackpot_id: string }>(
    client,
    gamesLinkedElsewhere(jackpotId, config.games),
  );
  if (elsewhere.rows.length > 0) throw gameConflict(config, elsewhere.rows);

  changed = (await run(client, upsertPools(jackpotId, config.pools, now))).rowCount !== 0 || changed;
  await run(client, startNewPools(jackpotId, currency, now));
  changed = (await run(client, unlinkOtherGames(jackpotId, config.games))).rowCount !== 0 || changed;
  changed = (await run(client, linkGames(jackpotId, config.games))).rowCount !== 0 || changed;
  // A concurrent PUT of another jackpot may have committed one of our games while we waited.
  const raced = await run<{ game_id: string; jackpot_id: string }>(
    client,
    gamesLinkedElsewhere(jackpotId, config.games),
  );
  if (raced.rows.length > 0) throw gameConflict(config, raced.rows);

  if (changed && !created) await run(client, touchJackpot(jackpotId, now));
  const jackpot = await getJackpot(client, jackpotId);
  if (jackpot === null) throw new Error(`jackpot ${jackpotId} vanished inside its own transaction`);
  return { ok: true, created, jackpot };
}

interface PoolRow {
  pool_id: string;
  tier: string;
  seed_minor: string;
  contribution_ppm: number;
  reserve_ppm: number;
  ceiling_minor: string | null;
  overflow: OverflowPolicy | null;
  must_hit_by_minor: string | null;
  cycle: number | null;
  current_contribution_ppm: number | null;
  current_reserve_ppm: number | null;
}

const numberOrNull = (v: string | null): number | null => (v === null ? null : Number(v));

function toStoredPool(r: PoolRow): StoredPool {
  // Every pool gets its running row in the transaction that creates it; a missing one would be a
  // bug elsewhere, shown as cycle 1 at the configured shares rather than failing the read.
  const cycle = r.cycle ?? 1;
  const current = {
    cycle,
    contributionPpm: r.current_contribution_ppm ?? r.contribution_ppm,
    reservePpm: r.current_reserve_ppm ?? r.reserve_ppm,
  };
  const same = current.contributionPpm === r.contribution_ppm && current.reservePpm === r.reserve_ppm;
  return {
    poolId: r.pool_id,
    tier: r.tier,
    seedMinor: Number(r.seed_minor),
    contributionPpm: r.contribution_ppm,
    reservePpm: r.reserve_ppm,
    ceilingMinor: numberOrNull(r.ceiling_minor),
    overflow: r.overflow,
    mustHitByMinor: numberOrNull(r.must_hit_by_minor),
    current,
    appliesFromCycle: same ? cycle : cycle + 1,
  };
}

/** The configuration as stored, or null when there is no such jackpot. */
export async function getJackpot(client: Queryable, jackpotId: string): Promise<StoredJackpot | null> {
  const head = await run<{ jackpot_id: string; currency: string; created_at: Date; updated_at: Date }>(
    client,
    selectJackpot(jackpotId),
  );
  const row = head.rows[0];
  if (row === undefined) return null;
  const pools = await run<PoolRow>(client, selectPools(jackpotId));
  const games = await run<{ game_id: string }>(client, selectGames(jackpotId));
  return {
    jackpotId: row.jackpot_id,
    currency: row.currency,
    pools: pools.rows.map(toStoredPool),
    games: games.rows.map((g) => g.game_id),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
