import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkDeadLetters,
  checkPools,
  consumerLag,
  mergeExpectations,
  verdict,
  type PoolTotals,
  type Snapshot,
} from '../../../loadgen/src/demo/checks.js';
import { demoJackpots, gamesToLink } from '../../../loadgen/src/demo/configure.js';
import {
  formatTable,
  group,
  microText,
  moneyText,
  reconcileSummary,
} from '../../../loadgen/src/demo/report.js';
import { demoSettings } from '../../../loadgen/src/demo/settings.js';

function meters(poolId: string, m: Partial<PoolTotals> = {}): PoolTotals {
  return {
    poolId,
    jackpotId: poolId.split(':')[0] ?? '',
    currency: 'EUR',
    cycle: 1,
    version: '1',
    amountMinor: 0n,
    amountMicro: 0n,
    contributionTotalMicro: 0n,
    reserveTotalMicro: 0n,
    overflowTotalMicro: 0n,
    wonTotalMicro: 0n,
    hits: 0,
    ...m,
  };
}

function snapshot(pools: PoolTotals[], mystery: Record<string, number> = {}): Snapshot {
  return {
    at: new Date(0),
    pools: new Map(pools.map((p) => [p.poolId, p])),
    deadLetters: new Map(),
    mysteryWins: new Map(Object.entries(mystery).map(([k, n]) => [k, { count: n, minor: 0n }])),
  };
}

void test('settings: defaults, and a bad value names its variable', () => {
  const s = demoSettings({});
  assert.deepEqual(
    [s.durationSeconds, s.kafkaRate, s.httpRate, s.catchUpSeconds, s.aggregatorReplicas],
    [60, 5000, 500, 120, 2],
  );
  assert.equal(demoSettings({ DEMO_HTTP_RATE: '0' }).httpRate, 0);
  assert.throws(() => demoSettings({ DEMO_RATE: 'fast' }), /DEMO_RATE/);
  assert.throws(() => demoSettings({ DEMO_DURATION_SECONDS: '0' }), /DEMO_DURATION_SECONDS/);
});

void test('the demo configuration: pool shares within the contract, games in one jackpot each', () => {
  const jackpots = demoJackpots();
  const games = jackpots.flatMap((j) => j.games);
  assert.equal(new Set(games).size, games.length);
  for (const j of jackpots)
    for (const p of j.pools)
      assert.ok(p.contributionPpm + (p.reservePpm ?? 0) <= 1_000_000, `${j.jackpotId}:${p.tier}`);
  const probe = jackpots.find((j) => j.jackpotId === 'probe');
  assert.deepEqual(probe?.games, ['probe-game']);
  assert.equal(probe?.pools[0]?.tier, 'main');
});

void test('games to link: ours less those elsewhere, plus those already linked here', () => {
  const got = gamesToLink(
    ['g1', 'g2', 'g3'],
    [
      { gameId: 'g2', jackpotId: 'other' },
      { gameId: 'g3', jackpotId: 'mine' },
      { gameId: 'g9', jackpotId: 'mine' },
    ],
    'mine',
  );
  assert.deepEqual(got.games, ['g1', 'g3', 'g9']);
  assert.deepEqual(got.elsewhere, [{ gameId: 'g2', jackpotId: 'other' }]);
});

void test('consumer lag: end offsets less stored positions; unknown or -1 counts from the earliest offset', () => {
  const ends = [
    { partition: 0, high: '100', low: '0' },
    { partition: 1, high: '50', low: '10' },
    { partition: 2, high: '7', low: '0' },
    { partition: 3, high: '0', low: '0' },
  ];
  assert.equal(
    consumerLag(
      ends,
      new Map([
        [0, 100n],
        [1, -1n],
      ]),
    ),
    0n + 40n + 7n,
  );
  assert.equal(
    consumerLag(
      ends,
      new Map([
        [0, 100n],
        [1, 50n],
        [2, 7n],
      ]),
    ),
    0n,
  );
  assert.equal(
    consumerLag(
      ends,
      new Map([
        [0, 60n],
        [1, 5n],
        [2, 7n],
      ]),
    ),
    40n + 40n,
  );
});

void test('verdict: exact equality, or a lower bound when some events were never acknowledged', () => {
  assert.equal(verdict(5n, 5n, true), 'OK');
  assert.equal(verdict(5n, 6n, true), 'MISMATCH');
  assert.equal(verdict(5n, 6n, false), 'LOWER BOUND OK');
  assert.equal(verdict(5n, 4n, false), 'MISMATCH');
});

void test('pool check: visible side is contribution + overflow, reserve apart; amounts play no part', () => {
  const before = snapshot([
    meters('j:grand', {
      contributionTotalMicro: 1000n,
      overflowTotalMicro: 10n,
      reserveTotalMicro: 5n,
      amountMicro: 99n,
    }),
    meters('j:mystery', { contributionTotalMicro: 0n }),
  ]);
  const after = snapshot(
    [
      // A ceiling: part of the contribution went to overflow, the amount is capped.
      meters('j:grand', {
        contributionTotalMicro: 1600n,
        overflowTotalMicro: 410n,
        reserveTotalMicro: 25n,
        amountMicro: 1n,
      }),
      // A hit: the amount fell back to a seed, the meter still counts every contribution.
      meters('j:mystery', { contributionTotalMicro: 300n, amountMicro: 2n, cycle: 3 }),
      meters('j:new', {}),
    ],
    { 'j:mystery': 2 },
  );
  const expected = mergeExpectations([
    {
      expected: {
        pools: {
          'j:grand': {
            jackpotId: 'j',
            wagers: 2,
            wageredMinor: '0',
            contributionMicro: '600',
            reserveMicro: '20',
          },
          'j:mystery': {
            jackpotId: 'j',
            wagers: 1,
            wageredMinor: '0',
            contributionMicro: '100',
            reserveMicro: '0',
          },
        },
        deadLetters: {},
        unconfirmedInvalid: 0,
      },
    },
    {
      expected: {
        pools: {
          'j:grand': {
            jackpotId: 'j',
            wagers: 1,
            wageredMinor: '0',
            contributionMicro: '400',
            reserveMicro: '0',
          },
          'j:mystery': {
            jackpotId: 'j',
            wagers: 1,
            wageredMinor: '0',
            contributionMicro: '200',
            reserveMicro: '0',
          },
        },
        deadLetters: {},
        unconfirmedInvalid: 0,
      },
    },
  ]);
  const checks = checkPools(before, after, expected, true);
  assert.deepEqual(
    checks.map((c) => [
      c.poolId,
      c.wagers,
      c.actualVisibleMicro,
      c.actualReserveMicro,
      c.mysteryHits,
      c.verdict,
    ]),
    [
      ['j:grand', 3, 1000n, 20n, 0, 'OK'],
      ['j:mystery', 2, 300n, 0n, 2, 'OK'],
      ['j:new', 0, 0n, 0n, 0, 'OK'],
    ],
  );
  const off = checkPools(
    before,
    after,
    new Map([['j:grand', { wagers: 3, contributionMicro: 1000n, reserveMicro: 21n }]]),
    true,
  );
  assert.equal(off[0]?.verdict, 'MISMATCH');
});

void test('dead letters: per reason, deltas since the snapshot against the expectation', () => {
  const checks = checkDeadLetters(
    new Map([
      ['malformed_json', 10],
      ['old_reason', 3],
    ]),
    new Map([
      ['malformed_json', 15],
      ['old_reason', 3],
      ['unknown_game', 2],
    ]),
    new Map([
      ['malformed_json', 5],
      ['unknown_game', 1],
    ]),
    true,
  );
  assert.deepEqual(
    checks.map((c) => [c.reason, c.expected, c.actual, c.verdict]),
    [
      ['malformed_json', 5, 5, 'OK'],
      ['unknown_game', 1, 2, 'MISMATCH'],
    ],
  );
});

void test('numbers as text: grouping, exact micro-units, two-decimal money', () => {
  assert.equal(group(1234567n), '1,234,567');
  assert.equal(group(-1000), '-1,000');
  assert.equal(group(999), '999');
  assert.equal(microText(1_234_567_890n), '1,234.567890');
  assert.equal(microText(5n), '0.000005');
  assert.equal(moneyText(123456n), '1,234.56');
  assert.equal(moneyText(5n), '0.05');
});

void test('table: aligned columns, numbers to the right', () => {
  assert.deepEqual(
    formatTable(
      ['pool', 'n'],
      [
        ['a', '1'],
        ['long', '1,000'],
      ],
      'lr',
    ),
    ['pool      n', '----  -----', 'a         1', 'long  1,000'],
  );
});

void test('reconcile summary: the verdict, and the first findings only', () => {
  const ok = 'Amounts ...\n\nreconciled: 6 pools, 9 cycles, every invariant holds to the micro-unit\n';
  assert.deepEqual(reconcileSummary(ok, 3), [
    'reconciled: 6 pools, 9 cycles, every invariant holds to the micro-unit',
  ]);
  const bad = [
    'table',
    ...Array.from({ length: 5 }, (_, i) => `MISMATCH p cycle ${i}: x`),
    '',
    '5 mismatch(es) in 1 pool(s)',
    '',
  ].join('\n');
  assert.deepEqual(reconcileSummary(bad, 2), [
    'MISMATCH p cycle 0: x',
    'MISMATCH p cycle 1: x',
    '… 3 more: npm run reconcile shows them all',
    '5 mismatch(es) in 1 pool(s)',
  ]);
});
