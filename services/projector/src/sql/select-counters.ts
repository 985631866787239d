import type { Sql } from '../../../../shared/src/db.js';

/**
 * Every pool's lifetime meters for the page's charts: wagers counted and contributions, plus the
 * aggregators' stored positions on the wager topic (summed; one row a pool, the sum repeated).
 * As text: the totals are numeric(38) and bigint.
 */
export function selectCounters(groupId: string, topic: string): Sql {
  return {
    text: `SELECT t.pool_id, t.jackpot_id, t.wagers_total::text AS wagers_total,
                  t.contribution_micro_total::text AS contribution_micro_total,
                  (SELECT sum(next_offset)::text FROM jackpot.consumer_offsets
                    WHERE group_id = $1 AND topic = $2) AS positions
             FROM jackpot.pool_totals t`,
    values: [groupId, topic],
  };
}

export interface CountersRow {
  readonly pool_id: string;
  readonly jackpot_id: string;
  readonly wagers_total: string;
  readonly contribution_micro_total: string;
  /** Null when the group has stored no position on the topic yet. */
  readonly positions: string | null;
}
