/**
 * The export's arguments and its one statement. COPY takes no bind parameters, so the bounds and
 * the pool id are checked here (RFC 3339 with an explicit offset; the pool id's own alphabet) and
 * then quoted as literals; nothing else from the command line reaches the SQL.
 */
import pg from 'pg';
import { UsageError } from './flags.js';

export type ExportFormat = 'csv' | 'ndjson';

export interface ExportRange {
  /** RFC 3339 as given, checked: inclusive lower bound of occurred_at. */
  readonly from: string;
  /** Exclusive upper bound. */
  readonly to: string;
  readonly format: ExportFormat;
  readonly poolId: string | null;
}

// Microseconds at most: Postgres keeps 6 digits and would round a 7th, moving a bound.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?([Zz]|[+-](\d{2}):(\d{2}))$/;
// pool_id = jackpot_id ':' tier (0001_schema.sql): 64 + 1 + 32 characters of these.
const POOL_ID = /^[A-Za-z0-9._:-]{1,97}$/;

/** Epoch milliseconds of an RFC 3339 timestamp, or a UsageError naming the flag. */
function parseRfc3339(flag: string, value: string): number {
  const m = RFC3339.exec(value);
  const bad = (): UsageError =>
    new UsageError(
      `--${flag} must be an RFC 3339 timestamp with an offset, such as 2026-11-30T00:00:00Z (got ${JSON.stringify(value)})`,
    );
  if (m === null) throw bad();
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetHours = Number(m[9] ?? 0);
  const offsetMinutes = Number(m[10] ?? 0);
  // Date.UTC rolls 2026-02-30 over into March; a calendar date must come back as it went in.
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    offsetHours > 23 ||
    offsetMinutes > 59
  )
    throw bad();
  return Date.parse(value.replace(' ', 'T'));
}

/** The export's flags (`--from`, `--to`, `--format`, `--pool`) checked; see exportStatement. */
export function exportRange(flags: ReadonlyMap<string, string>): ExportRange {
  const from = flags.get('from');
  const to = flags.get('to');
  const format = flags.get('format');
  if (from === undefined) throw new UsageError('--from is required (inclusive, RFC 3339)');
  if (to === undefined) throw new UsageError('--to is required (exclusive, RFC 3339)');
  if (format !== 'csv' && format !== 'ndjson') throw new UsageError('--format must be csv or ndjson');
  if (parseRfc3339('from', from) >= parseRfc3339('to', to))
    throw new UsageError(`--from ${from} must be before --to ${to}`);
  const poolId = flags.get('pool') ?? null;
  if (poolId !== null && !POOL_ID.test(poolId))
    throw new UsageError(`--pool ${JSON.stringify(poolId)} is not a pool id (JACKPOT:TIER)`);
  return { from, to, format, poolId };
}

/**
 * The columns, in order: the contract's eight, then what an analyst needs to re-derive a row
 * (currency and rate of a converted wager, the overflow and reserve shares). Amounts are bigint
 * columns printed as exact integers; occurred_at is UTC RFC 3339 with microseconds whatever the
 * session's time zone or DateStyle.
 */
const EXPORT_COLUMNS = [
  ['event_id', 'event_id'],
  ['pool_id', 'pool_id'],
  ['cycle', 'cycle'],
  ['wager_minor', 'wager_minor'],
  ['contribution_micro', 'contribution_micro'],
  ['occurred_at', `to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`],
  ['game_id', 'game_id'],
  ['player_id', 'player_id'],
  ['wager_currency', 'wager_currency'],
  ['fx_rate_micro', 'fx_rate_micro'],
  ['overflow_micro', 'overflow_micro'],
  ['reserve_micro', 'reserve_micro'],
] as const;

/**
 * `COPY (SELECT …) TO STDOUT`, ordered by occurred_at, event_id, pool_id so two exports of the
 * same range are byte-identical (the sort runs in the server, spilling to disk past work_mem).
 *
 * ndjson is one json_build_object a row, as text, through COPY's csv format with a quote and a
 * delimiter (\x01, \x02) that JSON text never holds raw (json escapes every control character as
 * \uXXXX), so COPY never quotes or escapes it; the text format would double every backslash.
 * json_build_object prints bigint as a JSON number: every amount stays an exact integer in the
 * text (a ledger row's micro amounts are at most 1e15, below 2^53, so JavaScript reads them
 * exactly too).
 */
export function exportStatement(range: ExportRange): string {
  const where = [
    `occurred_at >= ${pg.escapeLiteral(range.from)}::timestamptz`,
    `occurred_at < ${pg.escapeLiteral(range.to)}::timestamptz`,
    ...(range.poolId === null ? [] : [`pool_id = ${pg.escapeLiteral(range.poolId)}`]),
  ].join(' AND ');
  const select =
    range.format === 'csv'
      ? EXPORT_COLUMNS.map(([name, expr]) => (name === expr ? name : `${expr} AS ${name}`)).join(', ')
      : `json_build_object(${EXPORT_COLUMNS.map(([name, expr]) => `'${name}', ${expr}`).join(', ')})::text`;
  const options =
    range.format === 'csv' ? `FORMAT csv, HEADER true` : `FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'`;
  return `COPY (SELECT ${select} FROM jackpot.contributions WHERE ${where} ORDER BY occurred_at, event_id, pool_id) TO STDOUT WITH (${options})`;
}
