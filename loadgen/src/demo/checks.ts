/**
 * The demo's checks, pure: what the load generator's ledgers expect against what Postgres booked
 * (per pool and per dead-letter reason), and the aggregators' lag from offsets.
 *
 * Words: a *visible* delta is what a pool's amount side received (contributions booked to cycles
 * plus overflow past a ceiling); the *reserve* delta is the hidden share. Amounts move between the
 * amount, the reserve and the next cycle when a mystery pool hits or a ceiling is reached, so the
 * demo compares these lifetime meters, never the amounts.
 */
import type { LoadReport } from '../run.js';

/** One row of `jackpot.pool_totals` as the demo compares it (not the admin API's meters). */
export interface PoolTotals {
  readonly poolId: string;
  readonly jackpotId: string;
  readonly currency: string;
  readonly cycle: number;
  readonly version: string;
  readonly amountMinor: bigint;
  readonly amountMicro: bigint;
  readonly contributionTotalMicro: bigint;
  readonly reserveTotalMicro: bigint;
  readonly overflowTotalMicro: bigint;
  readonly wonTotalMicro: bigint;
  readonly hits: number;
}

export interface Snapshot {
  /** Postgres' clock when the snapshot was taken. */
  readonly at: Date;
  readonly pools: ReadonlyMap<string, PoolTotals>;
  readonly deadLetters: ReadonlyMap<string, number>;
  /** Mystery wins per pool, ever. */
  readonly mysteryWins: ReadonlyMap<string, { count: number; minor: bigint }>;
}

export interface Expectation {
  wagers: number;
  contributionMicro: bigint;
  reserveMicro: bigint;
}

/** The ledgers of several runs, added per pool (each run's expectation is its own wagers'). */
export function mergeExpectations(
  reports: readonly Pick<LoadReport, 'expected'>[],
): Map<string, Expectation> {
  const out = new Map<string, Expectation>();
  for (const r of reports) {
    for (const [poolId, p] of Object.entries(r.expected.pools)) {
      const e = out.get(poolId) ?? { wagers: 0, contributionMicro: 0n, reserveMicro: 0n };
      e.wagers += p.wagers;
      e.contributionMicro += BigInt(p.contributionMicro);
      e.reserveMicro += BigInt(p.reserveMicro);
      out.set(poolId, e);
    }
  }
  return out;
}
export function mergeDeadLetters(reports: readonly Pick<LoadReport, 'expected'>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of reports)
    for (const [reason, n] of Object.entries(r.expected.deadLetters))
      out.set(reason, (out.get(reason) ?? 0) + (n ?? 0));
  return out;
}

export type Verdict = 'OK' | 'MISMATCH' | 'LOWER BOUND OK';

/**
 * Exact when every event was acknowledged; with unconfirmed events (sent, never acknowledged) the
 * expectation is a lower bound, met or not, and the run cannot be called reconciled.
 */
export function verdict(expected: bigint, actual: bigint, exact: boolean): Verdict {
  if (actual === expected) return 'OK';
  return !exact && actual > expected ? 'LOWER BOUND OK' : 'MISMATCH';
}

export interface PoolCheck {
  readonly poolId: string;
  readonly wagers: number;
  readonly expectedVisibleMicro: bigint;
  readonly actualVisibleMicro: bigint;
  readonly expectedReserveMicro: bigint;
  readonly actualReserveMicro: bigint;
  readonly mysteryHits: number;
  readonly verdict: Verdict;
}

/**
 * Per pool: what the generator's ledger says the run contributed, against the change of the
 * lifetime meters in Postgres. Visible = contribution_micro_total + overflow_micro_total (the part
 * past a ceiling is booked as overflow, not contribution); reserve = reserve_micro_total.
 */
export function checkPools(
  before: Snapshot,
  after: Snapshot,
  expected: ReadonlyMap<string, Expectation>,
  exact: boolean,
): PoolCheck[] {
  const out: PoolCheck[] = [];
  for (const [poolId, now] of [...after.pools].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const was = before.pools.get(poolId);
    const e = expected.get(poolId) ?? { wagers: 0, contributionMicro: 0n, reserveMicro: 0n };
    const visible =
      now.contributionTotalMicro +
      now.overflowTotalMicro -
      (was === undefined ? 0n : was.contributionTotalMicro + was.overflowTotalMicro);
    const reserve = now.reserveTotalMicro - (was?.reserveTotalMicro ?? 0n);
    const v1 = verdict(e.contributionMicro, visible, exact);
    const v2 = verdict(e.reserveMicro, reserve, exact);
    out.push({
      poolId,
      wagers: e.wagers,
      expectedVisibleMicro: e.contributionMicro,
      actualVisibleMicro: visible,
      expectedReserveMicro: e.reserveMicro,
      actualReserveMicro: reserve,
      mysteryHits: (after.mysteryWins.get(poolId)?.count ?? 0) - (before.mysteryWins.get(poolId)?.count ?? 0),
      verdict:
        v1 === 'MISMATCH' || v2 === 'MISMATCH'
          ? 'MISMATCH'
          : v1 === 'OK' && v2 === 'OK'
            ? 'OK'
            : 'LOWER BOUND OK',
    });
  }
  return out;
}

export interface DeadLetterCheck {
  readonly reason: string;
  readonly expected: number;
  readonly actual: number;
  readonly verdict: Verdict;
}

export function checkDeadLetters(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  expected: ReadonlyMap<string, number>,
  exact: boolean,
): DeadLetterCheck[] {
  const reasons = [...new Set([...expected.keys(), ...after.keys()])].sort();
  return reasons
    .map((reason) => {
      const e = expected.get(reason) ?? 0;
      const a = (after.get(reason) ?? 0) - (before.get(reason) ?? 0);
      return { reason, expected: e, actual: a, verdict: verdict(BigInt(e), BigInt(a), exact) };
    })
    .filter((c) => c.expected !== 0 || c.actual !== 0);
}

/**
 * Messages on the topic the aggregators have not applied yet: per partition, the end offset less
 * the next offset they stored in Postgres (with the ledger, in one transaction). A partition with
 * no stored position yet counts from its earliest offset.
 */
export function consumerLag(
  ends: readonly { partition: number; high: string; low: string }[],
  stored: ReadonlyMap<number, bigint>,
): bigint {
  let lag = 0n;
  for (const e of ends) {
    const next = stored.get(e.partition) ?? -1n;
    const from = next >= BigInt(e.low) ? next : BigInt(e.low);
    if (BigInt(e.high) > from) lag += BigInt(e.high) - from;
  }
  return lag;
}
