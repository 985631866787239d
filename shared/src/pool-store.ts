/**
 * The Postgres edge of a pool's lifecycle, shared by the aggregator (contributions and mystery
 * hits) and the gateway (claimed wins): lock the pools, hand their state to the pure domain, and
 * write back what it decided, all inside the caller's transaction.
 *
 * Pools are always locked in pool_id order (see the aggregator's lock order), and written with
 * absolute values computed from the locked state plus increments for the lifetime meters.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';

/**
 * What the pool store needs of a connection: its `query`, inside the caller's transaction (the
 * store never begins, commits or releases). A `pg.PoolClient` is one.
 */
export type SqlClient = Pick<PoolClient, 'query'>;
import type {
  CycleClose,
  CycleOpening,
  CycleParams,
  Overflow,
  PoolDelta,
  PoolLifecycleState,
} from './domain/index.js';
import { MICRO_PER_MINOR } from './domain/index.js';
import type { PoolUpdateMessage } from './messages/pool-update.js';

export interface LockedPool {
  readonly poolId: string;
  readonly jackpotId: string;
  readonly tier: string;
  readonly currency: string;
  readonly state: PoolLifecycleState;
  /** The running cycle's parts. */
  readonly seedMicro: bigint;
  readonly carriedInMicro: bigint;
  readonly cycleContributionMicro: bigint;
  readonly cycleWagers: number;
  /** The pool's parameters as configured now: the next cycle runs on them. */
  readonly nextParams: CycleParams;
}

export interface WinRecord {
  readonly winId: string;
  readonly claimId: string | null;
  readonly poolId: string;
  readonly cycle: number;
  readonly kind: 'claim' | 'mystery';
  readonly payoutMicro: bigint;
  readonly gameId: string;
  readonly playerId: string;
  readonly eventId: string | null;
}

interface LockedRow {
  pool_id: string;
  jackpot_id: string;
  tier: string;
  currency: string;
  cycle: number;
  amount_micro: string;
  reserve_micro: string;
  next_carry_micro: string;
  seed_micro: string;
  carried_in_micro: string;
  cycle_contribution_micro: string;
  cycle_wagers: string;
  contribution_ppm: number;
  reserve_ppm: number;
  ceiling_micro: string | null;
  overflow: Overflow | null;
  must_hit_by_micro: string | null;
  trigger_micro: string | null;
  next_seed_minor: string;
  next_contribution_ppm: number;
  next_reserve_ppm: number;
  next_ceiling_minor: string | null;
  next_overflow: Overflow | null;
  next_must_hit_by_minor: string | null;
}

const big = (v: string | null): bigint | null => (v === null ? null : BigInt(v));
const minorToMicro = (v: string | null): bigint | null => (v === null ? null : BigInt(v) * MICRO_PER_MINOR);

/**
 * Locks the pools of these jackpots (or these pools) FOR UPDATE, in pool_id order, then reads
 * what depends on the locked state. Two statements on purpose: under READ COMMITTED a row locked
 * after waiting for another transaction is re-read at its newest version, but rows joined to it
 * in the same statement are not. Joined with the lock, a window that waited for a claim (or
 * another window) which opened the next cycle saw the new cycle with the old cycle's trigger
 * missing, and failed. The second statement takes a new snapshot, after the lock.
 */
export async function lockPools(
  client: SqlClient,
  by: { jackpotIds: readonly string[] } | { poolIds: readonly string[] },
): Promise<Map<string, LockedPool>> {
  const [column, ids] = 'jackpotIds' in by ? ['jackpot_id', by.jackpotIds] : ['pool_id', by.poolIds];
  const out = new Map<string, LockedPool>();
  if (ids.length === 0) return out;
  // Named statements (see `Sql.name`): a name a text, so one for each column.
  const locked = await client.query<{ pool_id: string }>({
    name: `pools.lock-by-${column}`,
    text: `SELECT pool_id FROM jackpot.pool_totals WHERE ${column} = ANY($1::text[]) ORDER BY pool_id FOR UPDATE`,
    values: [ids],
  });
  if (locked.rows.length === 0) return out;
  const { rows } = await client.query<LockedRow>({
    name: 'pools.locked-rows',
    text: `SELECT t.pool_id, t.jackpot_id, t.tier, t.currency, t.cycle, t.amount_micro::text, t.reserve_micro::text,
                  t.next_carry_micro::text, t.seed_micro::text, t.carried_in_micro::text, t.cycle_contribution_micro::text,
                  t.cycle_wagers::text, t.contribution_ppm, t.reserve_ppm, t.ceiling_micro::text, t.overflow,
                  t.must_hit_by_micro::text, tr.trigger_micro::text,
                  p.seed_minor::text AS next_seed_minor, p.contribution_ppm AS next_contribution_ppm, p.reserve_ppm AS next_reserve_ppm,
                  p.ceiling_minor::text AS next_ceiling_minor, p.overflow AS next_overflow, p.must_hit_by_minor::text AS next_must_hit_by_minor
           FROM jackpot.pool_totals t
           JOIN jackpot.pools p ON p.pool_id = t.pool_id
           LEFT JOIN jackpot.pool_triggers tr ON tr.pool_id = t.pool_id AND tr.cycle = t.cycle
           WHERE t.pool_id = ANY($1::text[])
           ORDER BY t.pool_id`,
    values: [locked.rows.map((r) => r.pool_id)],
  });
  for (const r of rows) {
    const params: CycleParams = {
      seedMicro: BigInt(r.seed_micro),
      contributionPpm: r.contribution_ppm,
      reservePpm: r.reserve_ppm,
      ceilingMicro: big(r.ceiling_micro),
      overflow: r.overflow,
      mustHitByMicro: big(r.must_hit_by_micro),
    };
    out.set(r.pool_id, {
      poolId: r.pool_id,
      jackpotId: r.jackpot_id,
      tier: r.tier,
      currency: r.currency,
      state: {
        poolId: r.pool_id,
        cycle: r.cycle,
        amountMicro: BigInt(r.amount_micro),
        reserveMicro: BigInt(r.reserve_micro),
        nextCarryMicro: BigInt(r.next_carry_micro),
        triggerMicro: big(r.trigger_micro),
        params,
      },
      seedMicro: BigInt(r.seed_micro),
      carriedInMicro: BigInt(r.carried_in_micro),
      cycleContributionMicro: BigInt(r.cycle_contribution_micro),
      cycleWagers: Number(r.cycle_wagers),
      nextParams: {
        seedMicro: BigInt(r.next_seed_minor) * MICRO_PER_MINOR,
        contributionPpm: r.next_contribution_ppm,
        reservePpm: r.next_reserve_ppm,
        ceilingMicro: minorToMicro(r.next_ceiling_minor),
        overflow: r.next_overflow,
        mustHitByMicro: minorToMicro(r.next_must_hit_by_minor),
      },
    });
  }
  return out;
}

/**
 * A mystery trigger in whole minor units, uniform in [low, high], from the OS CSPRNG by rejection
 * sampling (no modulo bias). A predictable trigger could be exploited, so no Math.random.
 */
export function secureDrawMinor(low: bigint, high: bigint): bigint {
  if (high < low) throw new RangeError(`empty trigger range [${low}, ${high}]`);
  const span = high - low + 1n;
  const bytes = Math.ceil(span.toString(2).length / 8) + 1;
  const space = 1n << BigInt(bytes * 8);
  const limit = space - (space % span);
  for (;;) {
    const n = BigInt(`0x${randomBytes(bytes).toString('hex')}`);
    if (n < limit) return low + (n % span);
  }
}

export interface PoolChanges {
  readonly before: ReadonlyMap<string, LockedPool>;
  /** End states of every pool that changed. */
  readonly after: ReadonlyMap<string, PoolLifecycleState>;
  readonly deltas: readonly PoolDelta[];
  readonly closes: readonly (CycleClose & { readonly poolId: string })[];
  readonly openings: readonly (CycleOpening & { readonly poolId: string })[];
  readonly wins: readonly WinRecord[];
}

function byPool<T extends { readonly poolId: string }>(items: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const list = out.get(item.poolId);
    if (list === undefined) out.set(item.poolId, [item]);
    else list.push(item);
  }
  return out;
}

/**
 * Writes what the domain decided for these pools; returns one pool update per pool written. A
 * fixed number of statements whatever the number of pools and mystery hits (a busy mystery pool
 * hits dozens of times in one window, each hit opening and closing a cycle).
 */
export async function savePoolChanges(client: SqlClient, ch: PoolChanges): Promise<PoolUpdateMessage[]> {
  const touched = [
    ...new Set([...ch.deltas.map((d) => d.poolId), ...ch.openings.map((o) => o.poolId)]),
  ].sort();
  if (touched.length === 0) return [];
  const deltasOf = byPool(ch.deltas);
  const openingsOf = byPool(ch.openings);
  const winsOf = byPool(ch.wins);
  const cols = {
    ids: [] as string[],
    cycle: [] as number[],
    amount: [] as string[],
    reserve: [] as string[],
    nextCarry: [] as string[],
    seed: [] as string[],
    carriedIn: [] as string[],
    cycleContribution: [] as string[],
    cycleWagers: [] as string[],
    contributionPpm: [] as number[],
    reservePpm: [] as number[],
    ceiling: [] as (string | null)[],
    overflow: [] as (string | null)[],
    mustHitBy: [] as (string | null)[],
    started: [] as boolean[],
    wagers: [] as string[],
    wagered: [] as string[],
    contribution: [] as string[],
    overflowTotal: [] as string[],
    reserveTotal: [] as string[],
    topups: [] as string[],
    won: [] as string[],
    hits: [] as number[],
  };
  for (const poolId of touched) {
    const before = ch.before.get(poolId);
    const after = ch.after.get(poolId);
    if (before === undefined || after === undefined)
      throw new Error(`pool ${poolId} changed but was not locked`);
    const deltas = deltasOf.get(poolId) ?? [];
    const openings = openingsOf.get(poolId) ?? [];
    const opening = openings.at(-1);
    const wins = winsOf.get(poolId) ?? [];
    const sum = (f: (d: PoolDelta) => bigint) => deltas.reduce((s, d) => s + f(d), 0n);
    const inFinal = deltas.filter((d) => d.cycle === after.cycle);
    const finalContribution = inFinal.reduce((s, d) => s + d.contributionMicro, 0n);
    const finalWagers = inFinal.reduce((s, d) => s + d.wagers, 0);
    cols.ids.push(poolId);
    cols.cycle.push(after.cycle);
    cols.amount.push(after.amountMicro.toString());
    cols.reserve.push(after.reserveMicro.toString());
    cols.nextCarry.push(after.nextCarryMicro.toString());
    cols.seed.push((opening?.seedMicro ?? before.seedMicro).toString());
    cols.carriedIn.push((opening?.carriedInMicro ?? before.carriedInMicro).toString());
    cols.cycleContribution.push(
      (opening === undefined
        ? before.cycleContributionMicro + finalContribution
        : finalContribution
      ).toString(),
    );
    cols.cycleWagers.push(String(opening === undefined ? before.cycleWagers + finalWagers : finalWagers));
    cols.contributionPpm.push(after.params.contributionPpm);
    cols.reservePpm.push(after.params.reservePpm);
    cols.ceiling.push(after.params.ceilingMicro?.toString() ?? null);
    cols.overflow.push(after.params.overflow);
    cols.mustHitBy.push(after.params.mustHitByMicro?.toString() ?? null);
    cols.started.push(opening !== undefined);
    cols.wagers.push(String(deltas.reduce((s, d) => s + d.wagers, 0)));
    cols.wagered.push(sum((d) => d.wageredMinor).toString());
    cols.contribution.push(sum((d) => d.contributionMicro).toString());
    cols.overflowTotal.push(sum((d) => d.overflowMicro).toString());
    cols.reserveTotal.push(sum((d) => d.reserveMicro).toString());
    cols.topups.push(openings.reduce((s, o) => s + o.topUpMicro, 0n).toString());
    cols.won.push(wins.reduce((s, w) => s + w.payoutMicro, 0n).toString());
    cols.hits.push(wins.length);
  }

  const updated = await client.query<{
    pool_id: string;
    jackpot_id: string;
    cycle: number;
    amount_minor: string;
    version: string;
    updated_at: Date;
  }>({
    name: 'pools.save-totals',
    text: `UPDATE jackpot.pool_totals t SET
             cycle = d.cycle, amount_micro = d.amount, reserve_micro = d.reserve, next_carry_micro = d.next_carry,
             seed_micro = d.seed, carried_in_micro = d.carried_in, cycle_contribution_micro = d.cycle_contribution,
             cycle_wagers = d.cycle_wagers, contribution_ppm = d.contribution_ppm, reserve_ppm = d.reserve_ppm,
             ceiling_micro = d.ceiling, overflow = d.overflow, must_hit_by_micro = d.must_hit_by,
             cycle_started_at = CASE WHEN d.started THEN now() ELSE t.cycle_started_at END,
             wagers_total = t.wagers_total + d.wagers, wagered_minor_total = t.wagered_minor_total + d.wagered,
             contribution_micro_total = t.contribution_micro_total + d.contribution,
             overflow_micro_total = t.overflow_micro_total + d.overflow_total,
             reserve_micro_total = t.reserve_micro_total + d.reserve_total,
             topup_micro_total = t.topup_micro_total + d.topups, won_micro_total = t.won_micro_total + d.won,
             hits = t.hits + d.hits, version = t.version + 1, updated_at = now()
           FROM unnest($1::text[], $2::int[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[],
                       $9::bigint[], $10::int[], $11::int[], $12::numeric[], $13::text[], $14::numeric[], $15::bool[], $16::bigint[],
                       $17::numeric[], $18::numeric[], $19::numeric[], $20::numeric[], $21::numeric[], $22::numeric[], $23::int[])
             AS d(pool_id, cycle, amount, reserve, next_carry, seed, carried_in, cycle_contribution, cycle_wagers, contribution_ppm,
                  reserve_ppm, ceiling, overflow, must_hit_by, started, wagers, wagered, contribution, overflow_total, reserve_total,
                  topups, won, hits)
           WHERE t.pool_id = d.pool_id
           RETURNING t.pool_id, t.jackpot_id, t.cycle, t.amount_minor::text AS amount_minor, t.version::text AS version, t.updated_at`,
    values: [
      cols.ids,
      cols.cycle,
      cols.amount,
      cols.reserve,
      cols.nextCarry,
      cols.seed,
      cols.carriedIn,
      cols.cycleContribution,
      cols.cycleWagers,
      cols.contributionPpm,
      cols.reservePpm,
      cols.ceiling,
      cols.overflow,
      cols.mustHitBy,
      cols.started,
      cols.wagers,
      cols.wagered,
      cols.contribution,
      cols.overflowTotal,
      cols.reserveTotal,
      cols.topups,
      cols.won,
      cols.hits,
    ],
  });

  if (ch.wins.length > 0) {
    await client.query({
      text: `INSERT INTO jackpot.wins (win_id, claim_id, pool_id, cycle, kind, amount_minor, game_id, player_id, event_id)
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::uuid[])`,
      values: [
        ch.wins.map((w) => w.winId),
        ch.wins.map((w) => w.claimId),
        ch.wins.map((w) => w.poolId),
        ch.wins.map((w) => w.cycle),
        ch.wins.map((w) => w.kind),
        ch.wins.map((w) => (w.payoutMicro / MICRO_PER_MINOR).toString()),
        ch.wins.map((w) => w.gameId),
        ch.wins.map((w) => w.playerId),
        ch.wins.map((w) => w.eventId),
      ],
    });
  }
  // Openings first, in a statement of their own: a cycle can open and close within one batch (two
  // mystery hits), and the closing UPDATE must see the opened row.
  if (ch.openings.length > 0) await recordOpenings(client, ch.openings, 'reseed');
  if (ch.closes.length > 0) {
    const winOf = new Map(ch.wins.map((w) => [`${w.poolId}#${w.cycle}`, w.winId]));
    await client.query({
      text: `UPDATE jackpot.pool_cycles c SET contribution_micro = d.amount - c.seed_micro - c.carried_in_micro, payout_micro = d.payout,
               carried_out_micro = d.carried_out, win_id = d.win_id, ended_at = now()
             FROM unnest($1::text[], $2::int[], $3::numeric[], $4::numeric[], $5::numeric[], $6::uuid[])
                  AS d(pool_id, cycle, amount, payout, carried_out, win_id)
             WHERE c.pool_id = d.pool_id AND c.cycle = d.cycle`,
      values: [
        ch.closes.map((c) => c.poolId),
        ch.closes.map((c) => c.cycle),
        ch.closes.map((c) => c.amountMicro.toString()),
        ch.closes.map((c) => c.payoutMicro.toString()),
        ch.closes.map((c) => c.carriedOutMicro.toString()),
        ch.closes.map((c) => winOf.get(`${c.poolId}#${c.cycle}`) ?? null),
      ],
    });
  }
  return updated.rows.map((r) => ({
    poolId: r.pool_id,
    jackpotId: r.jackpot_id,
    cycle: r.cycle,
    amountMinor: BigInt(r.amount_minor),
    version: Number(r.version),
    updatedAt: r.updated_at.toISOString(),
  }));
}

/** The start of a cycle: its record, its hidden trigger, and the operator's top-up if any. */
export async function recordOpening(
  client: SqlClient,
  poolId: string,
  o: CycleOpening,
  reason: 'initial-seed' | 'reseed',
): Promise<void> {
  await recordOpenings(client, [{ ...o, poolId }], reason);
}

/** `recordOpening` for many cycles, in one statement. */
async function recordOpenings(
  client: SqlClient,
  openings: readonly (CycleOpening & { readonly poolId: string })[],
  reason: 'initial-seed' | 'reseed',
): Promise<void> {
  const triggered = openings.filter((o) => o.triggerMicro !== null);
  const toppedUp = openings.filter((o) => o.topUpMicro > 0n);
  await client.query({
    text: `WITH cycles AS (
             INSERT INTO jackpot.pool_cycles (pool_id, cycle, seed_micro, carried_in_micro, contribution_ppm, reserve_ppm, ceiling_micro, overflow, must_hit_by_micro)
             SELECT * FROM unnest($1::text[], $2::int[], $3::numeric[], $4::numeric[], $5::int[], $6::int[], $7::numeric[], $8::text[], $9::numeric[])),
           triggers AS (
             INSERT INTO jackpot.pool_triggers (pool_id, cycle, trigger_micro)
             SELECT * FROM unnest($10::text[], $11::int[], $12::numeric[])),
           topups AS (
             INSERT INTO jackpot.topups (pool_id, cycle, amount_micro, reason)
             SELECT pool_id, cycle, amount, $16::text FROM unnest($13::text[], $14::int[], $15::numeric[]) AS t(pool_id, cycle, amount))
           SELECT 1`,
    values: [
      openings.map((o) => o.poolId),
      openings.map((o) => o.cycle),
      openings.map((o) => o.seedMicro.toString()),
      openings.map((o) => o.carriedInMicro.toString()),
      openings.map((o) => o.params.contributionPpm),
      openings.map((o) => o.params.reservePpm),
      openings.map((o) => o.params.ceilingMicro?.toString() ?? null),
      openings.map((o) => o.params.overflow),
      openings.map((o) => o.params.mustHitByMicro?.toString() ?? null),
      triggered.map((o) => o.poolId),
      triggered.map((o) => o.cycle),
      triggered.map((o) => (o.triggerMicro ?? 0n).toString()),
      toppedUp.map((o) => o.poolId),
      toppedUp.map((o) => o.cycle),
      toppedUp.map((o) => o.topUpMicro.toString()),
      reason,
    ],
  });
}

export const newWinId = (): string => randomUUID();
