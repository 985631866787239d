import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reconcile, type CycleRecord, type PoolRecord } from '../../../shared/src/domain/reconcile.js';

const M = 1_000_000n;

// A pool seeded at 100.000000, won once at cycle 1 (paid 150, carried 0.5), now in cycle 2.
// Cycle 1: seed 100 + carry 0 + contributions 50.5 = 150.5 = paid 150 + carried 0.5.
// Cycle 2: seed 100 (from reserve 120 → 20) + carried 0.5 + contributions 7.25 = 107.75.
// In: contributions 57.75 + reserve shares 120 + overflow 0 + top-up 100 (initial) = 277.75.
// Out + held: won 150 + amount 107.75 + reserve 20 + next carry 0 = 277.75.
const pool: PoolRecord = {
  poolId: 'j:mini',
  cycle: 2,
  amountMicro: 107_750_000n,
  reserveMicro: 20n * M,
  nextCarryMicro: 0n,
  seedMicro: 100n * M,
  carriedInMicro: 500_000n,
  cycleContributionMicro: 7_250_000n,
  contributionTotalMicro: 57_750_000n,
  reserveTotalMicro: 120n * M,
  ledger: { contributionMicro: 57_750_000n, overflowMicro: 0n, reserveMicro: 120n * M },
  topUpsMicro: 100n * M,
  wonMicro: 150n * M,
};
const cycles: CycleRecord[] = [
  {
    poolId: 'j:mini',
    cycle: 1,
    seedMicro: 100n * M,
    carriedInMicro: 0n,
    ledgerContributionMicro: 50_500_000n,
    closed: { payoutMicro: 150n * M, carriedOutMicro: 500_000n, winMicro: 150n * M },
  },
  {
    poolId: 'j:mini',
    cycle: 2,
    seedMicro: 100n * M,
    carriedInMicro: 500_000n,
    ledgerContributionMicro: 7_250_000n,
    closed: null,
  },
];

const cases: {
  name: string;
  pool?: Partial<PoolRecord>;
  cycle?: { index: number; change: Partial<CycleRecord> };
  expect: string[];
}[] = [
  { name: 'a consistent history', expect: [] },
  {
    name: 'one micro-unit too much in the amount',
    pool: { amountMicro: 107_750_001n },
    expect: [
      'amount = seed + carried in + ledger contributions',
      'money in = won + amount + reserve + held for next cycle',
    ],
  },
  {
    name: 'a ledger row missing from the running cycle',
    cycle: { index: 1, change: { ledgerContributionMicro: 7_249_999n } },
    expect: [
      'amount = seed + carried in + ledger contributions',
      'ledger contributions = running cycle meter',
    ],
  },
  {
    name: 'a payout that is not the win',
    cycle: {
      index: 0,
      change: { closed: { payoutMicro: 150n * M, carriedOutMicro: 500_000n, winMicro: 149n * M } },
    },
    expect: ['payout = win amount'],
  },
  {
    name: 'a won cycle with no win record',
    cycle: {
      index: 0,
      change: { closed: { payoutMicro: 150n * M, carriedOutMicro: 500_000n, winMicro: null } },
    },
    expect: ['won cycle has a win record'],
  },
  {
    name: 'a closed cycle that does not add up',
    cycle: { index: 0, change: { carriedInMicro: 1n } },
    expect: ['seed + carried in + ledger contributions = payout + carried out'],
  },
  {
    name: 'an old cycle left open',
    cycle: { index: 0, change: { closed: null } },
    expect: [
      'cycle never closed',
      'amount = seed + carried in + ledger contributions',
      'ledger contributions = running cycle meter',
      'cycle record carried in = pool carried in',
    ],
  },
  {
    name: 'an unrecorded top-up',
    pool: { topUpsMicro: 0n },
    expect: ['money in = won + amount + reserve + held for next cycle'],
  },
  {
    name: 'a reserve meter that drifted',
    pool: { reserveTotalMicro: 119n * M },
    expect: ['lifetime reserve meter = ledger'],
  },
];

for (const c of cases) {
  void test(`reconcile: ${c.name}`, () => {
    const p = { ...pool, ...c.pool };
    const cs = cycles.map((x, i) => (c.cycle?.index === i ? { ...x, ...c.cycle.change } : x));
    const { findings, lines } = reconcile([p], cs);
    assert.deepEqual(findings.map((f) => f.check).sort(), [...c.expect].sort());
    assert.equal(lines.length, 2);
    assert.equal(
      lines.every((l) => l.ok),
      !findings.some((f) => f.cycle !== null),
    );
  });
}
