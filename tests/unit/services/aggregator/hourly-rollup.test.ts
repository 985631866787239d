/**
 * A window's hourly rollups (services/aggregator/src/hourly-rollup.ts) against a reference that
 * cuts every share's hour from its exact microseconds (`timestampMicros`, BigInt) and sums the
 * groups in a plain map: a table of timestamps around hour boundaries (where Postgres's rounding
 * to microseconds moves a wager into the next hour), then random windows. What Postgres makes of
 * the upsert is tests/integration/hourly-rollups.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Wager } from '../../../../shared/src/domain/index.js';
import {
  createHourlyRollup,
  type HourlyRollupRows,
} from '../../../../services/aggregator/src/hourly-rollup.js';
import { timestampMicros } from '../../../../services/aggregator/src/ledger-copy.js';

interface Share {
  readonly wager: Wager;
  readonly poolId: string;
  readonly c: bigint;
  readonly o: bigint;
  readonly r: bigint;
}

const HOUR_MICROS = 3_600_000_000n;
const PG_EPOCH_MS = 946_684_800_000;

function exactHour(text: string): string {
  const micros = timestampMicros(text);
  const floor = micros - (((micros % HOUR_MICROS) + HOUR_MICROS) % HOUR_MICROS);
  return new Date(Number(floor / 1000n) + PG_EPOCH_MS).toISOString();
}

function reference(shares: readonly Share[]): HourlyRollupRows {
  const groups = new Map<
    string,
    { hour: string; poolId: string; gameId: string; n: number; w: number; c: bigint; o: bigint; r: bigint }
  >();
  for (const s of shares) {
    const hour = exactHour(s.wager.occurredAt);
    const key = JSON.stringify([hour, s.poolId, s.wager.gameId]);
    const g = groups.get(key) ?? {
      hour,
      poolId: s.poolId,
      gameId: s.wager.gameId,
      n: 0,
      w: 0,
      c: 0n,
      o: 0n,
      r: 0n,
    };
    g.n++;
    g.w += s.wager.amountMinor;
    g.c += s.c;
    g.o += s.o;
    g.r += s.r;
    groups.set(key, g);
  }
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const sorted = [...groups.values()].sort(
    (a, b) => cmp(a.hour, b.hour) || cmp(a.poolId, b.poolId) || cmp(a.gameId, b.gameId),
  );
  return {
    hours: sorted.map((g) => g.hour),
    poolIds: sorted.map((g) => g.poolId),
    gameIds: sorted.map((g) => g.gameId),
    wagers: sorted.map((g) => g.n),
    wageredMinor: sorted.map((g) => String(g.w)),
    contributionMicro: sorted.map((g) => g.c.toString()),
    overflowMicro: sorted.map((g) => g.o.toString()),
    reserveMicro: sorted.map((g) => g.r.toString()),
  };
}

function rollup(shares: readonly Share[]): HourlyRollupRows {
  const h = createHourlyRollup();
  for (const s of shares) h.row(s.wager, null, s.poolId, 1, s.c, s.o, s.r);
  return h.rows();
}

let next = 0;
function wager(occurredAt: string, gameId = 'g1', amountMinor = 250): Wager {
  next++;
  return {
    eventId: `00000000-0000-4000-8000-${next.toString(16).padStart(12, '0')}`,
    occurredAt,
    occurredAtMs: 0, // not read: the hour comes from the text
    gameId,
    playerId: 'p',
    currency: 'EUR',
    amountMinor,
  };
}
const sharesOf = (w: Wager, pools = ['j:a', 'j:b']): Share[] =>
  pools.map((poolId, k) => ({
    wager: w,
    poolId,
    c: BigInt(w.amountMinor * (k + 1) * 1000),
    o: k === 1 ? 5n : 0n,
    r: 7n,
  }));

/** [timestamp, the hour Postgres files it under] */
const HOURS: [string, string][] = [
  ['2026-11-29T09:30:00Z', '2026-11-29T09:00:00.000Z'],
  ['2026-11-29T09:00:00Z', '2026-11-29T09:00:00.000Z'],
  ['2026-11-29T09:59:59.999Z', '2026-11-29T09:00:00.000Z'],
  ['2026-11-29T09:59:59.9994Z', '2026-11-29T09:00:00.000Z'],
  ['2026-11-29T09:59:59.9999994Z', '2026-11-29T09:00:00.000Z'],
  ['2026-11-29T09:59:59.9999995Z', '2026-11-29T10:00:00.000Z'], // a half: rounds up (to even: ...000000)
  ['2026-11-29T09:59:59.9999996Z', '2026-11-29T10:00:00.000Z'],
  ['2026-11-29T09:59:59.999999999Z', '2026-11-29T10:00:00.000Z'],
  ['2026-11-29T23:59:59.9999999Z', '2026-11-30T00:00:00.000Z'],
  ['2026-11-29T10:59:59.9999996+01:00', '2026-11-29T10:00:00.000Z'],
  ['2026-11-29T09:29:59.9999996-00:30', '2026-11-29T10:00:00.000Z'],
  ['2026-11-29T15:29:59.999+05:30', '2026-11-29T09:00:00.000Z'],
  ['1999-12-31T23:59:59.9999999Z', '2000-01-01T00:00:00.000Z'],
  ['1969-12-31T23:59:59.9999999Z', '1970-01-01T00:00:00.000Z'],
  ['1969-12-31T23:59:59.999Z', '1969-12-31T23:00:00.000Z'],
  ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
  ['9999-12-31T23:59:59.999999Z', '9999-12-31T23:00:00.000Z'],
];

for (const [at, hour] of HOURS) {
  void test(`hourly rollup: ${at} is counted in the hour of ${hour}`, () => {
    const shares = sharesOf(wager(at));
    const rows = rollup(shares);
    assert.deepEqual(rows.hours, [hour, hour]);
    assert.deepEqual(rows, reference(shares));
  });
}

void test('hourly rollup: wagers of many hours, games and pools, in any order, group as the reference', () => {
  const shares = [
    ...sharesOf(wager('2026-11-29T09:59:59.9999996Z', 'g2')),
    ...sharesOf(wager('2026-11-29T09:10:00Z', 'g1')),
    ...sharesOf(wager('2026-11-29T10:00:00Z', 'g2'), ['j:a']),
    ...sharesOf(wager('2026-11-29T09:10:00Z', 'g1')), // the same text as two wagers before
    ...sharesOf(wager('2026-11-29T08:10:00Z', 'g1'), ['j:c', 'j:a']),
    ...sharesOf(wager('2026-11-29T09:10:00.5Z', 'g3')),
  ];
  const rows = rollup(shares);
  assert.deepEqual(rows, reference(shares));
  assert.equal(rows.hours.length, 8);
});

void test('hourly rollup: text that is no timestamp throws the RangeError the ledger would', () => {
  const h = createHourlyRollup();
  const w = wager('2026-11-29 09:00:00');
  assert.throws(() => h.row(w, null, 'j:a', 1, 1n, 0n, 0n), RangeError);
});

void test('property: random windows roll up as the reference, around every hour boundary', () => {
  const base = Date.UTC(2026, 10, 29, 9);
  const timestamp = fc
    .record({
      hour: fc.integer({ min: -3, max: 3 }),
      // Mostly the last second of an hour, where rounding may carry into the next one.
      ms: fc.oneof(fc.integer({ min: 3_599_000, max: 3_599_999 }), fc.integer({ min: 0, max: 3_599_999 })),
      fraction: fc.stringMatching(/^[0-9]{0,6}$/),
      zone: fc.constantFrom('Z', '+00:00', '+05:30', '-08:00', '+14:00'),
    })
    .map(({ hour, ms, fraction, zone }) => {
      const t = new Date(base + hour * 3_600_000 + ms).toISOString().slice(0, 23); // ...SS.mmm
      const z = zone === 'Z' ? 'Z' : zone;
      const shift =
        zone === 'Z'
          ? 0
          : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4))) * 60_000;
      const local = new Date(Date.parse(`${t}Z`) + shift).toISOString().slice(0, 23);
      return `${local}${fraction}${z}`;
    });
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          at: timestamp,
          gameId: fc.constantFrom('g1', 'g2', 'g3'),
          amount: fc.integer({ min: 1, max: 1_000_000_000 }),
          pools: fc.subarray(['j:a', 'j:b', 'j:c', 'k:a'], { minLength: 1 }),
        }),
        { maxLength: 40 },
      ),
      (ws) => {
        const shares = ws.flatMap((x) => sharesOf(wager(x.at, x.gameId, x.amount), x.pools));
        assert.deepEqual(rollup(shares), reference(shares));
      },
    ),
    { numRuns: 300 },
  );
});
