/**
 * Jackpot configuration in Postgres: `putJackpot` stores what an operator PUTs, `getJackpot` reads
 * it back as stored. The configuration must already have passed `validateJackpotConfig`.
 *
 * Rules (the schema holds money in pools, so configuration never destroys or moves it):
 * - A new jackpot starts at once: each pool opens cycle 1 (`openFirstCycle`): its `pool_totals`
 *   row holds the seed with every parameter frozen for the cycle, the cycle is recorded in
 *   `pool_cycles`, a mystery pool's hidden trigger is drawn (CSPRNG) into `pool_triggers`, and the
 *   seed is booked as the operator's `initial-seed` top-up, so reconciliation balances from cycle 1.
 * - A pool added to an existing jackpot starts the same way.
 * - Changes to an existing pool update `jackpot.pools` only. The running cycle keeps the parameters
 *   frozen in `pool_totals`; the new ones (and the new seed, which is a reset value) apply from the
 *   pool's next cycle. The stored configuration says so per pool (`current`, `appliesFromCycle`).
 * - Every change is written to `jackpot.config_audit` (subject `jackpot:{id}`, the whole stored
 *   configuration before and after, and who did it); a PUT that changes nothing writes nothing.
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
import type { PoolClient, Sql } from './db.js';
import { displayMinor } from './domain/contribution.js';
import type { JackpotConfig, OverflowPolicy, PoolConfig } from './domain/jackpot-config.js';
import { cycleParamsFromConfig, openFirstCycle, type DrawTriggerMinor } from './domain/lifecycle.js';
import { recordOpening, secureDrawMinor } from './pool-store.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** The parameters the running cycle was started with (frozen until its win). */
export interface RunningCycle {
  readonly cycle: number;
  readonly seedMinor: number;
  readonly contributionPpm: number;
  readonly reservePpm: number;
  readonly ceilingMinor: number | null;
  readonly overflow: OverflowPolicy | null;
  readonly mustHitByMinor: number | null;
}

export interface StoredPool extends PoolConfig {
  readonly current: RunningCycle;
  /**
   * The first cycle the configured parameters above govern: the current one when it runs with
   * exactly them, else the next one.
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

/** The running state of a new pool at the start of cycle 1, every parameter frozen for the cycle. */
const insertPoolTotals = (
  jackpotId: string,
  currency: string,
  pool: PoolConfig,
  opening: ReturnType<typeof openFirstCycle>['opening'],
  now: Date,
): Sql => ({
  text: `INSERT INTO jackpot.pool_totals (pool_id, jackpot_id, tier, currency, cycle, version, updated_at, amount_micro,
                                          contribution_ppm, reserve_ppm, seed_micro, carried_in_micro, cycle_started_at,
                                          ceiling_micro, overflow, must_hit_by_micro, topup_micro_total)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, $11, $6, $12, $13, $14, $15)`,
  values: [
    pool.poolId,
    jackpotId,
    pool.tier,
    currency,
    opening.cycle,
    now,
    (opening.seedMicro + opening.carriedInMicro).toString(),
    opening.params.contributionPpm,
    opening.params.reservePpm,
    opening.seedMicro.toString(),
    opening.carriedInMicro.toString(),
    opening.params.ceilingMicro?.toString() ?? null,
    opening.params.overflow,
    opening.params.mustHitByMicro?.toString() ?? null,
    opening.topUpMicro.toString(),
  ],
});

const insertAudit = (
  jackpotId: string,
  actor: string,
  created: boolean,
  before: StoredJackpot | null,
  after: StoredJackpot,
  now: Date,
): Sql => ({
  text: `INSERT INTO jackpot.config_audit (at, actor, action, subject, old_value, new_value) VALUES ($1, $2, $3, $4, $5, $6)`,
  values: [
    now,
    actor,
    created ? 'jackpot.create' : 'jackpot.update',
    `jackpot:${jackpotId}`,
    before === null ? null : JSON.stringify(before),
    JSON.stringify(after),
  ],
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
                t.cycle, t.seed_micro::text AS current_seed_micro, t.contribution_ppm AS current_contribution_ppm,
                t.reserve_ppm AS current_reserve_ppm, t.ceiling_micro::text AS current_ceiling_micro,
                t.overflow AS current_overflow, t.must_hit_by_micro::text AS current_must_hit_by_micro
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

export interface PutJackpotOptions {
  /** The time written to the rows; default now. */
  readonly now?: Date;
  /** Who made the change, for the audit trail, such as `key_1a2b (ops laptop)`. */
  readonly actor?: string;
  /** The mystery trigger draw of a new pool's first cycle; default the OS CSPRNG. Tests pass their own. */
  readonly drawTriggerMinor?: DrawTriggerMinor;
}

/**
 * Stores `config` in one transaction of its own on `client` (which must not be inside one).
 * Conflicts with what is stored come back as `{ ok: false }` with nothing written; database errors
 * are thrown (retryable ones are safe to retry: the transaction was rolled back).
 */
export async function putJackpot(
  client: PoolClient,
  config: JackpotConfig,
  opts: PutJackpotOptions = {},
): Promise<PutJackpotResult> {
  await client.query('BEGIN');
  try {
    const result = await putInTransaction(client, config, {
      now: opts.now ?? new Date(),
      actor: opts.actor ?? 'unknown',
      draw: opts.drawTriggerMinor ?? secureDrawMinor,
    });
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (e instanceof Refused) return e.result;
    throw e;
  }
}

async function putInTransaction(
  client: PoolClient,
  config: JackpotConfig,
  { now, actor, draw }: { now: Date; actor: string; draw: DrawTriggerMinor },
): Promise<PutJackpotResult> {
  const { jackpotId, currency } = config;
  const created = (await run(client, insertJackpot(jackpotId, currency, now))).rowCount === 1;
  let changed = created;
  let existingTiers = new Set<string>();
  let before: StoredJackpot | null = null;

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
    existingTiers = new Set(
      (await run<{ tier: string }>(client, poolTiers(jackpotId))).rows.map((r) => r.tier),
    );
    const wanted = new Set(config.pools.map((p) => p.tier));
    const removed = [...existingTiers].filter((tier) => !wanted.has(tier));
    if (removed.length > 0) {
      throw new Refused({
        ok: false,
        code: 'tier_removed',
        message: `a running jackpot's pools cannot be removed: they hold money (missing: ${removed.join(', ')})`,
        details: removed.map((tier) => ({
          path: 'pools',
          code: 'tier_removed',
          message: `pool ${JSON.stringify(`${jackpotId}:${tier}`)} exists and must stay in the configuration`,
        })),
      });
    }
    before = await getJackpot(client, jackpotId);
  }

  const elsewhere = await run<{ game_id: string; jackpot_id: string }>(
    client,
    gamesLinkedElsewhere(jackpotId, config.games),
  );
  if (elsewhere.rows.length > 0) throw gameConflict(config, elsewhere.rows);

  changed = (await run(client, upsertPools(jackpotId, config.pools, now))).rowCount !== 0 || changed;
  for (const pool of config.pools) {
    if (existingTiers.has(pool.tier)) continue;
    const { opening } = openFirstCycle(cycleParamsFromConfig(pool), draw);
    await run(client, insertPoolTotals(jackpotId, currency, pool, opening, now));
    await recordOpening(client, pool.poolId, opening, 'initial-seed');
  }
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
  if (changed) await run(client, insertAudit(jackpotId, actor, created, before, jackpot, now));
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
  current_seed_micro: string | null;
  current_contribution_ppm: number | null;
  current_reserve_ppm: number | null;
  current_ceiling_micro: string | null;
  current_overflow: OverflowPolicy | null;
  current_must_hit_by_micro: string | null;
}

const numberOrNull = (v: string | null): number | null => (v === null ? null : Number(v));
const minorOrNull = (micro: string | null): number | null =>
  micro === null ? null : Number(displayMinor(BigInt(micro)));

function toStoredPool(r: PoolRow): StoredPool {
  const configured = {
    poolId: r.pool_id,
    tier: r.tier,
    seedMinor: Number(r.seed_minor),
    contributionPpm: r.contribution_ppm,
    reservePpm: r.reserve_ppm,
    ceilingMinor: numberOrNull(r.ceiling_minor),
    overflow: r.overflow,
    mustHitByMinor: numberOrNull(r.must_hit_by_minor),
  };
  // Every pool gets its running row in the transaction that creates it; a missing one would be a
  // bug elsewhere, shown as cycle 1 on the configured parameters rather than failing the read.
  const current: RunningCycle =
    r.cycle === null ||
    r.current_seed_micro === null ||
    r.current_contribution_ppm === null ||
    r.current_reserve_ppm === null
      ? {
          cycle: 1,
          seedMinor: configured.seedMinor,
          contributionPpm: configured.contributionPpm,
          reservePpm: configured.reservePpm,
          ceilingMinor: configured.ceilingMinor,
          overflow: configured.overflow,
          mustHitByMinor: configured.mustHitByMinor,
        }
      : {
          cycle: r.cycle,
          seedMinor: Number(displayMinor(BigInt(r.current_seed_micro))),
          contributionPpm: r.current_contribution_ppm,
          reservePpm: r.current_reserve_ppm,
          ceilingMinor: minorOrNull(r.current_ceiling_micro),
          overflow: r.current_overflow,
          mustHitByMinor: minorOrNull(r.current_must_hit_by_micro),
        };
  const same =
    current.seedMinor === configured.seedMinor &&
    current.contributionPpm === configured.contributionPpm &&
    current.reservePpm === configured.reservePpm &&
    current.ceilingMinor === configured.ceilingMinor &&
    current.overflow === configured.overflow &&
    current.mustHitByMinor === configured.mustHitByMinor;
  return { ...configured, current, appliesFromCycle: same ? current.cycle : current.cycle + 1 };
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
