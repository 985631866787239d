/**
 * The wager parser (domain/wager.ts). Organised as: the contract example, a table of cases for
 * validateWager, a table for parseWager, hand-computed timestamps, then fast-check properties, the
 * last two against the reference regular expressions kept near the end of the file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  parseTimestampMs,
  parseWager,
  REASON_CODES,
  validateWager,
  type WagerParseResult,
  type ReasonCode,
  type Wager,
} from '../../../shared/src/domain/index.js';
import { CONTRACT_WAGER } from '../../helpers/contract-wager.js';

// 2026-11-29T12:00:00.000Z: 20786 days after 1970-01-01 (20454 to 2026-01-01, +332) + 12 h.
const NOW = 1_795_953_600_000;
const MIN = 60_000;

const BASE = CONTRACT_WAGER;

const BASE_WAGER: Wager = { ...BASE, occurredAtMs: NOW + 123 };

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

function without(name: keyof typeof BASE): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...BASE };
  delete copy[name];
  return copy;
}

function accepted(result: WagerParseResult): Wager {
  if (!result.ok) assert.fail(`expected ok, got ${result.reason}: ${result.message}`);
  return result.wager;
}

void test('the contract example parses to exactly these values', () => {
  assert.deepEqual(parseWager(encode(JSON.stringify(BASE)), NOW), { ok: true, wager: BASE_WAGER });
  assert.deepEqual(validateWager(BASE, NOW), { ok: true, wager: BASE_WAGER });
});

interface Case {
  name: string;
  input: unknown;
  /** `ok` or the reason code expected. */
  expect: 'ok' | ReasonCode;
  /** A word the message must contain (the field it is about). */
  mentions?: string;
}

const id64 = 'a'.repeat(64);
const id65 = 'a'.repeat(65);

const cases: Case[] = [
  // eventId
  { name: 'eventId upper case', input: { ...BASE, eventId: BASE.eventId.toUpperCase() }, expect: 'ok' },
  {
    name: 'eventId nil UUID',
    input: { ...BASE, eventId: '00000000-0000-0000-0000-000000000000' },
    expect: 'ok',
  },
  {
    name: 'eventId version 1',
    input: { ...BASE, eventId: 'c232ab00-9414-11ec-b3c8-9e6bdeced846' },
    expect: 'ok',
  },
  {
    name: 'eventId version 7',
    input: { ...BASE, eventId: '018f6b1c-7d4e-7a3b-9c2d-1e2f3a4b5c6d' },
    expect: 'ok',
  },
  {
    name: 'eventId without dashes',
    input: { ...BASE, eventId: '0b6f0c1e4d4f4f5e9a438d2b1f0f6a10' },
    expect: 'invalid_event_id',
    mentions: 'eventId',
  },
  {
    name: 'eventId with braces',
    input: { ...BASE, eventId: `{${BASE.eventId}}` },
    expect: 'invalid_event_id',
    mentions: 'eventId',
  },
  {
    name: 'eventId non-hex letter',
    input: { ...BASE, eventId: 'gb6f0c1e-4d4f-4f5e-9a43-8d2b1f0f6a10' },
    expect: 'invalid_event_id',
    mentions: 'eventId',
  },
  {
    name: 'eventId one digit short',
    input: { ...BASE, eventId: '0b6f0c1e-4d4f-4f5e-9a43-8d2b1f0f6a1' },
    expect: 'invalid_event_id',
    mentions: 'eventId',
  },
  {
    name: 'eventId trailing space',
    input: { ...BASE, eventId: `${BASE.eventId} ` },
    expect: 'invalid_event_id',
    mentions: 'eventId',
  },
  {
    name: 'eventId urn form',
    input: { ...BASE, eventId: `urn:uuid:${BASE.eventId}` },
    expect: 'invalid_event_id',
    mentions: 'eventId',
  },
  { name: 'eventId empty', input: { ...BASE, eventId: '' }, expect: 'invalid_event_id', mentions: 'eventId' },
  { name: 'eventId a number', input: { ...BASE, eventId: 42 }, expect: 'wrong_type', mentions: 'eventId' },
  { name: 'eventId null', input: { ...BASE, eventId: null }, expect: 'wrong_type', mentions: 'eventId' },
  // occurredAt
  {
    name: 'occurredAt with offset',
    input: { ...BASE, occurredAt: '2026-11-29T13:30:00+01:00' },
    expect: 'ok',
  },
  {
    name: 'occurredAt without fraction',
    input: { ...BASE, occurredAt: '2026-11-29T12:00:00Z' },
    expect: 'ok',
  },
  {
    name: 'occurredAt 9 fraction digits',
    input: { ...BASE, occurredAt: '2026-11-29T12:00:00.123456789Z' },
    expect: 'ok',
  },
  {
    name: 'occurredAt 29 Feb of a leap year',
    input: { ...BASE, occurredAt: '2024-02-29T00:00:00Z' },
    expect: 'ok',
  },
  { name: 'occurredAt long ago', input: { ...BASE, occurredAt: '1999-12-31T23:59:59Z' }, expect: 'ok' },
  {
    name: 'occurredAt without timezone',
    input: { ...BASE, occurredAt: '2026-11-29T12:00:00.123' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt date only',
    input: { ...BASE, occurredAt: '2026-11-29' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt 29 Feb of a common year',
    input: { ...BASE, occurredAt: '2026-02-29T12:00:00Z' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt 31 April',
    input: { ...BASE, occurredAt: '2026-04-31T12:00:00Z' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt month 13',
    input: { ...BASE, occurredAt: '2026-13-01T12:00:00Z' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt hour 24',
    input: { ...BASE, occurredAt: '2026-11-29T24:00:00Z' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt leap second',
    input: { ...BASE, occurredAt: '2016-12-31T23:59:60Z' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt offset without colon',
    input: { ...BASE, occurredAt: '2026-11-29T12:00:00+0100' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt lower-case z',
    input: { ...BASE, occurredAt: '2026-11-29T12:00:00z' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt space for T',
    input: { ...BASE, occurredAt: '2026-11-29 12:00:00Z' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt year 0',
    input: { ...BASE, occurredAt: '0000-01-01T00:00:00Z' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt 10 fraction digits',
    input: { ...BASE, occurredAt: '2026-11-29T12:00:00.1234567890Z' },
    expect: 'invalid_occurred_at',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt epoch number',
    input: { ...BASE, occurredAt: NOW },
    expect: 'wrong_type',
    mentions: 'occurredAt',
  },
  { name: 'occurredAt 59 min ahead', input: { ...BASE, occurredAt: '2026-11-29T12:59:00Z' }, expect: 'ok' },
  {
    name: 'occurredAt exactly 60 min ahead',
    input: { ...BASE, occurredAt: '2026-11-29T13:00:00.000Z' },
    expect: 'ok',
  },
  {
    name: 'occurredAt 60 min 1 ms ahead',
    input: { ...BASE, occurredAt: '2026-11-29T13:00:00.001Z' },
    expect: 'occurred_at_in_future',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt 61 min ahead',
    input: { ...BASE, occurredAt: '2026-11-29T13:01:00Z' },
    expect: 'occurred_at_in_future',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt 61 min ahead, said in +02:00',
    input: { ...BASE, occurredAt: '2026-11-29T15:01:00+02:00' },
    expect: 'occurred_at_in_future',
    mentions: 'occurredAt',
  },
  {
    name: 'occurredAt 59 min ahead, said in -05:00',
    input: { ...BASE, occurredAt: '2026-11-29T07:59:00-05:00' },
    expect: 'ok',
  },
  // gameId and playerId
  { name: 'gameId 64 characters', input: { ...BASE, gameId: id64 }, expect: 'ok' },
  { name: 'gameId 1 character', input: { ...BASE, gameId: 'g' }, expect: 'ok' },
  { name: 'gameId every allowed punctuation', input: { ...BASE, gameId: 'A.b_C:d-9' }, expect: 'ok' },
  {
    name: 'gameId 65 characters',
    input: { ...BASE, gameId: id65 },
    expect: 'invalid_game_id',
    mentions: 'gameId',
  },
  { name: 'gameId empty', input: { ...BASE, gameId: '' }, expect: 'invalid_game_id', mentions: 'gameId' },
  {
    name: 'gameId with a space',
    input: { ...BASE, gameId: 'star burst' },
    expect: 'invalid_game_id',
    mentions: 'gameId',
  },
  {
    name: 'gameId with a slash',
    input: { ...BASE, gameId: 'star/burst' },
    expect: 'invalid_game_id',
    mentions: 'gameId',
  },
  {
    name: 'gameId non-ASCII letter',
    input: { ...BASE, gameId: 'stärburst' },
    expect: 'invalid_game_id',
    mentions: 'gameId',
  },
  {
    name: 'gameId with a trailing newline',
    input: { ...BASE, gameId: 'starburst\n' },
    expect: 'invalid_game_id',
    mentions: 'gameId',
  },
  { name: 'gameId a number', input: { ...BASE, gameId: 7 }, expect: 'wrong_type', mentions: 'gameId' },
  { name: 'playerId 64 characters', input: { ...BASE, playerId: id64 }, expect: 'ok' },
  {
    name: 'playerId 65 characters',
    input: { ...BASE, playerId: id65 },
    expect: 'invalid_player_id',
    mentions: 'playerId',
  },
  {
    name: 'playerId empty',
    input: { ...BASE, playerId: '' },
    expect: 'invalid_player_id',
    mentions: 'playerId',
  },
  {
    name: 'playerId with NUL',
    input: { ...BASE, playerId: 'p\u00001' },
    expect: 'invalid_player_id',
    mentions: 'playerId',
  },
  {
    name: 'playerId a number',
    input: { ...BASE, playerId: 12345 },
    expect: 'wrong_type',
    mentions: 'playerId',
  },
  // currency
  {
    name: 'currency lower case',
    input: { ...BASE, currency: 'eur' },
    expect: 'invalid_currency',
    mentions: 'currency',
  },
  {
    name: 'currency 4 letters',
    input: { ...BASE, currency: 'EURO' },
    expect: 'invalid_currency',
    mentions: 'currency',
  },
  {
    name: 'currency 2 letters',
    input: { ...BASE, currency: 'EU' },
    expect: 'invalid_currency',
    mentions: 'currency',
  },
  {
    name: 'currency numeric code as string',
    input: { ...BASE, currency: '978' },
    expect: 'invalid_currency',
    mentions: 'currency',
  },
  {
    name: 'currency numeric code as number',
    input: { ...BASE, currency: 978 },
    expect: 'wrong_type',
    mentions: 'currency',
  },
  // amountMinor
  { name: 'amount 1', input: { ...BASE, amountMinor: 1 }, expect: 'ok' },
  { name: 'amount 1e9', input: { ...BASE, amountMinor: 1_000_000_000 }, expect: 'ok' },
  {
    name: 'amount 0',
    input: { ...BASE, amountMinor: 0 },
    expect: 'amount_out_of_range',
    mentions: 'amountMinor',
  },
  {
    name: 'amount -1',
    input: { ...BASE, amountMinor: -1 },
    expect: 'amount_out_of_range',
    mentions: 'amountMinor',
  },
  {
    name: 'amount 1e9 + 1',
    input: { ...BASE, amountMinor: 1_000_000_001 },
    expect: 'amount_out_of_range',
    mentions: 'amountMinor',
  },
  {
    name: 'amount 1e21 (an integer, unsafe)',
    input: { ...BASE, amountMinor: 1e21 },
    expect: 'amount_out_of_range',
    mentions: 'amountMinor',
  },
  { name: 'amount 2.5', input: { ...BASE, amountMinor: 2.5 }, expect: 'wrong_type', mentions: 'amountMinor' },
  { name: 'amount 0.1', input: { ...BASE, amountMinor: 0.1 }, expect: 'wrong_type', mentions: 'amountMinor' },
  {
    name: 'amount as a string',
    input: { ...BASE, amountMinor: '250' },
    expect: 'wrong_type',
    mentions: 'amountMinor',
  },
  {
    name: 'amount null',
    input: { ...BASE, amountMinor: null },
    expect: 'wrong_type',
    mentions: 'amountMinor',
  },
  {
    name: 'amount true',
    input: { ...BASE, amountMinor: true },
    expect: 'wrong_type',
    mentions: 'amountMinor',
  },
  // missing fields
  ...(Object.keys(BASE) as (keyof typeof BASE)[]).map((name): Case => ({
    name: `${name} missing`,
    input: without(name),
    expect: 'missing_field',
    mentions: name,
  })),
  // not an object
  { name: 'an array', input: [BASE], expect: 'not_an_object' },
  { name: 'null', input: null, expect: 'not_an_object' },
  { name: 'a string', input: 'wager', expect: 'not_an_object' },
  { name: 'a number', input: 250, expect: 'not_an_object' },
  // unknown fields
  {
    name: 'unknown fields ignored',
    input: { ...BASE, extra: { nested: [1, 2] }, amount: 'x', EventId: 1 },
    expect: 'ok',
  },
];

for (const c of cases) {
  void test(`validateWager: ${c.name} → ${c.expect}`, () => {
    const result = validateWager(c.input, NOW);
    if (c.expect === 'ok') {
      accepted(result);
    } else {
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.reason, c.expect, result.message);
      if (c.mentions !== undefined) assert.match(result.message, new RegExp(`\\b${c.mentions}\\b`));
    }
  });
}

void test('accepted values are carried over exactly; eventId is lower-cased, occurredAt kept as sent', () => {
  const upper = accepted(validateWager({ ...BASE, eventId: '0B6F0C1E-4D4F-4F5E-9A43-8D2B1F0F6A10' }, NOW));
  assert.equal(upper.eventId, BASE.eventId);
  assert.equal(upper.eventId, accepted(validateWager(BASE, NOW)).eventId);

  const offset = accepted(validateWager({ ...BASE, occurredAt: '2026-11-29T13:30:00+01:00' }, NOW));
  assert.equal(offset.occurredAt, '2026-11-29T13:30:00+01:00');
  assert.equal(offset.occurredAtMs, NOW + 30 * MIN);

  const nanos = accepted(validateWager({ ...BASE, occurredAt: '2026-11-29T12:00:00.987654321Z' }, NOW));
  assert.equal(nanos.occurredAtMs, NOW + 987);

  const extra = accepted(validateWager({ ...BASE, extra: 1 }, NOW));
  assert.deepEqual(extra, BASE_WAGER);
  assert.equal(Object.hasOwn(extra, 'extra'), false);

  assert.equal(
    accepted(validateWager({ ...BASE, amountMinor: 1_000_000_000 }, NOW)).amountMinor,
    1_000_000_000,
  );
});

void test('inherited properties are not fields', () => {
  const proto = { ...BASE };
  const obj = Object.create(proto) as object;
  const result = validateWager(obj, NOW);
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.reason, 'missing_field');
});

const bytesCases: { name: string; payload: Uint8Array | null; expect: 'ok' | ReasonCode }[] = [
  { name: 'null (tombstone)', payload: null, expect: 'empty_payload' },
  { name: 'zero bytes', payload: new Uint8Array(0), expect: 'empty_payload' },
  { name: 'lone continuation byte', payload: Uint8Array.of(0x80), expect: 'invalid_utf8' },
  { name: '0xff', payload: Uint8Array.of(0x7b, 0xff, 0x7d), expect: 'invalid_utf8' },
  { name: 'truncated 2-byte sequence', payload: Uint8Array.of(0x7b, 0xc3), expect: 'invalid_utf8' },
  { name: 'overlong "/"', payload: Uint8Array.of(0xc0, 0xaf), expect: 'invalid_utf8' },
  {
    name: 'encoded surrogate U+D800',
    payload: Uint8Array.of(0x22, 0xed, 0xa0, 0x80, 0x22),
    expect: 'invalid_utf8',
  },
  {
    name: 'Latin-1 é inside a valid wager',
    payload: Uint8Array.from([
      ...encode(JSON.stringify(BASE)).slice(0, -1),
      0x2c,
      0x22,
      0x78,
      0x22,
      0x3a,
      0x22,
      0xe9,
      0x22,
      0x7d,
    ]),
    expect: 'invalid_utf8',
  },
  { name: 'not JSON', payload: encode('eventId=1'), expect: 'malformed_json' },
  { name: 'truncated JSON', payload: encode(JSON.stringify(BASE).slice(0, -1)), expect: 'malformed_json' },
  { name: 'trailing garbage', payload: encode(`${JSON.stringify(BASE)}x`), expect: 'malformed_json' },
  { name: 'only whitespace', payload: encode('  \n'), expect: 'malformed_json' },
  { name: 'single quotes', payload: encode("{'eventId': 1}"), expect: 'malformed_json' },
  { name: 'a JSON array of a wager', payload: encode(JSON.stringify([BASE])), expect: 'not_an_object' },
  { name: 'JSON null', payload: encode('null'), expect: 'not_an_object' },
  { name: 'JSON number', payload: encode('42'), expect: 'not_an_object' },
  { name: 'JSON string', payload: encode('"wager"'), expect: 'not_an_object' },
  { name: 'valid wager', payload: encode(JSON.stringify(BASE)), expect: 'ok' },
  {
    name: 'valid wager with a BOM',
    payload: Uint8Array.from([0xef, 0xbb, 0xbf, ...encode(JSON.stringify(BASE))]),
    expect: 'ok',
  },
  {
    name: 'valid wager with UTF-8 in an unknown field',
    payload: encode(JSON.stringify({ ...BASE, note: 'é€😀' })),
    expect: 'ok',
  },
  {
    name: 'amount written 250.0',
    payload: encode(JSON.stringify(BASE).replace('250', '250.0')),
    expect: 'ok',
  },
  { name: 'amount written 1e9', payload: encode(JSON.stringify(BASE).replace('250', '1e9')), expect: 'ok' },
  {
    name: 'amount written 1e400',
    payload: encode(JSON.stringify(BASE).replace('250', '1e400')),
    expect: 'wrong_type',
  },
];

for (const c of bytesCases) {
  void test(`parseWager: ${c.name} → ${c.expect}`, () => {
    const result = parseWager(c.payload, NOW);
    if (c.expect === 'ok') accepted(result);
    else assert.equal(result.ok ? 'ok' : result.reason, c.expect);
  });
}

void test('amounts written in other JSON forms are read as their value', () => {
  assert.equal(
    accepted(parseWager(encode(JSON.stringify(BASE).replace('250', '250.0')), NOW)).amountMinor,
    250,
  );
  assert.equal(
    accepted(parseWager(encode(JSON.stringify(BASE).replace('250', '1e9')), NOW)).amountMinor,
    1e9,
  );
});

void test('every parser reason code is exercised by the tables above', () => {
  const seen = new Set<string>([...cases.map((c) => c.expect), ...bytesCases.map((c) => c.expect)]);
  const parserCodes = REASON_CODES.filter(
    (r) => r !== 'unknown_game' && r !== 'currency_mismatch' && r !== 'unprocessable',
  );
  assert.deepEqual(
    parserCodes.filter((r) => !seen.has(r)),
    [],
  );
  assert.equal(REASON_CODES.length, 16);
});

void test('parseTimestampMs: hand-computed instants', () => {
  const table: [string, number | null][] = [
    ['1970-01-01T00:00:00Z', 0],
    ['1970-01-01T00:00:00.001Z', 1],
    ['1969-12-31T23:59:59.999Z', -1],
    ['1970-01-01T01:00:00+01:00', 0],
    ['1970-01-01T00:00:00-00:30', 30 * MIN],
    ['2000-03-01T00:00:00Z', 951_868_800_000], // 11017 days
    ['2026-11-29T12:00:00.123Z', NOW + 123],
    ['2026-11-29T12:00:00.5Z', NOW + 500],
    ['2026-11-29T12:00:00.05Z', NOW + 50],
    ['2026-11-29T12:00:00.0009Z', NOW],
    ['2026-11-29T12:00:00+23:59', NOW - (23 * 60 + 59) * MIN],
    ['2026-11-29T12:00:00+24:00', null],
    ['2026-11-29T12:00:00+01:60', null],
    ['2026-11-29T12:60:00Z', null],
    ['1900-02-29T00:00:00Z', null],
    ['2200-02-29T00:00:00Z', null],
    ['2400-02-29T00:00:00Z', 13_574_563_200_000],
    ['2000-02-29T00:00:00Z', 951_782_400_000],
    ['2026-11-29T12:00:00.Z', null],
    ['+2026-11-29T12:00:00Z', null],
    ['2026-11-29T12:00Z', null],
  ];
  for (const [text, expected] of table) assert.equal(parseTimestampMs(text), expected, text);
});

void test('property: parseTimestampMs agrees with Date.parse on every valid timestamp', () => {
  const pad = (n: number, w: number): string => String(n).padStart(w, '0');
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 9999 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 31 }),
      fc.integer({ min: 0, max: 23 }),
      fc.integer({ min: 0, max: 59 }),
      fc.integer({ min: 0, max: 59 }),
      fc.option(fc.integer({ min: 0, max: 999 })),
      fc.option(
        fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })),
      ),
      (y, mo, d, h, mi, s, ms, offset) => {
        const tz = offset === null ? 'Z' : `${offset[0]}${pad(offset[1], 2)}:${pad(offset[2], 2)}`;
        const frac = ms === null ? '' : `.${pad(ms, 3)}`;
        const text = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${frac}${tz}`;
        // Date.parse rolls 31 April over to 1 May; the reference is "the date round-trips".
        const reference = Date.parse(text);
        const exists = new Date(Date.UTC(y, mo - 1, d)).getUTCDate() === d;
        assert.equal(parseTimestampMs(text), exists ? reference : null, text);
      },
    ),
    { numRuns: 2000 },
  );
});

void test('property: bytes and already-parsed JSON give the same result', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const viaBytes = parseWager(encode(JSON.stringify(value)), NOW);
      assert.deepEqual(viaBytes, validateWager(JSON.parse(JSON.stringify(value)), NOW));
    }),
  );
});

void test('property: rejection messages always fit in a Postgres text column (no NUL, no lone surrogate)', () => {
  const hostile = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.string({ unit: 'grapheme' }),
    fc.constant('\u0000'),
    fc.constant('\ud800'),
  );
  const wagerLike = fc.record({
    eventId: fc.oneof(hostile, fc.uuid()),
    occurredAt: hostile,
    gameId: hostile,
    playerId: hostile,
    currency: hostile,
    amountMinor: fc.oneof(fc.double(), hostile),
  });
  fc.assert(
    fc.property(fc.oneof(wagerLike, fc.jsonValue()), fc.string({ unit: 'binary' }), (value, junk) => {
      for (const result of [validateWager(value, NOW), parseWager(encode(junk), NOW)]) {
        if (!result.ok) {
          assert.ok(!result.message.includes('\u0000'), JSON.stringify(result.message));
          // A lone surrogate has no UTF-8 form: the round trip would turn it into U+FFFD.
          assert.equal(Buffer.from(result.message, 'utf8').toString('utf8'), result.message);
        }
      }
    }),
  );
});

void test('messages echo the bad value, cut short when it is long', () => {
  const result = validateWager({ ...BASE, gameId: 'x'.repeat(1000) }, NOW);
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.ok(result.message.includes(`"${'x'.repeat(40)}"…`), result.message);
  assert.ok(result.message.length < 200, result.message);
});

// The regular expressions the position-reading checks replaced, kept as the reference.
const UUID_REFERENCE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const TIMESTAMP_REFERENCE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** Strings near the accepted forms: valid ones with one character replaced, inserted or removed. */
function nearMisses(valid: fc.Arbitrary<string>, alphabet: string): fc.Arbitrary<string> {
  const char = fc.constantFrom(...alphabet.split(''));
  return fc.oneof(
    valid,
    fc
      .tuple(valid, fc.nat(), char)
      .map(([s, i, c]) => s.slice(0, i % (s.length + 1)) + c + s.slice((i % (s.length + 1)) + 1)),
    fc
      .tuple(valid, fc.nat(), char)
      .map(([s, i, c]) => s.slice(0, i % (s.length + 1)) + c + s.slice(i % (s.length + 1))),
    fc
      .tuple(valid, fc.nat())
      .map(([s, i]) => s.slice(0, i % (s.length + 1)) + s.slice((i % (s.length + 1)) + 1)),
  );
}

void test('property: the UUID check accepts exactly what the reference expression accepts', () => {
  const valid = fc.uuid().chain((u) => fc.constantFrom(u, u.toUpperCase()));
  fc.assert(
    fc.property(nearMisses(valid, '0123456789abcdefABCDEFgG-_ {}\u0660'), (s) => {
      assert.equal(validateWager({ ...BASE, eventId: s }, NOW).ok, UUID_REFERENCE.test(s), JSON.stringify(s));
    }),
    { numRuns: 3000 },
  );
});

void test('property: parseTimestampMs accepts exactly what the reference expression accepts', () => {
  const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
  const valid = fc
    .tuple(
      fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
      two(13),
      two(32),
      two(24),
      two(60),
      two(60),
      fc.oneof(fc.constant(''), fc.stringMatching(/^\.\d{1,10}$/)),
      fc.oneof(
        fc.constant('Z'),
        fc.tuple(fc.constantFrom('+', '-'), two(24), two(60)).map(([s, h, m]) => `${s}${h}:${m}`),
      ),
    )
    .map(([y, mo, d, h, mi, s, f, z]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${f}${z}`);
  fc.assert(
    fc.property(nearMisses(valid, '0123456789-:T.Zz+ t\u0661'), (s) => {
      const m = TIMESTAMP_REFERENCE.exec(s);
      const got = parseTimestampMs(s);
      if (m === null) {
        assert.equal(got, null, JSON.stringify(s));
        return;
      }
      // The expression accepts the shape; the date and time must also exist (Date.parse agrees).
      const [, y, mo, d, h, mi, sec, , , oh, om] = m.map(Number);
      const exists =
        (y ?? 0) >= 1 &&
        (h ?? 0) <= 23 &&
        (mi ?? 0) <= 59 &&
        (sec ?? 0) <= 59 &&
        (Number.isNaN(oh) || ((oh ?? 0) <= 23 && (om ?? 0) <= 59)) &&
        new Date(Date.UTC(2000, (mo ?? 1) - 1, d)).getUTCMonth() === (mo ?? 1) - 1 &&
        (mo ?? 0) >= 1 &&
        (d ?? 0) >= 1 &&
        !(
          (mo ?? 0) === 2 &&
          d === 29 &&
          !((y ?? 0) % 4 === 0 && ((y ?? 0) % 100 !== 0 || (y ?? 0) % 400 === 0))
        );
      assert.equal(got !== null, exists, JSON.stringify(s));
    }),
    { numRuns: 5000 },
  );
});
