import {
  daysFromCivil,
  daysInMonth,
  MS_PER_DAY,
  MS_PER_HOUR,
  MS_PER_MINUTE,
  MS_PER_SECOND,
} from './civil-date.js';

/**
 * Why an event was not applied. A closed set: the value travels in the `x-dlq-reason` header, the
 * dead-letter table and the gateway's `rejected[].code`, so adding one is a contract change.
 * `unknown_game` and `currency_mismatch` need the jackpot configuration and are decided by
 * `planBatch`; the others by parsing.
 */
export const REASON_CODES = [
  'empty_payload',
  'invalid_utf8',
  'malformed_json',
  'not_an_object',
  'missing_field',
  'wrong_type',
  'invalid_event_id',
  'invalid_occurred_at',
  'occurred_at_in_future',
  'invalid_game_id',
  'invalid_player_id',
  'invalid_currency',
  'amount_out_of_range',
  'unknown_game',
  'currency_mismatch',
  // Fails every window it is in (found by splitting the window); the error is in the message.
  'unprocessable',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

/** A wager that passed every check that needs no configuration. */
export interface Wager {
  /** Lower-cased UUID, so a retry that changed the letter case is still the same wager. */
  readonly eventId: string;
  /** Exactly as sent (Postgres parses it again; keeping the text keeps the offset). */
  readonly occurredAt: string;
  /** `occurredAt` as epoch milliseconds, sub-millisecond digits truncated. */
  readonly occurredAtMs: number;
  readonly gameId: string;
  readonly playerId: string;
  readonly currency: string;
  readonly amountMinor: number;
}

export type WagerParseResult =
  | { readonly ok: true; readonly wager: Wager }
  | { readonly ok: false; readonly reason: ReasonCode; readonly message: string };

const MIN_AMOUNT_MINOR = 1;
const MAX_AMOUNT_MINOR = 1_000_000_000;
/**
 * 1 h of clock skew between a game server and us. Further ahead is rejected because the ledger is
 * partitioned by day and partitions are created only a few days ahead.
 */
const MAX_FUTURE_SKEW_MS = MS_PER_HOUR;

const IDENTIFIER = /^[A-Za-z0-9._:-]{1,64}$/;
const CURRENCY = /^[A-Z]{3}$/;

// The UUID and timestamp checks below read characters by position instead of running a regular
// expression: they run for every wager, and the regular expressions with their capture groups were
// a tenth of a wager's parsing. The accepted languages are exactly those of the expressions in
// the comments (tests/unit/domain/wager.test.ts compares them on random inputs).

/** `/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/` */
function isUuid(text: string): boolean {
  if (text.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = text.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false;
    } else if (!((c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66))) {
      return false;
    }
  }
  return true;
}

/** The value of the ASCII digit at `i`, or -1 (also past the end: NaN compares false). */
function digitAt(text: string, i: number): number {
  const d = text.charCodeAt(i) - 0x30;
  return d >= 0 && d <= 9 ? d : -1;
}

function twoDigitsAt(text: string, i: number): number {
  const a = digitAt(text, i);
  const b = digitAt(text, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

// `fatal` so that bad bytes are reported instead of silently becoming U+FFFD. A leading BOM is
// stripped (the decoder's default), which is harmless.
const utf8 = new TextDecoder('utf-8', { fatal: true });

function fail(reason: ReasonCode, message: string): WagerParseResult {
  return { ok: false, reason, message };
}

/** `text` as a JSON string literal of at most `maxCodePoints` code points, `…` when cut. */
function quote(text: string, maxCodePoints: number): string {
  const codePoints = Array.from(text);
  return codePoints.length > maxCodePoints
    ? `${JSON.stringify(codePoints.slice(0, maxCodePoints).join(''))}…`
    : JSON.stringify(text);
}

/**
 * A short, printable rendering of a rejected value for messages. JSON-escaped so that NUL and lone
 * surrogates never reach a message (messages are stored as Postgres text, which holds neither),
 * cut at 40 code points so a huge value does not bloat the dead-letter row.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return quote(value, 40);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return `a value of type ${typeof value}`;
}

/**
 * Epoch milliseconds of an RFC 3339 timestamp, or `null` when it is not one or names a date or time
 * that does not exist. Years 0001..9999 only: Postgres has no year 0.
 */
export function parseTimestampMs(text: string): number | null {
  // RFC 3339 profile of ISO 8601: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, that is
  // /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/.
  // A timezone is required (a local time is ambiguous); basic format, week dates, ordinal dates
  // and leap second 60 are not accepted.
  const yearHigh = twoDigitsAt(text, 0);
  const yearLow = twoDigitsAt(text, 2);
  const month = twoDigitsAt(text, 5);
  const day = twoDigitsAt(text, 8);
  const hour = twoDigitsAt(text, 11);
  const minute = twoDigitsAt(text, 14);
  const second = twoDigitsAt(text, 17);
  if (
    yearHigh < 0 ||
    yearLow < 0 ||
    month < 0 ||
    day < 0 ||
    hour < 0 ||
    minute < 0 ||
    second < 0 ||
    text.charCodeAt(4) !== 0x2d || // -
    text.charCodeAt(7) !== 0x2d ||
    text.charCodeAt(10) !== 0x54 || // T
    text.charCodeAt(13) !== 0x3a || // :
    text.charCodeAt(16) !== 0x3a
  ) {
    return null;
  }
  let i = 19;
  let millis = 0;
  if (text.charCodeAt(i) === 0x2e) {
    const start = ++i;
    while (digitAt(text, i) >= 0) i++;
    const digits = i - start;
    if (digits < 1 || digits > 9) return null;
    // The first three digits, padded with zeros: ".5" is 500 ms; the rest is truncated.
    for (let k = 0; k < 3; k++) millis = millis * 10 + (k < digits ? digitAt(text, start + k) : 0);
  }
  let offsetMinutes = 0;
  const zone = text.charCodeAt(i);
  if (zone === 0x5a) {
    // Z
    if (text.length !== i + 1) return null;
  } else if (zone === 0x2b || zone === 0x2d) {
    // + or -
    const offsetHour = twoDigitsAt(text, i + 1);
    const offsetMinute = twoDigitsAt(text, i + 4);
    if (text.length !== i + 6 || offsetHour < 0 || offsetMinute < 0 || text.charCodeAt(i + 3) !== 0x3a)
      return null;
    if (offsetHour > 23 || offsetMinute > 59) return null;
    offsetMinutes = (zone === 0x2d ? -1 : 1) * (offsetHour * 60 + offsetMinute);
  } else {
    return null;
  }
  const year = yearHigh * 100 + yearLow;
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  return (
    daysFromCivil(year, month, day) * MS_PER_DAY +
    hour * MS_PER_HOUR +
    minute * MS_PER_MINUTE +
    second * MS_PER_SECOND +
    millis -
    offsetMinutes * MS_PER_MINUTE
  );
}

type Fields = Record<string, unknown>;

/** Own properties only, so `toString` and friends on the prototype never count as fields. */
function field(obj: Fields, name: string): unknown {
  return Object.hasOwn(obj, name) ? obj[name] : undefined;
}

function stringField(
  obj: Fields,
  name: string,
): { ok: true; value: string } | { ok: false; result: WagerParseResult } {
  const value = field(obj, name);
  if (value === undefined) return { ok: false, result: fail('missing_field', `${name} is missing`) };
  if (typeof value !== 'string') {
    return { ok: false, result: fail('wrong_type', `${name} must be a string, got ${describeValue(value)}`) };
  }
  return { ok: true, value };
}

/**
 * Checks an already-parsed JSON value (the gateway parses a request once and checks each item).
 * Fields are checked in a fixed order and the first problem is reported. `null` counts as a
 * present value of the wrong type, not as a missing field.
 */
export function validateWager(value: unknown, nowMs: number): WagerParseResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('not_an_object', `a wager must be a JSON object, got ${describeValue(value)}`);
  }
  const obj = value as Fields;

  const eventId = stringField(obj, 'eventId');
  if (!eventId.ok) return eventId.result;
  if (!isUuid(eventId.value)) {
    return fail(
      'invalid_event_id',
      `eventId must be a UUID (8-4-4-4-12 hex digits), got ${describeValue(eventId.value)}`,
    );
  }

  const occurredAt = stringField(obj, 'occurredAt');
  if (!occurredAt.ok) return occurredAt.result;
  const occurredAtMs = parseTimestampMs(occurredAt.value);
  if (occurredAtMs === null) {
    return fail(
      'invalid_occurred_at',
      `occurredAt must be an ISO-8601 timestamp with a timezone, such as 2026-11-29T12:00:00.123Z, got ${describeValue(occurredAt.value)}`,
    );
  }
  if (occurredAtMs - nowMs > MAX_FUTURE_SKEW_MS) {
    return fail(
      'occurred_at_in_future',
      `occurredAt is ${occurredAtMs - nowMs} ms in the future, more than the ${MAX_FUTURE_SKEW_MS} ms allowed for clock skew`,
    );
  }

  const gameId = stringField(obj, 'gameId');
  if (!gameId.ok) return gameId.result;
  if (!IDENTIFIER.test(gameId.value)) {
    return fail(
      'invalid_game_id',
      `gameId must be 1 to 64 characters of [A-Za-z0-9._:-], got ${describeValue(gameId.value)}`,
    );
  }

  const playerId = stringField(obj, 'playerId');
  if (!playerId.ok) return playerId.result;
  if (!IDENTIFIER.test(playerId.value)) {
    return fail(
      'invalid_player_id',
      `playerId must be 1 to 64 characters of [A-Za-z0-9._:-], got ${describeValue(playerId.value)}`,
    );
  }

  const currency = stringField(obj, 'currency');
  if (!currency.ok) return currency.result;
  if (!CURRENCY.test(currency.value)) {
    return fail(
      'invalid_currency',
      `currency must be three upper-case letters (ISO 4217), got ${describeValue(currency.value)}`,
    );
  }

  const amountMinor = field(obj, 'amountMinor');
  if (amountMinor === undefined) return fail('missing_field', 'amountMinor is missing');
  // A string such as "250" is refused rather than converted: the sender has a bug worth seeing.
  // 250.0 in JSON is the number 250 and is accepted; 250.5 is not an integer.
  if (typeof amountMinor !== 'number' || !Number.isInteger(amountMinor)) {
    return fail('wrong_type', `amountMinor must be an integer, got ${describeValue(amountMinor)}`);
  }
  if (amountMinor < MIN_AMOUNT_MINOR || amountMinor > MAX_AMOUNT_MINOR) {
    return fail(
      'amount_out_of_range',
      `amountMinor must be from ${MIN_AMOUNT_MINOR} to ${MAX_AMOUNT_MINOR}, got ${describeValue(amountMinor)}`,
    );
  }

  return {
    ok: true,
    wager: {
      eventId: eventId.value.toLowerCase(),
      occurredAt: occurredAt.value,
      occurredAtMs,
      gameId: gameId.value,
      playerId: playerId.value,
      currency: currency.value,
      amountMinor,
    },
  };
}

/**
 * Decodes and checks a Kafka message value. `null` (a tombstone) and zero bytes are
 * `empty_payload`; bytes that are not UTF-8 are `invalid_utf8`; then `validateWager`.
 */
export function parseWager(payload: Uint8Array | null, nowMs: number): WagerParseResult {
  if (payload === null || payload.length === 0) return fail('empty_payload', 'the message has no payload');
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return fail('invalid_utf8', 'the payload is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // SyntaxError messages name the position, which helps the sender find the fault; they also
    // quote the input, so they are escaped like any other echoed value.
    const detail = e instanceof Error ? e.message : 'unparseable';
    return fail('malformed_json', `the payload is not valid JSON: ${quote(detail, 200)}`);
  }
  return validateWager(value, nowMs);
}
