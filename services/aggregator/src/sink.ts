/**
 * The Postgres edge of the aggregator: one window of wagers becomes one transaction that
 * 1. locks the consumer position of every partition in the window and drops messages at or below
 *    it (already applied by an earlier owner of the partition: the fence that makes redelivery
 *    after a crash or a rebalance harmless),
 * 2. parses and validates every message (pure domain; usually done ahead, see `InMessage.parsed`),
 * 3. claims the event ids in jackpot.applied_events (a re-sent wager counts once, whatever else
 *    differs, across batches and replicas),
 * 4. locks the pools reached and plans the batch (pure domain),
 * 5. COPYs the ledger rows, adds the per-pool sums, writes dead letters and the new positions,
 * and commits. Only after the commit does the caller tell Kafka.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  fxRateKey,
  parseWager,
  planBatch,
  type BatchWager,
  type DrawTriggerMinor,
  type FxRates,
  type GameLink,
  type ParseResult,
  type PoolLifecycleState,
  type PoolParams,
  type PoolState,
  type ReasonCode,
} from '../../../shared/src/domain/index.js';
import { lockPools, newWinId, savePoolChanges, secureDrawMinor, type PoolUpdate, type WinRecord } from '../../../shared/src/pool-store.js';
import { ledgerCopyChunks } from './ledger-copy.js';
import * as sql from './sql.js';

export type { PoolUpdate };

export interface InMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /**
   * `parseWager(value, …)` done ahead, when the message arrived: parsing then overlaps the
   * transaction of the window before. Parsed inside the transaction when absent.
   */
  readonly parsed?: ParseResult;
}

/** One partition's messages in this window, in offset order. */
export interface Slice {
  readonly partition: number;
  readonly messages: readonly InMessage[];
}

export interface WindowOutcome {
  readonly applied: number;
  readonly duplicates: number;
  /** Messages at or below the stored position: applied before, skipped now. */
  readonly alreadyApplied: number;
  readonly rejected: ReadonlyMap<ReasonCode, number>;
  readonly ledgerRows: number;
  readonly mysteryWins: number;
  readonly poolUpdates: readonly PoolUpdate[];
  /** New positions, to commit to Kafka after the database. */
  readonly positions: readonly { partition: number; nextOffset: string }[];
  /** Partitions whose messages start after the stored position: not applied; seek back to it. */
  readonly gaps: readonly { partition: number; nextOffset: string }[];
}

export interface WindowInput {
  readonly groupId: string;
  readonly topic: string;
  readonly slices: readonly Slice[];
  readonly nowMs: number;
  /**
   * Positions at which a gap is accepted (we already sought there once and the broker still
   * starts later: the messages are gone, for example past retention). Key `${partition}@${offset}`.
   */
  readonly acceptGapsAt?: ReadonlySet<string>;
  /** Mystery trigger draws; the OS CSPRNG unless a test pins them. */
  readonly drawTriggerMinor?: DrawTriggerMinor;
  /** Told how long each step took (seconds, wall clock, lock waits included), for metrics. */
  readonly onPhase?: (phase: WindowPhase, seconds: number) => void;
}

/**
 * The steps of a window's transaction, for metrics: `fence` (lock positions), `parse` (what was
 * not parsed ahead), `links` (games and rates, and the screening pass), `claim` (event ids),
 * `lock_pools` (waits for another window or a win holding them), `plan`, `copy` (ledger rows,
 * encoding included), `pools` (totals, cycles, wins), `dead_letters`, `offsets`.
 */
export type WindowPhase = 'fence' | 'parse' | 'links' | 'claim' | 'lock_pools' | 'plan' | 'copy' | 'pools' | 'dead_letters' | 'offsets';

interface Candidate {
  readonly partition: number;
  readonly message: InMessage;
}

export async function applyWindow(client: PoolClient, input: WindowInput): Promise<WindowOutcome> {
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
  const stored = new Map(
    (await client.query<{ partition: number; next_offset: string }>(sql.lockOffsets(groupId, topic, partitions))).rows.map((r) => [
      r.partition,
      BigInt(r.next_offset),
    ]),
  );
  phase('fence');
  const candidates: Candidate[] = [];
  const gaps: { partition: number; nextOffset: string }[] = [];
  const positions = new Map<number, bigint>();
  let alreadyApplied = 0;
  for (const slice of [...input.slices].sort((a, b) => a.partition - b.partition)) {
    const next = stored.get(slice.partition) ?? -1n;
    const first = slice.messages[0];
    if (first === undefined) continue;
    if (next >= 0n && BigInt(first.offset) > next && !input.acceptGapsAt?.has(`${slice.partition}@${next}`)) {
      gaps.push({ partition: slice.partition, nextOffset: next.toString() });
      continue;
    }
    for (const m of slice.messages) {
      if (BigInt(m.offset) < next) alreadyApplied++;
      else candidates.push({ partition: slice.partition, message: m });
    }
    const last = slice.messages[slice.messages.length - 1];
    if (last !== undefined && BigInt(last.offset) + 1n > next) positions.set(slice.partition, BigInt(last.offset) + 1n);
  }

  // 2. Parse.
  const rejected = new Map<ReasonCode, number>();
  const dead: { ref: number; reason: ReasonCode; message: string; eventId: string | null }[] = [];
  const parsed: BatchWager[] = [];
  candidates.forEach((c, ref) => {
    const result = c.message.parsed ?? parseWager(c.message.value, nowMs);
    if (result.ok) parsed.push({ wager: result.wager, ref });
    else dead.push({ ref, reason: result.reason, message: result.message, eventId: null });
  });

  phase('parse');

  // 3. Links and claims. A first pass of the planner with pool-less links finds unknown games,
  // wrong currencies and in-batch copies, so that only wagers that will apply claim their id.
  let applied = 0;
  let duplicates = 0;
  let ledgerRows = 0;
  let mysteryWins = 0;
  let poolUpdates: PoolUpdate[] = [];
  if (parsed.length > 0) {
    const gameIds = [...new Set(parsed.map((p) => p.wager.gameId))];
    const bare = new Map<string, GameLink>();
    for (const r of (await client.query<{ game_id: string; jackpot_id: string; currency: string }>(sql.gameLinks(gameIds))).rows) {
      bare.set(r.game_id, { gameId: r.game_id, jackpotId: r.jackpot_id, currency: r.currency, pools: [] });
    }
    const foreign = [...new Set(parsed.filter((p) => bare.get(p.wager.gameId)?.currency !== p.wager.currency).map((p) => p.wager.currency))];
    const fxRates: FxRates =
      foreign.length === 0
        ? new Map()
        : new Map(
            (await client.query<{ from_currency: string; to_currency: string; rate_micro: string }>(sql.fxRates(foreign))).rows.map((r) => [
              fxRateKey(r.from_currency, r.to_currency),
              BigInt(r.rate_micro),
            ]),
          );
    const screen = planBatch({ wagers: parsed, links: bare, states: new Map(), fxRates });
    const refused = new Set([...screen.rejected.map((r) => r.ref), ...screen.duplicates]);
    const claimable = parsed.filter((p) => !refused.has(p.ref));
    phase('links');
    const seen = new Set(
      claimable.length === 0
        ? []
        : (await client.query<{ event_id: string }>(sql.claimEvents(claimable.map((p) => p.wager.eventId)))).rows.map((r) => r.event_id),
    );

    phase('claim');

    // 4. Lock the pools and plan for real.
    const jackpotIds = [...new Set(claimable.map((p) => bare.get(p.wager.gameId)?.jackpotId ?? ''))].filter((j) => j !== '').sort();
    const locked = await lockPools(client, { jackpotIds });
    phase('lock_pools');
    const poolsByJackpot = new Map<string, PoolParams[]>();
    const states = new Map<string, PoolState>();
    for (const lp of locked.values()) {
      const list = poolsByJackpot.get(lp.jackpotId) ?? [];
      list.push({
        poolId: lp.poolId,
        jackpotId: lp.jackpotId,
        tier: lp.tier,
        contributionPpm: lp.state.params.contributionPpm,
        reservePpm: lp.state.params.reservePpm,
        nextParams: lp.nextParams,
      });
      poolsByJackpot.set(lp.jackpotId, list);
      states.set(lp.poolId, lp.state);
    }
    const links = new Map<string, GameLink>();
    for (const [gameId, link] of bare) links.set(gameId, { ...link, pools: poolsByJackpot.get(link.jackpotId) ?? [] });
    const plan = planBatch({ wagers: parsed, links, states, seen, fxRates, drawTriggerMinor: input.drawTriggerMinor ?? secureDrawMinor });
    const byRef = new Map(parsed.map((p) => [p.ref, p.wager.eventId]));
    for (const r of plan.rejected) dead.push({ ref: r.ref, reason: r.reason, message: r.message, eventId: byRef.get(r.ref) ?? null });
    duplicates = plan.duplicates.length;
    applied = parsed.length - plan.rejected.length - duplicates;
    phase('plan');

    // 5. Write.
    if (plan.rows.length > 0) {
      ledgerRows = plan.rows.length;
      await pipeline(Readable.from(ledgerCopyChunks(plan.rows)), client.query(copyFrom(sql.COPY_LEDGER)));
    }
    phase('copy');
    const wins: WinRecord[] = plan.wins.map((w) => ({ ...w, winId: newWinId(), claimId: null }));
    mysteryWins = wins.length;
    const after = new Map<string, PoolLifecycleState>();
    for (const [poolId, st] of plan.states) if (locked.has(poolId)) after.set(poolId, st as PoolLifecycleState);
    poolUpdates = await savePoolChanges(client, { before: locked, after, deltas: plan.deltas, closes: plan.closes, openings: plan.openings, wins });
    phase('pools');
  }

  if (dead.length > 0) {
    const cols: sql.DeadLetterColumns = { reasons: [], messages: [], eventIds: [], partitions: [], offsets: [], keys: [], payloads: [] };
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
    await client.query(sql.insertDeadLetters(topic, cols));
    phase('dead_letters');
  }

  if (positions.size > 0) {
    const ps = [...positions.keys()];
    await client.query(sql.saveOffsets(groupId, topic, ps, ps.map((p) => (positions.get(p) ?? 0n).toString())));
    phase('offsets');
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
  };
}
