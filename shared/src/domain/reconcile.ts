/**
 * Reconciliation: the contract's invariants checked from independent records, every pool and
 * every cycle, to the micro-unit.
 *
 * - Cycle: seed + carried in + the ledger's contributions booked to the cycle = the amount (the
 *   running cycle) or payout + carried out (a won cycle); a won cycle's payout is its win's amount.
 * - Counters: the pool's running meters equal what the ledger says.
 * - Conservation: contributions + overflow + reserve shares + top-ups (everything that entered)
 *   = payouts (everything that left) + amount + reserve + overflow held for the next cycle.
 */

export interface CycleRecord {
  readonly poolId: string;
  readonly cycle: number;
  readonly seedMicro: bigint;
  readonly carriedInMicro: bigint;
  /** Sum of the ledger rows booked to this cycle. */
  readonly ledgerContributionMicro: bigint;
  /** Null while the cycle runs. */
  readonly closed: {
    readonly payoutMicro: bigint;
    readonly carriedOutMicro: bigint;
    readonly winMicro: bigint | null;
  } | null;
}

export interface PoolRecord {
  readonly poolId: string;
  readonly cycle: number;
  readonly amountMicro: bigint;
  readonly reserveMicro: bigint;
  readonly nextCarryMicro: bigint;
  /** The running cycle's parts as the pool row keeps them. */
  readonly seedMicro: bigint;
  readonly carriedInMicro: bigint;
  readonly cycleContributionMicro: bigint;
  /** Lifetime meters kept on the pool row. */
  readonly contributionTotalMicro: bigint;
  readonly reserveTotalMicro: bigint;
  /** From the ledger, all cycles. */
  readonly ledger: {
    readonly contributionMicro: bigint;
    readonly overflowMicro: bigint;
    readonly reserveMicro: bigint;
  };
  readonly topUpsMicro: bigint;
  readonly wonMicro: bigint;
}

export interface Finding {
  readonly poolId: string;
  readonly cycle: number | null;
  readonly check: string;
  readonly expected: bigint;
  readonly actual: bigint;
}

export interface CycleLine {
  readonly poolId: string;
  readonly cycle: number;
  readonly seedMicro: bigint;
  readonly carriedInMicro: bigint;
  readonly contributionMicro: bigint;
  /** Current amount (running) or payout + carried out (won). */
  readonly endMicro: bigint;
  readonly state: 'running' | 'won';
  readonly ok: boolean;
}

export function reconcile(
  pools: readonly PoolRecord[],
  cycles: readonly CycleRecord[],
): { lines: CycleLine[]; findings: Finding[] } {
  const findings: Finding[] = [];
  const lines: CycleLine[] = [];
  const check = (
    poolId: string,
    cycle: number | null,
    name: string,
    expected: bigint,
    actual: bigint,
  ): boolean => {
    if (expected === actual) return true;
    findings.push({ poolId, cycle, check: name, expected, actual });
    return false;
  };
  const byPool = new Map<string, CycleRecord[]>();
  for (const c of cycles) byPool.set(c.poolId, [...(byPool.get(c.poolId) ?? []), c]);

  for (const p of pools) {
    const own = (byPool.get(p.poolId) ?? []).slice().sort((a, b) => a.cycle - b.cycle);
    if (!own.some((c) => c.cycle === p.cycle)) {
      // No cycle record for the running cycle: check the pool row's own parts against the ledger alone.
      own.push({
        poolId: p.poolId,
        cycle: p.cycle,
        seedMicro: p.seedMicro,
        carriedInMicro: p.carriedInMicro,
        ledgerContributionMicro: 0n,
        closed: null,
      });
    }
    for (const c of own) {
      const start = c.seedMicro + c.carriedInMicro + c.ledgerContributionMicro;
      let ok = true;
      if (c.closed === null) {
        if (c.cycle !== p.cycle) {
          findings.push({
            poolId: p.poolId,
            cycle: c.cycle,
            check: 'cycle never closed',
            expected: BigInt(p.cycle),
            actual: BigInt(c.cycle),
          });
          ok = false;
        }
        ok =
          check(
            p.poolId,
            c.cycle,
            'amount = seed + carried in + ledger contributions',
            start,
            p.amountMicro,
          ) && ok;
        ok =
          check(
            p.poolId,
            c.cycle,
            'ledger contributions = running cycle meter',
            c.ledgerContributionMicro,
            p.cycleContributionMicro,
          ) && ok;
        ok = check(p.poolId, c.cycle, 'cycle record seed = pool seed', c.seedMicro, p.seedMicro) && ok;
        ok =
          check(
            p.poolId,
            c.cycle,
            'cycle record carried in = pool carried in',
            c.carriedInMicro,
            p.carriedInMicro,
          ) && ok;
        lines.push({ ...lineOf(c), endMicro: p.amountMicro, state: 'running', ok });
      } else {
        const end = c.closed.payoutMicro + c.closed.carriedOutMicro;
        ok =
          check(
            p.poolId,
            c.cycle,
            'seed + carried in + ledger contributions = payout + carried out',
            start,
            end,
          ) && ok;
        if (c.closed.winMicro === null) {
          findings.push({
            poolId: p.poolId,
            cycle: c.cycle,
            check: 'won cycle has a win record',
            expected: c.closed.payoutMicro,
            actual: 0n,
          });
          ok = false;
        } else {
          ok = check(p.poolId, c.cycle, 'payout = win amount', c.closed.payoutMicro, c.closed.winMicro) && ok;
        }
        lines.push({ ...lineOf(c), endMicro: end, state: 'won', ok });
      }
    }
    check(
      p.poolId,
      null,
      'lifetime contributions meter = ledger',
      p.ledger.contributionMicro,
      p.contributionTotalMicro,
    );
    check(p.poolId, null, 'lifetime reserve meter = ledger', p.ledger.reserveMicro, p.reserveTotalMicro);
    const entered =
      p.ledger.contributionMicro + p.ledger.overflowMicro + p.ledger.reserveMicro + p.topUpsMicro;
    const leftAndHeld = p.wonMicro + p.amountMicro + p.reserveMicro + p.nextCarryMicro;
    check(p.poolId, null, 'money in = won + amount + reserve + held for next cycle', entered, leftAndHeld);
  }
  return { lines, findings };
}

function lineOf(c: CycleRecord): Omit<CycleLine, 'endMicro' | 'state' | 'ok'> {
  return {
    poolId: c.poolId,
    cycle: c.cycle,
    seedMicro: c.seedMicro,
    carriedInMicro: c.carriedInMicro,
    contributionMicro: c.ledgerContributionMicro,
  };
}
