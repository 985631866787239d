/**
 * The Postgres edge of the aggregator: one window of wagers becomes one transaction that
 * 1. locks the consumer position of every partition in the window and drops messages below it
 *    (already applied by an earlier owner of the partition: the fence that makes redelivery after
 *    a crash or a rebalance harmless); a slice that starts past the position is not applied (the
 *    offsets in between were not: a failed window is never skipped), nor is one whose positions
 *    belong to another Kafka cluster,
 * 2. parses and validates every message (pure domain; usually done ahead, see `InMessage.parsed`),
 * 3. reads the games' jackpots and the fx rates, and screens out unknown games and currencies,
 * 4. writes the dead letters and the new positions,
 * 5. claims the event ids in jackpot.applied_events (a re-sent wager counts once, whatever else
 *    differs, across batches and replicas),
 * 6. locks the pools reached and plans the batch (pure domain),
 * 7. COPYs the ledger rows (one a wager), adds them to the hourly rollups (one upsert) and writes
 *    the pools' new state,
 * and commits. Only after the commit does the caller tell Kafka. Everything that does not need the
 * pools comes before their lock: the next window (of this replica or another) waits for it.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { from as copyFrom } from 'pg-copy-streams';
import {
  claimWeeks,
  fxRateKey,
  MS_PER_HOUR,
  planBatch,
  screenBatch,
  type BatchWager,
  type DrawTriggerMinor,
  type GameLink,
  type PoolLifecycleState,
  type PoolParams,
  type ReasonCode,
  type Rejection,
} from '../../../shared/src/domain/index.js';
import {
  lockPools,
  newWinId,
  savePoolChanges,
  secureDrawMinor,
  type SqlClient,
  type WinRecord,
} from '../../../shared/src/pool-store.js';
import type { PoolUpdateMessage } from '../../../shared/src/messages/pool-update.js';
import { parseWager, type WagerParseResult } from '../../../shared/src/messages/wager.js';
import { createHourlyRollup } from './hourly-rollup.js';
import { createLedgerEncoder } from './ledger-copy.js';
import { AppError } from '../../../shared/src/errors.js';
import * as sql from './sql.js';

/**
 * How long into a UTC week a claim also takes its ids in the week before (sql.claimEvents). A
 * claim made later looks the id up in the week before, and finds a Sunday claim only if that one
 * has committed: so no window transaction may commit later than this after it started, which
 * Postgres enforces at COMMIT (migration 0011: 50 minutes, `jackpot.window_max_age()`; the window
 * is then retried). Windows take milliseconds to seconds.
 */
export const CLAIM_GRACE_MS = MS_PER_HOUR;

export interface InMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /**
   * `parseWager(value, …)` done ahead, when the message arrived: parsing then overlaps the
   * transaction of the window before. Parsed inside the transaction when absent.
   */
  readonly parsed?: WagerParseResult;
}

/** One partition's messages in this window, in offset order. */
export interface Slice {
  readonly partition: number;
  readonly messages: readonly InMessage[];
  /**
   * The offset the broker was asked to read from, when these messages are all it returned from
   * there (kafkajs' `batch.fetchedOffset`, or the offset after the previous slice of one batch).
   * Offsets between it and the first message hold nothing to apply (transaction markers, aborted
   * or compacted records), so a position in that range may jump to the first message. Without it,
   * a slice must start exactly at the stored position.
   */
  readonly fetchedFrom?: string;
}

export interface WindowOutcome {
  readonly applied: number;
  readonly duplicates: number;
  /** Messages at or below the stored position: applied before, skipped now. */
  readonly alreadyApplied: number;
  readonly rejected: ReadonlyMap<ReasonCode, number>;
  readonly ledgerRows: number;
  readonly mysteryWins: number;
  readonly poolUpdates: readonly PoolUpdateMessage[];
  /** New positions, to commit to Kafka after the database. */
  readonly positions: readonly { partition: number; nextOffset: string }[];
  /** Partitions whose messages start after the stored position: not applied; seek back to it. */
  readonly gaps: readonly { partition: number; nextOffset: string }[];
  /** Partitions with no stored position yet (not assigned through a positions check): not applied. */
  readonly unpositioned: readonly number[];
}

export interface WindowInput {
  readonly groupId: string;
  readonly topic: string;
  readonly slices: readonly Slice[];
  readonly nowMs: number;
  /** The Kafka cluster the messages come from: positions stored for another one are refused. */
  readonly clusterId: string;
  /**
   * Dead-letter every message (not already applied) with this reason instead of applying it: how
   * a message that fails every window it is in (a poison message) is set aside.
   */
  readonly deadLetterAll?: { readonly reason: ReasonCode; readonly message: string };
  /** Mystery trigger draws; the OS CSPRNG unless a test pins them. */
  readonly drawTriggerMinor?: DrawTriggerMinor;
  /** Told how long each step took (seconds, wall clock, lock waits included), for metrics. */
  readonly onPhase?: (phase: WindowPhase, seconds: number) => void;
}

/**
 * The steps of a window's transaction, for metrics: `fence` (lock positions), `parse` (what was
 * not parsed ahead), `links` (games and rates, and the screening pass), `bookkeeping` (dead
 * letters and new positions), `claim` (event ids), `lock_pools` (waits for another window or a
 * win holding them), `plan`, `copy` (ledger rows, encoding included), `rollup` (the hourly rollups), `pools` (totals, cycles,
 * wins).
 */
export type WindowPhase =
  'fence' | 'parse' | 'links' | 'bookkeeping' | 'claim' | 'lock_pools' | 'plan' | 'copy' | 'rollup' | 'pools';

interface Candidate {
  readonly partition: number;
  readonly message: InMessage;
}

export async function applyWindow(client: SqlClient, input: WindowInput): Promise<WindowOutcome> {
  const { groupId, topic, nowMs } = input;
  const onPhase = input.onPhase;
  let phaseStart = performance.now();
  const phase = (name: WindowPhase): void => {
    if (onPhase === undefined) return;
    const now = performance.now();
    onPhase(name, (now - phaseStart) / 1000);
    phaseStart = now;
  };
  const partitions = [...new Set(input.slices.map((s) => s.partition))].sort((a, b) => a - b);

  // 1. The fence.
  const stored = new Map<number, bigint>();
  let startedMs = 0;
  for (const r of (
    await client.query<{
      partition: number;
      next_offset: string;
      cluster_id: string | null;
      now_ms: string;
    }>(sql.lockOffsets(groupId, topic, partitions))
  ).rows) {
    startedMs = Number(r.now_ms);
    if (r.cluster_id !== input.clusterId) {
      throw new AppError(
        'POSITIONS_FOREIGN',
        `the positions of ${groupId} on ${topic} belong to Kafka cluster ${r.cluster_id ?? '(none recorded)'}, not ${input.clusterId}; window not applied`,
      );
    }
    stored.set(r.partition, BigInt(r.next_offset));
  }
  phase('fence');
  const candidates: Candidate[] = [];
  const gaps: { partition: number; nextOffset: string }[] = [];
  const unpositioned: number[] = [];
  const positions = new Map<number, bigint>();
  let alreadyApplied = 0;
  // Stable sort: two slices of one partition (two fetches that met in one open window) stay in
  // offset order, and the second is judged against where the first ends.
  for (const slice of [...input.slices].sort((a, b) => a.partition - b.partition)) {
    const next = positions.get(slice.partition) ?? stored.get(slice.partition) ?? -1n;
    const first = slice.messages[0];
    if (first === undefined) continue;
    if (next < 0n) {
      unpositioned.push(slice.partition);
      continue;
    }
    if (
      BigInt(first.offset) > next &&
      !(slice.fetchedFrom !== undefined && BigInt(slice.fetchedFrom) <= next)
    ) {
      gaps.push({ partition: slice.partition, nextOffset: next.toString() });
      continue;
    }
    // Messages are in offset order: when the first is at or past the position, all are (the
    // usual case, which then parses no offset but the first and last).
    const allNew = BigInt(first.offset) >= next;
    for (const m of slice.messages) {
      if (!allNew && BigInt(m.offset) < next) alreadyApplied++;
      else candidates.push({ partition: slice.partition, message: m });
    }
    const last = slice.messages[slice.messages.length - 1];
    if (last !== undefined && BigInt(last.offset) + 1n > next)
      positions.set(slice.partition, BigInt(last.offset) + 1n);
  }

  // 2. Parse (usually done ahead: `InMessage.parsed`).
  const rejected = new Map<ReasonCode, number>();
  const dead: { ref: number; reason: ReasonCode; message: string; eventId: string | null }[] = [];
  const parsed: BatchWager[] = [];
  candidates.forEach((c, ref) => {
    const result = input.deadLetterAll
      ? { ok: false as const, ...input.deadLetterAll }
      : (c.message.parsed ?? parseWager(c.message.value, nowMs));
    if (result.ok) parsed.push({ wager: result.wager, ref });
    else dead.push({ ref, reason: result.reason, message: result.message, eventId: null });
  });
  phase('parse');

  // 3. Links and rates. `screenBatch` finds unknown games and wrong currencies, so that only wagers
  // that can apply claim their id. Its rejections are final: they depend on links and rates only,
  // which the planner shares. A copy of an id within the window claims it again: the claim takes
  // each id once, and the planner counts the first copy.
  const bare = new Map<string, GameLink>();
  const fxRates = new Map<string, bigint>();
  let screen: Rejection[] | undefined;
  let claimable: BatchWager[] = [];
  if (parsed.length > 0) {
    const gameIds = [...new Set(parsed.map((p) => p.wager.gameId))];
    const currencies = [...new Set(parsed.map((p) => p.wager.currency))];
    for (const r of (await client.query<sql.LinkOrRateRow>(sql.gameLinksAndRates(gameIds, currencies)))
      .rows) {
      if (r.game_id !== null && r.jackpot_id !== null && r.currency !== null)
        bare.set(r.game_id, { gameId: r.game_id, jackpotId: r.jackpot_id, currency: r.currency, pools: [] });
      else if (r.from_currency !== null && r.to_currency !== null && r.rate_micro !== null)
        fxRates.set(fxRateKey(r.from_currency, r.to_currency), BigInt(r.rate_micro));
    }
    screen = screenBatch({ wagers: parsed, links: bare, fxRates });
    if (screen.length > 0) {
      const byRef = new Map(parsed.map((p) => [p.ref, p.wager.eventId]));
      for (const r of screen)
        dead.push({ ref: r.ref, reason: r.reason, message: r.message, eventId: byRef.get(r.ref) ?? null });
    }
    const refused = new Set(screen.map((r) => r.ref));
    claimable = refused.size === 0 ? parsed : parsed.filter((p) => !refused.has(p.ref));
  }
  phase('links');

  // 4. Dead letters and the new positions, in one statement: known already, so written before
  // the pools are locked, which keeps the pool locks (that the next window waits for) short.
  if (dead.length > 0 || positions.size > 0) {
    const cols: sql.DeadLetterColumns = {
      reasons: [],
      messages: [],
      eventIds: [],
      partitions: [],
      offsets: [],
      keys: [],
      payloads: [],
    };
    for (const d of dead.sort((a, b) => a.ref - b.ref)) {
      const c = candidates[d.ref];
      if (c === undefined) continue;
      cols.reasons.push(d.reason);
      cols.messages.push(d.message);
      cols.eventIds.push(d.eventId);
      cols.partitions.push(c.partition);
      cols.offsets.push(c.message.offset);
      cols.keys.push(c.message.key);
      cols.payloads.push(c.message.value ?? Buffer.alloc(0));
      rejected.set(d.reason, (rejected.get(d.reason) ?? 0) + 1);
    }
    const ps = [...positions.keys()];
    await client.query(
      sql.saveDeadLettersAndPositions(
        groupId,
        topic,
        cols,
        ps,
        ps.map((p) => (positions.get(p) ?? 0n).toString()),
      ),
    );
  }
  phase('bookkeeping');

  let applied = 0;
  let duplicates = 0;
  let ledgerRows = 0;
  let mysteryWins = 0;
  let poolUpdates: PoolUpdateMessage[] = [];
  if (screen !== undefined) {
    // 5. Claims, in the week the transaction started (and, in a week's first hour, the one before).
    const weeks = claimWeeks(startedMs, CLAIM_GRACE_MS);
    const seen = new Set(
      claimable.length === 0
        ? []
        : (
            await client.query<{ event_id: string }>(
              sql.claimEvents(
                claimable.map((p) => p.wager.eventId),
                weeks.week,
                weeks.alsoWeek,
              ),
            )
          ).rows.map((r) => r.event_id),
    );
    phase('claim');

    // 6. Lock the pools and plan for real.
    const jackpotIds = [...new Set(claimable.map((p) => bare.get(p.wager.gameId)?.jackpotId ?? ''))]
      .filter((j) => j !== '')
      .sort();
    const locked = await lockPools(client, { jackpotIds });
    phase('lock_pools');
    const poolsByJackpot = new Map<string, PoolParams[]>();
    const states = new Map<string, PoolLifecycleState>();
    for (const lp of locked.values()) {
      const list = poolsByJackpot.get(lp.jackpotId) ?? [];
      list.push({
        poolId: lp.poolId,
        jackpotId: lp.jackpotId,
        tier: lp.tier,
        nextParams: lp.nextParams,
      });
      poolsByJackpot.set(lp.jackpotId, list);
      states.set(lp.poolId, lp.state);
    }
    const links = new Map<string, GameLink>();
    for (const [gameId, link] of bare)
      links.set(gameId, { ...link, pools: poolsByJackpot.get(link.jackpotId) ?? [] });
    // Rows go straight into COPY buffers and the hourly sums as they are planned (no row objects).
    const encoder = createLedgerEncoder();
    const hourly = createHourlyRollup();
    const plan = planBatch({
      wagers: parsed,
      links,
      states,
      seen,
      fxRates,
      drawTriggerMinor: input.drawTriggerMinor ?? secureDrawMinor,
      onRow: (wager, fx, poolId, cycle, contribution, overflow, reserve) => {
        encoder.row(wager, fx, poolId, cycle, contribution, overflow, reserve);
        hourly.row(wager, fx, poolId, cycle, contribution, overflow, reserve);
      },
    });
    if (plan.rejected.length !== screen.length || plan.rejected.some((r, i) => r.ref !== screen[i]?.ref)) {
      // Cannot happen (see step 3); if it did, the dead letters written above would be wrong.
      throw new Error('the planner rejected other wagers than its screening pass; window rolled back');
    }
    duplicates = plan.duplicates.length;
    applied = parsed.length - plan.rejected.length - duplicates;
    phase('plan');

    // 7. Write.
    ledgerRows = encoder.count();
    if (ledgerRows > 0)
      await pipeline(Readable.from(encoder.finish()), client.query(copyFrom(sql.COPY_LEDGER)));
    phase('copy');
    if (ledgerRows > 0) await client.query(sql.upsertHourlyRollups(hourly.rows()));
    phase('rollup');
    const wins: WinRecord[] = plan.wins.map((w) => ({ ...w, winId: newWinId(), claimId: null }));
    mysteryWins = wins.length;
    const after = new Map<string, PoolLifecycleState>();
    for (const [poolId, st] of plan.states) if (locked.has(poolId)) after.set(poolId, st);
    poolUpdates = await savePoolChanges(client, {
      before: locked,
      after,
      deltas: plan.deltas,
      closes: plan.closes,
      openings: plan.openings,
      wins,
    });
    phase('pools');
  }

  return {
    applied,
    duplicates,
    alreadyApplied,
    rejected,
    ledgerRows,
    mysteryWins,
    poolUpdates,
    positions: [...positions].map(([partition, next]) => ({ partition, nextOffset: next.toString() })),
    gaps,
    unpositioned,
  };
}
