import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  civilFromDays,
  claimWeeks,
  daysFromCivil,
  daysInMonth,
  ledgerPartitionFor,
  ledgerPartitionsAhead,
} from '../../../shared/src/domain/index.js';

const DAY = 86_400_000;
// 2026-11-29T12:00:00Z (day 20786)
const NOW = 20_786 * DAY + 12 * 3_600_000;

void test('one partition per UTC day, from daysBehind before today to daysAhead after', () => {
  const parts = ledgerPartitionsAhead(NOW, 1, 3);
  assert.deepEqual(
    parts.map((p) => [p.name, p.fromIso, p.toIso]),
    [
      ['ledger_20261128', '2026-11-28', '2026-11-29'],
      ['ledger_20261129', '2026-11-29', '2026-11-30'],
      ['ledger_20261130', '2026-11-30', '2026-12-01'],
      ['ledger_20261201', '2026-12-01', '2026-12-02'],
      ['ledger_20261202', '2026-12-02', '2026-12-03'],
    ],
  );
  assert.equal(parts[0]?.fromTimestamp, '2026-11-28 00:00:00+00');
  assert.equal(parts[0]?.toTimestamp, '2026-11-29 00:00:00+00');
  assert.deepEqual(
    ledgerPartitionsAhead(NOW, 0, 0).map((p) => p.name),
    ['ledger_20261129'],
  );
});

void test('month, year and leap-day boundaries', () => {
  const dec31 = daysFromCivil(2026, 12, 31) * DAY;
  assert.deepEqual(
    ledgerPartitionsAhead(dec31, 0, 1).map((p) => [p.name, p.toIso]),
    [
      ['ledger_20261231', '2027-01-01'],
      ['ledger_20270101', '2027-01-02'],
    ],
  );
  const feb28 = daysFromCivil(2028, 2, 28) * DAY;
  assert.deepEqual(
    ledgerPartitionsAhead(feb28, 0, 2).map((p) => p.fromIso),
    ['2028-02-28', '2028-02-29', '2028-03-01'],
  );
  const feb28common = daysFromCivil(2100, 2, 28) * DAY; // 2100 is not a leap year
  assert.deepEqual(
    ledgerPartitionsAhead(feb28common, 0, 1).map((p) => p.fromIso),
    ['2100-02-28', '2100-03-01'],
  );
});

void test('an instant belongs to the UTC day it falls in, edges included', () => {
  const midnight = 20_786 * DAY;
  assert.equal(ledgerPartitionFor(midnight).name, 'ledger_20261129');
  assert.equal(ledgerPartitionFor(midnight - 1).name, 'ledger_20261128');
  assert.equal(ledgerPartitionFor(midnight + DAY - 1).name, 'ledger_20261129');
  assert.equal(ledgerPartitionFor(0).name, 'ledger_19700101');
  assert.equal(ledgerPartitionFor(-1).name, 'ledger_19691231');
});

void test('bad arguments are refused', () => {
  assert.throws(() => ledgerPartitionsAhead(NOW, -1, 1), RangeError);
  assert.throws(() => ledgerPartitionsAhead(NOW, 1, 1.5), RangeError);
});

void test('daysInMonth', () => {
  assert.deepEqual(
    Array.from({ length: 12 }, (_, i) => daysInMonth(2026, i + 1)),
    [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
  );
  assert.equal(daysInMonth(2024, 2), 29);
  assert.equal(daysInMonth(2000, 2), 29);
  assert.equal(daysInMonth(1900, 2), 28);
  assert.equal(daysInMonth(2200, 2), 28);
  assert.equal(daysInMonth(1600, 2), 29);
  assert.throws(() => daysInMonth(2026, 13), RangeError);
});

void test('property: civil-date math agrees with Date and round-trips', () => {
  fc.assert(
    fc.property(fc.integer({ min: -719_162, max: 2_932_896 }), (day) => {
      // day -719162 is 0001-01-01, day 2932896 is 9999-12-31
      const civil = civilFromDays(day);
      const iso = new Date(day * DAY).toISOString().slice(0, 10);
      assert.equal(
        `${String(civil.year).padStart(4, '0')}-${String(civil.month).padStart(2, '0')}-${String(civil.day).padStart(2, '0')}`,
        iso,
      );
      assert.equal(daysFromCivil(civil.year, civil.month, civil.day), day);
    }),
    { numRuns: 2000 },
  );
});

const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);

void test('claimWeeks: the UTC week from Monday, and the week before in the first hour of a week', () => {
  const cases: [string, string, string | null][] = [
    ['2026-11-30T00:00:00.000Z', '2026-11-30', '2026-11-23'], // Monday midnight
    ['2026-11-30T00:59:59.999Z', '2026-11-30', '2026-11-23'],
    ['2026-11-30T01:00:00.000Z', '2026-11-30', null],
    ['2026-11-29T23:59:59.999Z', '2026-11-23', null], // Sunday, last instant of its week
    ['2026-12-02T12:00:00.000Z', '2026-11-30', null],
    ['2027-01-01T00:30:00.000Z', '2026-12-28', null], // a new year is not a new week
    ['1970-01-01T00:00:00.000Z', '1969-12-29', null], // day 0, a Thursday
    ['1970-01-05T00:30:00.000Z', '1970-01-05', '1969-12-29'],
  ];
  for (const [iso, week, alsoWeek] of cases)
    assert.deepEqual(claimWeeks(at(iso), HOUR), { week, alsoWeek }, iso);
  assert.equal(claimWeeks(at('2026-11-30T00:00:00.000Z'), 0).alsoWeek, null, 'no grace, no second week');
});

void test('claimWeeks: the week is the Monday on or before, the second week exactly in the grace', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4_102_444_800_000 }),
      fc.integer({ min: 0, max: 7 * DAY }),
      (ms, grace) => {
        const { week, alsoWeek } = claimWeeks(ms, grace);
        const start = Date.parse(`${week}T00:00:00Z`);
        assert.equal(new Date(start).getUTCDay(), 1);
        assert.ok(ms - start >= 0 && ms - start < 7 * DAY);
        if (ms - start < grace) assert.equal(alsoWeek, new Date(start - 7 * DAY).toISOString().slice(0, 10));
        else assert.equal(alsoWeek, null);
      },
    ),
  );
});
