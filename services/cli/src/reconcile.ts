/**
 * `npm run reconcile`: reads the ledger, cycles, wins and top-ups, checks the contract's
 * invariants for every pool and cycle (shared/src/domain/reconcile.ts), prints a table and exits
 * non-zero on any mismatch. Read-only; runs in one REPEATABLE READ snapshot so a live pipeline
 * cannot make a consistent database look inconsistent.
 */
import pg from 'pg';
import { DEFAULT_DATABASE_URL } from '../../../shared/src/config.js';
import { microToString } from '../../../shared/src/domain/contribution.js';
import { reconcile, type CycleRecord, type PoolRecord } from '../../../shared/src/domain/reconcile.js';

/** The ledger's rows, and the sums of the days dropped by retention (migration 0007). */
const LEDGER = `(SELECT pool_id, cycle, contribution_micro::numeric c, overflow_micro::numeric o, reserve_micro::numeric r FROM jackpot.contributions
  UNION ALL SELECT pool_id, cycle, contribution_micro, overflow_micro, reserve_micro FROM jackpot.ledger_rollups) ledger`;

const POOLS_SQL = `
SELECT t.pool_id, t.cycle, t.amount_micro::text, t.reserve_micro::text, t.next_carry_micro::text, t.seed_micro::text,
       t.carried_in_micro::text, t.cycle_contribution_micro::text, t.contribution_micro_total::text, t.reserve_micro_total::text,
       coalesce(l.c, 0)::text AS ledger_c, coalesce(l.o, 0)::text AS ledger_o, coalesce(l.r, 0)::text AS ledger_r,
       coalesce(tp.s, 0)::text AS topups, coalesce(w.s, 0)::text AS won
FROM jackpot.pool_totals t
LEFT JOIN (SELECT pool_id, sum(c) c, sum(o) o, sum(r) r FROM ${LEDGER} GROUP BY pool_id) l USING (pool_id)
LEFT JOIN (SELECT pool_id, sum(amount_micro) s FROM jackpot.topups GROUP BY pool_id) tp USING (pool_id)
LEFT JOIN (SELECT pool_id, sum(amount_minor::numeric * 1000000) s FROM jackpot.wins GROUP BY pool_id) w USING (pool_id)
ORDER BY t.pool_id`;

const CYCLES_SQL = `
SELECT coalesce(pc.pool_id, l.pool_id) AS pool_id, coalesce(pc.cycle, l.cycle) AS cycle,
       coalesce(pc.seed_micro, 0)::text AS seed, coalesce(pc.carried_in_micro, 0)::text AS carried_in, coalesce(l.c, 0)::text AS ledger_c,
       pc.ended_at IS NOT NULL AS closed, pc.payout_micro::text AS payout, pc.carried_out_micro::text AS carried_out,
       (w.amount_minor::numeric * 1000000)::text AS won
FROM jackpot.pool_cycles pc
FULL JOIN (SELECT pool_id, cycle, sum(c) c FROM ${LEDGER} GROUP BY pool_id, cycle) l
  ON l.pool_id = pc.pool_id AND l.cycle = pc.cycle
LEFT JOIN jackpot.wins w ON w.pool_id = coalesce(pc.pool_id, l.pool_id) AND w.cycle = coalesce(pc.cycle, l.cycle)
ORDER BY 1, 2`;

interface PoolRow {
  pool_id: string;
  cycle: number;
  amount_micro: string;
  reserve_micro: string;
  next_carry_micro: string;
  seed_micro: string;
  carried_in_micro: string;
  cycle_contribution_micro: string;
  contribution_micro_total: string;
  reserve_micro_total: string;
  ledger_c: string;
  ledger_o: string;
  ledger_r: string;
  topups: string;
  won: string;
}

interface CycleRow {
  pool_id: string;
  cycle: number;
  seed: string;
  carried_in: string;
  ledger_c: string;
  closed: boolean;
  payout: string | null;
  carried_out: string | null;
  won: string | null;
}

export async function loadRecords(
  client: pg.ClientBase,
): Promise<{ pools: PoolRecord[]; cycles: CycleRecord[] }> {
  const pools = (await client.query<PoolRow>(POOLS_SQL)).rows.map((r): PoolRecord => ({
    poolId: r.pool_id,
    cycle: r.cycle,
    amountMicro: BigInt(r.amount_micro),
    reserveMicro: BigInt(r.reserve_micro),
    nextCarryMicro: BigInt(r.next_carry_micro),
    seedMicro: BigInt(r.seed_micro),
    carriedInMicro: BigInt(r.carried_in_micro),
    cycleContributionMicro: BigInt(r.cycle_contribution_micro),
    contributionTotalMicro: BigInt(r.contribution_micro_total),
    reserveTotalMicro: BigInt(r.reserve_micro_total),
    ledger: {
      contributionMicro: BigInt(r.ledger_c),
      overflowMicro: BigInt(r.ledger_o),
      reserveMicro: BigInt(r.ledger_r),
    },
    topUpsMicro: BigInt(r.topups),
    wonMicro: BigInt(r.won),
  }));
  const cycles = (await client.query<CycleRow>(CYCLES_SQL)).rows.map((r): CycleRecord => ({
    poolId: r.pool_id,
    cycle: r.cycle,
    seedMicro: BigInt(r.seed),
    carriedInMicro: BigInt(r.carried_in),
    ledgerContributionMicro: BigInt(r.ledger_c),
    closed: r.closed
      ? {
          payoutMicro: BigInt(r.payout ?? 0),
          carriedOutMicro: BigInt(r.carried_out ?? 0),
          winMicro: r.won === null ? null : BigInt(r.won),
        }
      : null,
  }));
  return { pools, cycles };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '))
    .join('\n');
}

/** Returns the exit code: 0 when everything reconciles, 1 on a mismatch, 2 on bad usage. */
export async function runReconcile(
  argv: readonly string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  if (argv.some((a) => a !== '--quiet')) {
    out('usage: npm run reconcile [-- --quiet]\n');
    return 2;
  }
  const client = new pg.Client({
    connectionString: process.env['DATABASE_URL'] || DEFAULT_DATABASE_URL,
    application_name: 'jackpot-reconcile',
  });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { pools, cycles } = await loadRecords(client);
    await client.query('COMMIT');
    const { lines, findings } = reconcile(pools, cycles);
    const quiet = argv.includes('--quiet');
    if (!quiet || findings.length > 0) {
      out('Amounts in minor units (six decimals = micro-units).\n\n');
      out(
        table([
          ['pool', 'cycle', 'state', 'seed', 'carried in', 'contributions', 'amount / paid+carried', 'check'],
          ...lines.map((l) => [
            l.poolId,
            String(l.cycle),
            l.state,
            microToString(l.seedMicro),
            microToString(l.carriedInMicro),
            microToString(l.contributionMicro),
            microToString(l.endMicro),
            l.ok ? 'ok' : 'MISMATCH',
          ]),
        ]) + '\n',
      );
    }
    for (const f of findings) {
      out(
        `MISMATCH ${f.poolId}${f.cycle === null ? '' : ` cycle ${f.cycle}`}: ${f.check}: expected ${microToString(f.expected)}, found ${microToString(f.actual)}\n`,
      );
    }
    out(
      findings.length === 0
        ? `\nreconciled: ${pools.length} pools, ${lines.length} cycles, every invariant holds to the micro-unit\n`
        : `\n${findings.length} mismatch(es) in ${new Set(findings.map((f) => f.poolId)).size} pool(s)\n`,
    );
    return findings.length === 0 ? 0 : 1;
  } finally {
    await client.end();
  }
}
