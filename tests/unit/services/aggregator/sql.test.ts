/**
 * The aggregator's named statements (`Sql.name`: prepared once a connection): a name must stand
 * for one text whatever the arguments, or pg refuses the second text on a connection that has
 * prepared the first. The claim, whose text varies in a week's first hour, stays unnamed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Sql } from '../../../../shared/src/db.js';
import * as sql from '../../../../services/aggregator/src/sql.js';

const cols = (n: number): sql.DeadLetterColumns => ({
  reasons: Array<string>(n).fill('unknown_game'),
  messages: Array<string>(n).fill('m'),
  eventIds: Array<null>(n).fill(null),
  partitions: Array<number>(n).fill(0),
  offsets: Array<string>(n).fill('1'),
  keys: Array<null>(n).fill(null),
  payloads: Array<Buffer>(n).fill(Buffer.alloc(1)),
});
const rollups = (n: number) => ({
  hours: Array<Date>(n).fill(new Date(0)),
  poolIds: Array<string>(n).fill('p'),
  gameIds: Array<string>(n).fill('g'),
  wagers: Array<number>(n).fill(1),
  wageredMinor: Array<string>(n).fill('1'),
  contributionMicro: Array<string>(n).fill('1'),
  overflowMicro: Array<string>(n).fill('0'),
  reserveMicro: Array<string>(n).fill('0'),
});

const CASES: { name: string; make: (n: number) => Sql }[] = [
  { name: 'aggregator.fence', make: (n) => sql.lockOffsets(`g${n}`, `t${n}`, [n, n + 1]) },
  {
    name: 'aggregator.links-and-rates',
    make: (n) => sql.gameLinksAndRates([`g${n}`], ['EUR', 'USD'].slice(0, n)),
  },
  {
    name: 'aggregator.dead-letters-and-positions',
    make: (n) => sql.saveDeadLettersAndPositions(`g${n}`, 't', cols(n), [n], [String(n)]),
  },
  { name: 'aggregator.hourly-rollups', make: (n) => sql.upsertHourlyRollups(rollups(n) as never) },
];

for (const c of CASES) {
  void test(`${c.name}: one text whatever the arguments`, () => {
    const [a, b] = [c.make(0), c.make(3)];
    assert.equal(a.name, c.name);
    assert.equal(b.name, c.name);
    assert.equal(a.text, b.text);
    assert.notDeepEqual(a.values, b.values);
  });
}

void test('the claim is not named: its text differs in the grace hour', () => {
  const plain = sql.claimEvents(['00000000-0000-7000-8000-000000000000'], '2026-11-30');
  const grace = sql.claimEvents(['00000000-0000-7000-8000-000000000000'], '2026-11-30', '2026-11-23');
  assert.equal(plain.name, undefined);
  assert.equal(grace.name, undefined);
  assert.notEqual(plain.text, grace.text);
});
