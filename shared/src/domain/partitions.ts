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
