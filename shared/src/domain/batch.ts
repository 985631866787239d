import { contributionMicro, reserveMicro } from './contribution.js';
import type { ReasonCode, Wager } from './wager.js';

/** One pool's parameters as the planner needs them (the current cycle's, see the contract). */
export interface PoolParams {
  readonly poolId: string;
  readonly jackpotId: string;
  readonly tier: string;
  readonly contributionPpm: number;
  readonly reservePpm: number;
}

/** A game's jackpot: every wager in the game contributes to each of these pools. */
export interface GameLink {
  readonly gameId: string;
  readonly jackpotId: string;
  readonly currency: string;
  /** Sorted by poolId (the planner sorts again, so an unsorted list costs time, not correctness). */
  readonly pools: readonly PoolParams[];
}

/** A pool as committed: the cycle being filled and what it holds, in micro-units. */
export interface PoolState {
  readonly poolId: string;
  readonly cycle: number;
  /** Current amount: seed + carry-in + contributions booked to this cycle. */
  readonly amountMicro: bigint;
  readonly reserveMicro: bigint;
}

export interface BatchWager {
  readonly wager: Wager;
  /** The caller's handle on the wager (an index into its message array), echoed in the plan. */
  readonly ref: number;
}

export interface BatchInput {
  /** In processing order (partition offset order): a later wager sees the state left by earlier ones. */
  readonly wagers: readonly BatchWager[];
  /** By gameId. */
  readonly links: ReadonlyMap<string, GameLink>;
  /** By poolId; must hold every pool of every link a wager reaches, or `planBatch` throws. */
  readonly states: ReadonlyMap<string, PoolState>;
  /**
   * EventIds already in the ledger (from an earlier batch, e.g. redelivered after a crash).
   * Wagers with these ids are reported as duplicates and change nothing.
   */
  readonly seen?: ReadonlySet<string>;
}

/** One row of `jackpot.contributions`: one applied wager and one pool. */
export interface LedgerRow {
  readonly eventId: string;
  readonly poolId: string;
  readonly cycle: number;
  readonly wagerMinor: number;
  readonly contributionMicro: bigint;
  readonly reserveMicro: bigint;
  readonly occurredAt: string;
  readonly gameId: string;
  readonly playerId: string;
}

/** What a batch adds to one cycle of one pool: the sum of its ledger rows. */
export interface PoolDelta {
  readonly poolId: string;
  readonly cycle: number;
  readonly wagers: number;
  readonly wageredMinor: bigint;
  readonly contributionMicro: bigint;
  readonly reserveMicro: bigint;
}

export interface Rejection {
  readonly ref: number;
  readonly reason: ReasonCode;
  readonly message: string;
}

export interface BatchPlan {
  /** In wager order, then poolId order within a wager. */
  readonly rows: LedgerRow[];
  /** Sorted by poolId, then cycle: apply in this order so concurrent writers lock pools alike. */
  readonly deltas: PoolDelta[];
  /** In wager order. For the dead-letter topic and table. */
  readonly rejected: Rejection[];
  /** Refs of later copies of an eventId already applied (in this batch or `seen`). Not dead letters. */
  readonly duplicates: number[];
  /** Every input state, with the touched pools moved on. The input map is not modified. */
  readonly states: Map<string, PoolState>;
}

/**
 * One step of the fold: a wager's contribution to one pool. Kept separate so that ceilings and
 * mystery triggers can later change the state (and end a cycle) at exactly this point.
 */
export function applyContribution(
  state: PoolState,
  params: PoolParams,
  wager: Wager,
): { state: PoolState; row: LedgerRow } {
  const contribution = contributionMicro(wager.amountMinor, params.contributionPpm);
  const reserve = reserveMicro(wager.amountMinor, params.reservePpm);
  return {
    state: {
      poolId: state.poolId,
      cycle: state.cycle,
      amountMicro: state.amountMicro + contribution,
      reserveMicro: state.reserveMicro + reserve,
    },
    row: {
      eventId: wager.eventId,
      poolId: params.poolId,
      cycle: state.cycle,
      wagerMinor: wager.amountMinor,
      contributionMicro: contribution,
      reserveMicro: reserve,
      occurredAt: wager.occurredAt,
      gameId: wager.gameId,
      playerId: wager.playerId,
    },
  };
}

/** Code-unit order, the same on every machine (unlike `localeCompare`). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface MutableDelta {
  poolId: string;
  cycle: number;
  wagers: number;
  wageredMinor: bigint;
  contributionMicro: bigint;
  reserveMicro: bigint;
}

/**
 * Plans a batch: which wagers are applied, the ledger rows, the per-pool sums, and the pool states
 * after it. Pure and deterministic: the same input gives the same plan.
 *
 * - A game with no link is `unknown_game`; a currency other than the jackpot's is
 *   `currency_mismatch` (no conversion yet).
 * - The same eventId twice: the first applied copy counts, later copies are `duplicates`. A rejected
 *   wager does not claim its eventId, so a later copy is judged on its own, as it would be had it
 *   arrived in a later batch.
 *
 * Throws an Error when a reached pool has no state: that is a loading bug, not a bad wager.
 */
export function planBatch(input: BatchInput): BatchPlan {
  const states = new Map(input.states);
  const rows: LedgerRow[] = [];
  const rejected: Rejection[] = [];
  const duplicates: number[] = [];
  const applied = new Set<string>();
  const sortedPools = new Map<GameLink, PoolParams[]>();
  const deltas = new Map<string, Map<number, MutableDelta>>();

  for (const { wager, ref } of input.wagers) {
    if (applied.has(wager.eventId) || input.seen?.has(wager.eventId) === true) {
      duplicates.push(ref);
      continue;
    }
    const link = input.links.get(wager.gameId);
    if (link === undefined) {
      rejected.push({
        ref,
        reason: 'unknown_game',
        message: `gameId ${JSON.stringify(wager.gameId)} is not linked to a jackpot`,
      });
      continue;
    }
    if (wager.currency !== link.currency) {
      rejected.push({
        ref,
        reason: 'currency_mismatch',
        message: `currency ${wager.currency} is not the currency of jackpot ${JSON.stringify(link.jackpotId)} (${link.currency})`,
      });
      continue;
    }
    applied.add(wager.eventId);

    let pools = sortedPools.get(link);
    if (pools === undefined) {
      pools = [...link.pools].sort((a, b) => compareStrings(a.poolId, b.poolId));
      sortedPools.set(link, pools);
    }
    for (const params of pools) {
      const before = states.get(params.poolId);
      if (before === undefined) {
        throw new Error(
          `no state loaded for pool ${JSON.stringify(params.poolId)} of game ${JSON.stringify(wager.gameId)}`,
        );
      }
      const { state, row } = applyContribution(before, params, wager);
      states.set(params.poolId, state);
      rows.push(row);

      let byCycle = deltas.get(row.poolId);
      if (byCycle === undefined) {
        byCycle = new Map();
        deltas.set(row.poolId, byCycle);
      }
      let delta = byCycle.get(row.cycle);
      if (delta === undefined) {
        delta = {
          poolId: row.poolId,
          cycle: row.cycle,
          wagers: 0,
          wageredMinor: 0n,
          contributionMicro: 0n,
          reserveMicro: 0n,
        };
        byCycle.set(row.cycle, delta);
      }
      delta.wagers += 1;
      delta.wageredMinor += BigInt(row.wagerMinor);
      delta.contributionMicro += row.contributionMicro;
      delta.reserveMicro += row.reserveMicro;
    }
  }

  const sortedDeltas = [...deltas.values()]
    .flatMap((byCycle) => [...byCycle.values()])
    .sort((a, b) => compareStrings(a.poolId, b.poolId) || a.cycle - b.cycle);
  return { rows, deltas: sortedDeltas, rejected, duplicates, states };
}

/** Keeps the first item of each eventId, in order; later copies go to `duplicates`, in order. */
export function dedupeByEventId<T extends { readonly wager: Pick<Wager, 'eventId'> }>(
  items: readonly T[],
): { unique: T[]; duplicates: T[] } {
  const seen = new Set<string>();
  const unique: T[] = [];
  const duplicates: T[] = [];
  for (const item of items) {
    if (seen.has(item.wager.eventId)) {
      duplicates.push(item);
    } else {
      seen.add(item.wager.eventId);
      unique.push(item);
    }
  }
  return { unique, duplicates };
}
