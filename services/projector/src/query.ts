/**
 * The query parameters of the history and statistics endpoints, validated. Pure: the clock is an
 * argument. A bad parameter is a 400 with code `invalid_query` naming it (routes.ts).
 */

/** One hour: history and statistics are per UTC hour. */
export const HOUR_MS = 3_600_000;
/** Without `from`: the 24 hours up to `to`, a day of a display's or an analyst's look. */
export const DEFAULT_SPAN_MS = 24 * HOUR_MS;
/**
 * 31 days at most: a range is computed from the ledger's day partitions it touches (jackpot.pool_hourly),
 * so its cost grows with its length; a month covers a monthly report, longer ranges are for SQL.
 */
export const MAX_SPAN_MS = 31 * 24 * HOUR_MS;
export const DEFAULT_GAMES_LIMIT = 50;
export const MAX_GAMES_LIMIT = 500;

export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly param: string; readonly message: string };

export interface TimeRange {
  /** Inclusive, epoch ms. */
  readonly fromMs: number;
  /** Exclusive, epoch ms. */
  readonly toMs: number;
}

type Query = Readonly<Record<string, unknown>>;

// An RFC 3339 date-time with its offset, or a date (midnight UTC).
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2}))?$/;
const JACKPOT_ID = /^[A-Za-z0-9._-]{1,64}$/;

const bad = <T>(param: string, message: string): Parsed<T> => ({ ok: false, param, message });

/** A parameter given once; repeated (`?a=1&a=2`) is an error. */
function single(query: Query, param: string): Parsed<string | undefined> {
  const v = query[param];
  if (v === undefined) return { ok: true, value: undefined };
  if (typeof v !== 'string') return bad(param, `${param} must be given once`);
  return { ok: true, value: v };
}

function timestamp(query: Query, param: string): Parsed<number | undefined> {
  const s = single(query, param);
  if (!s.ok || s.value === undefined) return s as Parsed<undefined>;
  const ms = TIMESTAMP.test(s.value) ? Date.parse(s.value) : Number.NaN;
  if (!Number.isFinite(ms))
    return bad(
      param,
      `${param} must be an RFC 3339 timestamp with an offset (2026-11-30T12:00:00Z) or a date`,
    );
  return { ok: true, value: ms };
}

/** The end of the hour that holds `nowMs` (an hour boundary stays as it is). */
export function ceilHour(nowMs: number): number {
  return Math.ceil(nowMs / HOUR_MS) * HOUR_MS;
}

/**
 * `from` and `to`, a range [from, to) of whole UTC hours: `from` is moved back to its hour's
 * start and `to` on to its hour's end (jackpot.pool_hourly counts the hours a range overlaps
 * whole), and the answer states the range it covers. Defaults: `to` = the end of the current
 * hour, so that a default range is one cache key for the whole hour; `from` = `to` minus 24 hours.
 */
export function parseRange(query: Query, nowMs: number): Parsed<TimeRange> {
  const from = timestamp(query, 'from');
  if (!from.ok) return from;
  const to = timestamp(query, 'to');
  if (!to.ok) return to;
  const toMs = to.value ?? (from.value === undefined ? ceilHour(nowMs) : from.value + DEFAULT_SPAN_MS);
  const fromMs = from.value ?? toMs - DEFAULT_SPAN_MS;
  if (fromMs >= toMs) return bad('from', 'from must be before to');
  const range = { fromMs: Math.floor(fromMs / HOUR_MS) * HOUR_MS, toMs: ceilHour(toMs) };
  if (range.toMs - range.fromMs > MAX_SPAN_MS) return bad('to', 'the range from..to must be 31 days at most');
  return { ok: true, value: range };
}

export function parseLimit(query: Query, def: number, max: number): Parsed<number> {
  const s = single(query, 'limit');
  if (!s.ok) return s;
  if (s.value === undefined) return { ok: true, value: def };
  const n = /^\d{1,6}$/.test(s.value) ? Number(s.value) : Number.NaN;
  if (!(n >= 1 && n <= max)) return bad('limit', `limit must be an integer from 1 to ${max}`);
  return { ok: true, value: n };
}

/** An optional `jackpotId` filter; null when absent. */
export function parseJackpotId(query: Query): Parsed<string | null> {
  const s = single(query, 'jackpotId');
  if (!s.ok) return s;
  if (s.value === undefined) return { ok: true, value: null };
  if (!JACKPOT_ID.test(s.value))
    return bad('jackpotId', 'jackpotId must be 1 to 64 characters of [A-Za-z0-9._-]');
  return { ok: true, value: s.value };
}
