import { civilFromDays, formatIsoDate, MS_PER_DAY, utcDayOf } from './civil-date.js';

/** One daily range partition of the ledger (`jackpot.ledger`), by `occurred_at`. */
export interface LedgerPartition {
  /** `ledger_YYYYMMDD`. */
  readonly name: string;
  /** First UTC day inside, `YYYY-MM-DD`. */
  readonly fromIso: string;
  /** First UTC day after (range bounds are exclusive at the top), `YYYY-MM-DD`. */
  readonly toIso: string;
  /**
   * The same bounds as timestamptz literals with an explicit UTC offset. Use these in
   * `FOR VALUES FROM (...) TO (...)`: a bare date is read in the session's time zone.
   */
  readonly fromTimestamp: string;
  readonly toTimestamp: string;
}

/** The partition holding an instant (by its UTC day). */
export function ledgerPartitionFor(epochMs: number): LedgerPartition {
  const day = utcDayOf(epochMs);
  const fromIso = formatIsoDate(civilFromDays(day));
  const toIso = formatIsoDate(civilFromDays(day + 1));
  return {
    name: `ledger_${fromIso.replaceAll('-', '')}`,
    fromIso,
    toIso,
    fromTimestamp: `${fromIso} 00:00:00+00`,
    toTimestamp: `${toIso} 00:00:00+00`,
  };
}

/**
 * The partitions from `daysBehind` UTC days before `nowMs`'s day to `daysAhead` days after it,
 * inclusive, oldest first: `daysBehind + 1 + daysAhead` of them. `daysAhead` must cover the 1 h
 * future skew that wagers may have (so at least 1) plus the time until the job next runs.
 */
export function ledgerPartitionsAhead(
  nowMs: number,
  daysBehind: number,
  daysAhead: number,
): LedgerPartition[] {
  if (!Number.isSafeInteger(daysBehind) || daysBehind < 0)
    throw new RangeError(`daysBehind must be >= 0, got ${daysBehind}`);
  if (!Number.isSafeInteger(daysAhead) || daysAhead < 0)
    throw new RangeError(`daysAhead must be >= 0, got ${daysAhead}`);
  const today = utcDayOf(nowMs);
  const out: LedgerPartition[] = [];
  for (let day = today - daysBehind; day <= today + daysAhead; day++) {
    out.push(ledgerPartitionFor(day * MS_PER_DAY));
  }
  return out;
}

/**
 * The weeks a claim of event ids made at `epochMs` (the claiming transaction's start, Postgres'
 * `now()`) goes to in the duplicate check (`jackpot.applied_events`, partitioned by `claimed_week`,
 * the UTC week from Monday, `YYYY-MM-DD`): its own week, and in the first `graceMs` of a week the
 * week before as well (`alsoWeek`; else null).
 *
 * Why: a primary key is unique only within a partition. Two transactions claiming one id across
 * midnight between Sunday and Monday, one in each week, would each miss the other's uncommitted
 * row and both win. A claim in the grace period also takes the id in the week before, where the
 * late Sunday claim took it, so the two collide on that key and the later one waits and finds it;
 * and a claim after the grace period collides with the grace claims in its own week. What is left
 * is a transaction that started before Monday 00:00 UTC and claims more than `graceMs` later.
 */
export function claimWeeks(epochMs: number, graceMs: number): { week: string; alsoWeek: string | null } {
  const day = utcDayOf(epochMs);
  // 1970-01-01 was a Thursday: day 0 is 3 days after a Monday.
  const monday = day - ((((day + 3) % 7) + 7) % 7);
  const week = formatIsoDate(civilFromDays(monday));
  const intoWeekMs = epochMs - monday * MS_PER_DAY;
  return {
    week,
    alsoWeek: intoWeekMs < graceMs ? formatIsoDate(civilFromDays(monday - 7)) : null,
  };
}
