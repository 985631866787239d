import { canValueIn, shareMicro, valueInJackpotCurrency, type FxRates } from './fx.js';
import {
  checkCycleParams,
  contributeInPlace,
  type CycleClose,
  type CycleOpening,
  type CycleParams,
  type DrawTriggerMinor,
  type LifecycleState,
  type Overflow,
  type WorkingState,
} from './lifecycle.js';
import type { ReasonCode, Wager } from './wager.js';

/** One pool as a game's link reaches it. */
export interface PoolParams {
  readonly poolId: string;
  readonly jackpotId: string;
  readonly tier: string;
  /**
   * The pool's parameters as configured now (`jackpot.pools`): a cycle that starts in this batch
   * (after a mystery hit) runs on them. Required for a pool whose current cycle is a mystery cycle
   * (`planBatch` throws otherwise); unused for the others.
   */
  readonly nextParams?: CycleParams;
}

/** A game's jackpot: every wager in the game contributes to each of these pools. */
export interface GameLink {
  readonly gameId: string;
  readonly jackpotId: string;
  /** The jackpot's currency; a wager in another one is converted with `BatchInput.fxRates`. */
  readonly currency: string;
  /** Sorted by poolId (the planner sorts again, so an unsorted list costs time, not correctness). */
  readonly pools: readonly PoolParams[];
}

/**
 * A pool as committed: the cycle being filled, what it holds (micro-units) and the cycle's frozen
 * parameters (`jackpot.pool_totals`). The state `planBatch` takes for every pool a wager reaches,
 * and leaves for every pool it reached.
 */
export interface PoolLifecycleState extends LifecycleState {
  readonly poolId: string;
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
  readonly states: ReadonlyMap<string, PoolLifecycleState>;
  /**
   * EventIds already in the ledger (from an earlier batch, e.g. redelivered after a crash).
   * Wagers with these ids are reported as duplicates and change nothing.
   */
  readonly seen?: ReadonlySet<string>;
  /** By `"FROM>TO"` (`fxRateKey`). Default: none, so every foreign-currency wager is rejected. */
  readonly fxRates?: FxRates;
  /**
   * Draws the trigger of a mystery cycle that starts in this batch. Called in wager order, then
   * poolId order, so the plan is deterministic given the same function. Required when a reached
   * pool is in a mystery cycle and its `nextParams` are a mystery pool (`planBatch` throws otherwise).
   */
  readonly drawTriggerMinor?: DrawTriggerMinor;
  /**
   * Receives every ledger row as it is planned, in `rows` order, instead of `BatchPlan.rows`
   * (which then stays empty). For a caller that only encodes the rows: building 40,000 row objects
   * for a 10,000-wager batch was most of the planner's time, in allocation and garbage collection.
   */
  readonly onRow?: LedgerRowSink;
}

/**
 * One ledger row, by its parts: the wager's fields come from `wager` (`eventId`, `amountMinor` as
 * `wagerMinor`, `currency` as `wagerCurrency`, `occurredAt`, `gameId`, `playerId`), the rest as in
 * `LedgerRow`. Rows of one wager come one after another, with the same `wager` object.
 */
export type LedgerRowSink = (
  wager: Wager,
  fxRateMicro: bigint | null,
  poolId: string,
  cycle: number,
  contributionMicro: bigint,
  overflowMicro: bigint,
  reserveMicro: bigint,
) => void;

/** One row of `jackpot.contributions`: one applied wager and one pool. */
export interface LedgerRow {
  readonly eventId: string;
  readonly poolId: string;
  /** The cycle the contribution is booked to: the paid one for the wager that hits a trigger. */
  readonly cycle: number;
  /** As sent, in the wager's currency. */
  readonly wagerMinor: number;
  readonly wagerCurrency: string;
  /** The rate used when the wager's currency is not the jackpot's; null when it is. */
  readonly fxRateMicro: bigint | null;
  /** Added to the cycle's amount (at most the room under the ceiling). */
  readonly contributionMicro: bigint;
  /** The part of the contribution above the ceiling; where it went is the cycle's policy. */
  readonly overflowMicro: bigint;
  readonly reserveMicro: bigint;
  readonly occurredAt: string;
  readonly gameId: string;
  readonly playerId: string;
}

/**
 * What a batch adds to one cycle of one pool: the sum of its ledger rows. The amount of the cycle
 * grows by `contributionMicro`; the reserve by `reserveMicro`, plus `overflowMicro` when
 * `overflowTo` is `reserve`; the held next carry by `overflowMicro` when it is `next-cycle`.
 * Seeds funded by the reserve and carries are in `openings`; the pool's end state is in `states`.
 */
export interface PoolDelta {
  readonly poolId: string;
  readonly cycle: number;
  readonly wagers: number;
  /** Σ `wagerMinor`: in the wagers' own currencies, so it mixes currencies once rates are used. */
  readonly wageredMinor: bigint;
  /** Σ of the wagers' values in micro-units of the jackpot's currency (converted where needed). */
  readonly wageredMicro: bigint;
  readonly contributionMicro: bigint;
  readonly overflowMicro: bigint;
  /** The cycle's overflow policy when `overflowMicro > 0n`, else null. */
  readonly overflowTo: Overflow | null;
  readonly reserveMicro: bigint;
}

/** A mystery payout: the wager `ref` took the pool's amount to its trigger. */
export interface MysteryWin {
  readonly poolId: string;
  /** The paid cycle. */
  readonly cycle: number;
  readonly kind: 'mystery';
  /** Exactly the trigger. */
  readonly payoutMicro: bigint;
  readonly ref: number;
  readonly eventId: string;
  readonly gameId: string;
  readonly playerId: string;
}

export interface Rejection {
  readonly ref: number;
  readonly reason: ReasonCode;
  readonly message: string;
}

export interface BatchPlan {
  /** In wager order, then poolId order within a wager. Empty when `BatchInput.onRow` took them. */
  readonly rows: LedgerRow[];
  /** Sorted by poolId, then cycle: apply in this order so concurrent writers lock pools alike. */
  readonly deltas: PoolDelta[];
  /** In wager order. For the dead-letter topic and table. */
  readonly rejected: Rejection[];
  /** Refs of later copies of an eventId already applied (in this batch or `seen`). Not dead letters. */
  readonly duplicates: number[];
  /** Mystery hits, in wager order then poolId order. `wins[i]` goes with `closes[i]` and `openings[i]`. */
  readonly wins: MysteryWin[];
  /** The paid cycles' ends, in the order of `wins`. */
  readonly closes: (CycleClose & { readonly poolId: string })[];
  /** The cycles started by those wins, in the order of `wins`. */
  readonly openings: (CycleOpening & { readonly poolId: string })[];
  /** Every input state; the pools the batch reached are replaced by their state after it. The input map is not modified. */
  readonly states: Map<string, PoolLifecycleState>;
}

/** Code-unit order, the same on every machine (unlike `localeCompare`). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface MutableDelta {
  poolId: string;
  cycle: number;
  wagers: number;
  wageredMinor: bigint;
  wageredMicro: bigint;
  contributionMicro: bigint;
  overflowMicro: bigint;
  overflowTo: Overflow | null;
  reserveMicro: bigint;
}

/** Checks a loaded state (a loading bug throws): valid parameters, and a trigger exactly in a mystery cycle. */
function checkState(state: PoolLifecycleState): void {
  checkCycleParams(state.params);
  if ((state.triggerMicro === null) !== (state.params.mustHitByMicro === null)) {
    throw new Error(
      `pool ${JSON.stringify(state.poolId)}: a trigger is loaded exactly when the cycle's parameters have mustHitByMicro`,
    );
  }
}

/** A pool the batch has reached: its state, updated in place wager by wager. */
interface Working {
  readonly poolId: string;
  readonly state: WorkingState;
  /** The cycle parameters `cPpm` and `rPpm` were taken from (a new cycle brings new ones). */
  params: CycleParams;
  cPpm: bigint;
  rPpm: bigint;
  /** The sums of the cycle being booked to, so that most rows need no map lookup. */
  delta: MutableDelta | undefined;
}

const NO_RATES: FxRates = new Map();

/** Why `wager` cannot be applied with `link` (none: its game is not linked; else its currency). */
function rejection(wager: Wager, ref: number, link: GameLink | undefined): Rejection {
  return link === undefined
    ? {
        ref,
        reason: 'unknown_game',
        message: `gameId ${JSON.stringify(wager.gameId)} is not linked to a jackpot`,
      }
    : {
        ref,
        reason: 'currency_mismatch',
        message: `currency ${wager.currency} is not the currency of jackpot ${JSON.stringify(link.jackpotId)} (${link.currency}) and no rate ${wager.currency}>${link.currency} is configured`,
      };
}

/**
 * The wagers `planBatch` will reject, exactly as it will (same order, reasons and messages), from
 * the links and rates alone: each wager is judged on its own, so no pool states, no seen ids and
 * no other wager are needed. The aggregator screens a window with this before it claims event ids,
 * so that only wagers that can apply claim theirs. The pools of the links are not read.
 */
export function screenBatch(input: Pick<BatchInput, 'wagers' | 'links' | 'fxRates'>): Rejection[] {
  const fxRates = input.fxRates ?? NO_RATES;
  const rejected: Rejection[] = [];
  for (const { wager, ref } of input.wagers) {
    const link = input.links.get(wager.gameId);
    if (link === undefined || !canValueIn(wager.currency, link.currency, fxRates))
      rejected.push(rejection(wager, ref, link));
  }
  return rejected;
}

/**
 * Plans a batch: which wagers are applied, the ledger rows, the per-cycle sums, the mystery wins
 * with the cycles they close and open, and the pool states after it. Pure and deterministic: the
 * same input (and the same answers from `drawTriggerMinor`) gives the same plan.
 *
 * - A game with no link is `unknown_game`; a currency other than the jackpot's with no rate in
 *   `fxRates` is `currency_mismatch`. With a rate, the wager is converted (see `fx.ts`).
 * - A wager is judged on its own first (`screenBatch`): a rejected one is rejected whatever its
 *   eventId, as a wager that fails parsing is, and does not claim its eventId, so a later copy is
 *   judged on its own, as it would be had it arrived in a later batch.
 * - Among the others, the same eventId twice: the first copy counts, later copies (and ids in
 *   `seen`) are `duplicates`.
 * - Each applied wager goes through `contributeInPlace` (lifecycle.ts) for each pool of its jackpot, in
 *   poolId order: the ceiling rule, then the mystery trigger. A hit closes the cycle, opens the
 *   next one on the pool's `nextParams`, and the next wager in the batch is booked to it.
 *
 * Throws an Error on a loading bug, not a bad wager: a reached pool with no state, parameters that
 * fail `checkCycleParams`, a mystery cycle without `nextParams`, or without `drawTriggerMinor`
 * when the next cycle would need a trigger.
 */
export function planBatch(input: BatchInput): BatchPlan {
  const states = new Map(input.states);
  const fxRates = input.fxRates ?? NO_RATES;
  const draw = input.drawTriggerMinor ?? null;
  const onRow = input.onRow;
  const rows: LedgerRow[] = [];
  const rejected: Rejection[] = [];
  const duplicates: number[] = [];
  const wins: MysteryWin[] = [];
  const closes: (CycleClose & { poolId: string })[] = [];
  const openings: (CycleOpening & { poolId: string })[] = [];
  const applied = new Set<string>();
  const working = new Map<string, Working>();
  const sortedPools = new Map<GameLink, PoolParams[]>();
  const deltas = new Map<string, Map<number, MutableDelta>>();

  for (const { wager, ref } of input.wagers) {
    const link = input.links.get(wager.gameId);
    // Checks amountMinor (a safe non-negative integer), so the BigInt below is exact.
    const value =
      link === undefined
        ? null
        : valueInJackpotCurrency(wager.amountMinor, wager.currency, link.currency, fxRates);
    if (link === undefined || value === null) {
      rejected.push(rejection(wager, ref, link));
      continue;
    }
    if (applied.has(wager.eventId) || input.seen?.has(wager.eventId) === true) {
      duplicates.push(ref);
      continue;
    }
    applied.add(wager.eventId);
    const amountMinor = BigInt(wager.amountMinor);

    let pools = sortedPools.get(link);
    if (pools === undefined) {
      pools = [...link.pools].sort((a, b) => compareStrings(a.poolId, b.poolId));
      sortedPools.set(link, pools);
    }
    for (const pool of pools) {
      let w = working.get(pool.poolId);
      if (w === undefined) {
        const before = states.get(pool.poolId);
        if (before === undefined) {
          throw new Error(
            `no state loaded for pool ${JSON.stringify(pool.poolId)} of game ${JSON.stringify(wager.gameId)}`,
          );
        }
        checkState(before);
        if (pool.nextParams !== undefined) checkCycleParams(pool.nextParams);
        w = {
          poolId: pool.poolId,
          state: {
            cycle: before.cycle,
            amountMicro: before.amountMicro,
            reserveMicro: before.reserveMicro,
            nextCarryMicro: before.nextCarryMicro,
            triggerMicro: before.triggerMicro,
            params: before.params,
          },
          params: before.params,
          cPpm: BigInt(before.params.contributionPpm),
          rPpm: BigInt(before.params.reservePpm),
          delta: undefined,
        };
        working.set(pool.poolId, w);
      }
      const state = w.state;
      // Checked on every reach, whatever the amounts, so a loading bug cannot hide until a hit.
      if (state.triggerMicro !== null) {
        if (pool.nextParams === undefined) {
          throw new Error(
            `pool ${JSON.stringify(pool.poolId)} is in a mystery cycle, but no nextParams were loaded`,
          );
        }
        if (pool.nextParams.mustHitByMicro !== null && draw === null) {
          throw new Error(
            `pool ${JSON.stringify(pool.poolId)} may start a mystery cycle, but no drawTriggerMinor was given`,
          );
        }
      }
      if (w.params !== state.params) {
        w.params = state.params;
        w.cPpm = BigInt(state.params.contributionPpm);
        w.rPpm = BigInt(state.params.reservePpm);
      }

      // Same currency: amountMinor × ppm, exact (what shareMicro gives too, by a shorter road).
      const c =
        value.fxRateMicro === null
          ? amountMinor * w.cPpm
          : shareMicro(value.wagerMicro, state.params.contributionPpm);
      const r =
        value.fxRateMicro === null
          ? amountMinor * w.rPpm
          : shareMicro(value.wagerMicro, state.params.reservePpm);
      const step = contributeInPlace(state, c, r, pool.nextParams ?? null, draw);
      if (onRow !== undefined) {
        onRow(wager, value.fxRateMicro, pool.poolId, step.cycle, step.toPoolMicro, step.overflowMicro, r);
      } else {
        rows.push({
          eventId: wager.eventId,
          poolId: pool.poolId,
          cycle: step.cycle,
          wagerMinor: wager.amountMinor,
          wagerCurrency: wager.currency,
          fxRateMicro: value.fxRateMicro,
          contributionMicro: step.toPoolMicro,
          overflowMicro: step.overflowMicro,
          reserveMicro: r,
          occurredAt: wager.occurredAt,
          gameId: wager.gameId,
          playerId: wager.playerId,
        });
      }
      if (step.hit !== null) {
        wins.push({
          poolId: pool.poolId,
          cycle: step.hit.close.cycle,
          kind: 'mystery',
          payoutMicro: step.hit.close.payoutMicro,
          ref,
          eventId: wager.eventId,
          gameId: wager.gameId,
          playerId: wager.playerId,
        });
        closes.push({ poolId: pool.poolId, ...step.hit.close });
        openings.push({ poolId: pool.poolId, ...step.hit.opening });
      }

      let delta = w.delta;
      if (delta === undefined || delta.cycle !== step.cycle) {
        let byCycle = deltas.get(pool.poolId);
        if (byCycle === undefined) {
          byCycle = new Map();
          deltas.set(pool.poolId, byCycle);
        }
        delta = byCycle.get(step.cycle);
        if (delta === undefined) {
          delta = {
            poolId: pool.poolId,
            cycle: step.cycle,
            wagers: 0,
            wageredMinor: 0n,
            wageredMicro: 0n,
            contributionMicro: 0n,
            overflowMicro: 0n,
            overflowTo: null,
            reserveMicro: 0n,
          };
          byCycle.set(step.cycle, delta);
        }
        w.delta = delta;
      }
      delta.wagers += 1;
      delta.wageredMinor += amountMinor;
      delta.wageredMicro += value.wagerMicro;
      delta.contributionMicro += step.toPoolMicro;
      // Sums of zero skipped (no overflow under a ceiling's room, or none configured; no reserve
      // share): a BigInt sum is a new heap object, for every share of the window.
      if (step.overflowMicro !== 0n) delta.overflowMicro += step.overflowMicro;
      delta.overflowTo ??= step.overflowTo;
      if (r !== 0n) delta.reserveMicro += r;
    }
  }

  for (const w of working.values()) {
    const s = w.state;
    const after: PoolLifecycleState = {
      poolId: w.poolId,
      cycle: s.cycle,
      amountMicro: s.amountMicro,
      reserveMicro: s.reserveMicro,
      nextCarryMicro: s.nextCarryMicro,
      triggerMicro: s.triggerMicro,
      params: s.params,
    };
    states.set(w.poolId, after);
  }

  const sortedDeltas = [...deltas.values()]
    .flatMap((byCycle) => [...byCycle.values()])
    .sort((a, b) => compareStrings(a.poolId, b.poolId) || a.cycle - b.cycle);
  return { rows, deltas: sortedDeltas, rejected, duplicates, wins, closes, openings, states };
}
