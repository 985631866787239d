/**
 * Daily partitions and their retention (migration 0007): the ledger, the duplicate check
 * (`applied_events`) and the dead letters are cut by UTC day; partitions are created a week ahead
 * and days past their retention are dropped whole, never deleted row by row. Both go through
 * SECURITY DEFINER functions of the migrations, so the services' role owns no table. The ledger's
 * dropped days are summed per pool and cycle into `jackpot.ledger_rollups` first, and `reconcile`
 * adds those sums, so every cycle still proves out.
 */
import { withTransaction, type Db } from './db.js';
import { ledgerPartitionsAhead } from './domain/partitions.js';

const DAILY_TABLES = ['ledger', 'applied_events', 'dead_letters'] as const;
export type DailyTable = (typeof DAILY_TABLES)[number];

/** Days kept per table; 0 keeps everything. */
export type RetentionDays = Readonly<Record<DailyTable, number>>;

/**
 * Creates every table's partitions from yesterday to a week ahead (late wagers of older days go
 * to the ledger's default partition). Safe to run from several replicas at once.
 *
 * Creating a partition needs a lock on its parent that waits for every open reader of the table
 * (a pg_dump, a long export) while the ledger's writers queue behind it, so the wait is bounded
 * (5 s): a partition that cannot be made now is skipped, and made by a later run (they run hourly
 * and a week ahead). Returns the partitions skipped that way.
 */
export async function ensureDayPartitions(pool: Db, nowMs: number, lockTimeoutMs = 5_000): Promise<string[]> {
  const skipped: string[] = [];
  for (const p of ledgerPartitionsAhead(nowMs, 1, 7)) {
    for (const table of DAILY_TABLES) {
      try {
        await withTransaction(pool, async (c) => {
          await c.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.trunc(lockTimeoutMs))}`);
          await c.query({
            text: 'SELECT jackpot.create_day_partition($1, $2::date)',
            values: [table, p.fromIso],
          });
        });
      } catch (e) {
        // Two replicas creating the same partition at once: the loser sees 42P07 or 23505;
        // 55P03: the parent stayed locked for 5 s.
        const code = (e as { code?: string }).code;
        if (code === '55P03') skipped.push(`${table} ${p.fromIso}`);
        else if (code !== '42P07' && code !== '23505') throw e;
      }
    }
  }
  return skipped;
}

/** Any constant: one replica at a time drops partitions. */
const RETENTION_LOCK_KEY = 7_351_906_007;

/**
 * Drops the partitions past each table's retention and returns their names; nothing when another
 * replica is at it. Detaching a partition locks its table for a moment, so a window in progress
 * finishes first; the lock wait is bounded (5 s) and a run that cannot get it tries next time.
 */
export async function dropExpiredPartitions(pool: Db, days: RetentionDays): Promise<string[]> {
  return withTransaction(pool, async (c) => {
    const locked = await c.query<{ ok: boolean }>({
      text: 'SELECT pg_try_advisory_xact_lock($1) AS ok',
      values: [RETENTION_LOCK_KEY],
    });
    if (locked.rows[0]?.ok !== true) return [];
    await c.query("SET LOCAL lock_timeout = '5s'");
    const dropped: string[] = [];
    for (const table of DAILY_TABLES) {
      const keep = days[table];
      if (keep <= 0) continue;
      const { rows } = await c.query<{ name: string }>({
        text: 'SELECT jackpot.drop_expired_partitions($1, $2) AS name',
        values: [table, keep],
      });
      dropped.push(...rows.map((r) => r.name));
    }
    return dropped;
  });
}
