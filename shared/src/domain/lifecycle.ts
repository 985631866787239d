/**
 * The life of a pool: cycles, the ceiling and its overflow, mystery triggers, wins and the reseed
 * that starts the next cycle. All money in micro-units (BigInt). Pure: the random draw of a
 * mystery trigger is passed in (the edge uses a CSPRNG; tests use a table or a seeded generator).
 *
 * The product's rules:
 * - **Parameters** of a cycle are frozen when it starts. The next cycle takes the pool's parameters
 *   as configured at the moment it starts (`next`), so a configuration change never alters a
 *   running cycle.
 * - **State** of a pool: the visible `amountMicro`; the hidden `reserveMicro` that funds the next
 *   seed; `nextCarryMicro`, overflow held for the next cycle; the hidden mystery `triggerMicro`.
 * - **Contribution with a ceiling**: `c` (the visible share) goes to the amount up to the ceiling:
 *   `room = max(0, ceiling − amount)`, `toPool = min(c, room)`; the rest, `overflow = c − toPool`,
 *   goes to the reserve (policy `reserve`) or is held for the next cycle (policy `next-cycle`). The
 *   reserve share `r` always goes to the reserve.
 * - **Mystery**: when a cycle starts, a trigger `T` is drawn uniformly in whole minor units between
 *   the seed and `mustHitBy`. The wager whose contribution takes the amount to `T` or above wins
 *   exactly `T`; its whole contribution is booked to the paid cycle; what it took the amount past
 *   `T` is carried into the next cycle, which the following wager already belongs to.
 * - **Claim** (a win reported by a game): pays the whole minor units of the amount; the fraction
 *   of a minor unit carries into the next cycle.
 * - **Next cycle**: the seed is funded from the reserve; what the reserve cannot fund is the
 *   operator's top-up. The new amount is the seed plus what is carried in (the win's carry and the
 *   held overflow).
 *
 * Invariants (tested as properties):
 * - per cycle: seed + carried in + contributions booked to it = amount; at its close,
 *   = payout + carried out;
 * - money is conserved: contributions to the amount + overflow + reserve shares + top-ups =
 *   payouts + amount + reserve + next carry.
 */

import { displayMinor, MICRO_PER_MINOR, PPM_MAX } from './contribution.js';
import type { OverflowPolicy, PoolConfig } from './jackpot-config.js';

/** Where the part of a contribution above the ceiling goes. */
export type Overflow = OverflowPolicy;

/**
 * Draws a mystery trigger in whole minor units, uniformly in `[lowMinor, highMinor]` (both
 * included). The edge passes a CSPRNG-backed function: a predictable trigger could be exploited.
 */
export type DrawTriggerMinor = (lowMinor: bigint, highMinor: bigint) => bigint;

/** A pool's parameters for one cycle, frozen when the cycle starts. */
export interface CycleParams {
  /** The reset value the cycle starts at (before what is carried in). */
  readonly seedMicro: bigint;
  readonly contributionPpm: number;
  readonly reservePpm: number;
  /** Cap on the visible amount; null: uncapped. Set together with `overflow`. */
  readonly ceilingMicro: bigint | null;
  readonly overflow: Overflow | null;
  /** Mystery pool: the amount by which it must have paid out; null: not a mystery pool. */
  readonly mustHitByMicro: bigint | null;
}

/** A pool between wagers: the cycle being filled and everything the pool holds. */
export interface LifecycleState {
  readonly cycle: number;
  /** Visible: seed + carried in + contributions booked to this cycle. */
  readonly amountMicro: bigint;
  /** Hidden: reserve shares and `reserve` overflow, less the seeds it funded. */
  readonly reserveMicro: bigint;
  /** Overflow of policy `next-cycle`, held until the next cycle starts, then carried into it. */
  readonly nextCarryMicro: bigint;
  /** Hidden mystery trigger of this cycle (whole minor units, in micro); null: not a mystery cycle. */
  readonly triggerMicro: bigint | null;
  /** The parameters of this cycle. */
  readonly params: CycleParams;
}

/** A cycle's start, for `jackpot.pool_cycles`, `jackpot.pool_triggers` and `jackpot.topups`. */
export interface CycleOpening {
  readonly cycle: number;
  readonly seedMicro: bigint;
  /** The carry of the win that closed the previous cycle plus the held overflow. */
  readonly carriedInMicro: bigint;
  /** What the operator puts in because the reserve could not fund the seed (the whole seed for cycle 1). */
  readonly topUpMicro: bigint;
  readonly triggerMicro: bigint | null;
  readonly params: CycleParams;
}

/** A cycle's end by a win: `amountMicro = payoutMicro + carriedOutMicro`. */
export interface CycleClose {
  readonly cycle: number;
  readonly payoutMicro: bigint;
  readonly carriedOutMicro: bigint;
  /** The amount just before the payout. */
  readonly amountMicro: bigint;
}

/**
 * Checks parameters the way the configuration API does, so that bad rows loaded from the database
 * fail loudly here instead of producing a pool that never pays or cannot be reseeded. Throws a
 * RangeError naming the field.
 */
export function checkCycleParams(params: CycleParams): void {
  const fail = (message: string): never => {
    throw new RangeError(`invalid cycle parameters: ${message}`);
  };
  if (params.seedMicro < 0n) fail(`seedMicro must be non-negative, got ${params.seedMicro}`);
  for (const [name, ppm] of [
    ['contributionPpm', params.contributionPpm],
    ['reservePpm', params.reservePpm],
  ] as const) {
    if (!Number.isInteger(ppm) || ppm < 0 || ppm > PPM_MAX) {
      fail(`${name} must be an integer from 0 to ${PPM_MAX}, got ${ppm}`);
    }
  }
  if (params.contributionPpm + params.reservePpm > PPM_MAX) {
    fail(`contributionPpm + reservePpm must be at most ${PPM_MAX}`);
  }
  if ((params.ceilingMicro === null) !== (params.overflow === null)) {
    fail('ceilingMicro and overflow are set together or both null');
  }
  if (params.ceilingMicro !== null && params.ceilingMicro <= 0n) {
    fail(`ceilingMicro must be positive, got ${params.ceilingMicro}`);
  }
  if (params.mustHitByMicro !== null) {
    const { low, high } = triggerRangeMinor(params.seedMicro, params.mustHitByMicro);
    if (low > high) {
      fail(
        `mustHitByMicro (${params.mustHitByMicro}) leaves no whole minor unit from the seed (${params.seedMicro})`,
      );
    }
    // Above the ceiling the amount could never reach the trigger and the pool would never pay.
    if (params.ceilingMicro !== null && params.mustHitByMicro > params.ceilingMicro) {
      fail(`mustHitByMicro (${params.mustHitByMicro}) must be at most ceilingMicro (${params.ceilingMicro})`);
    }
  }
}

/** A pool's configuration (minor units) as the parameters of a cycle (micro-units). */
export function cycleParamsFromConfig(pool: PoolConfig): CycleParams {
  const micro = (minor: number): bigint => BigInt(minor) * MICRO_PER_MINOR;
  return {
    seedMicro: micro(pool.seedMinor),
    contributionPpm: pool.contributionPpm,
    reservePpm: pool.reservePpm,
    ceilingMicro: pool.ceilingMinor === null ? null : micro(pool.ceilingMinor),
    overflow: pool.overflow,
    mustHitByMicro: pool.mustHitByMinor === null ? null : micro(pool.mustHitByMinor),
  };
}

/** Whole minor units from the seed (rounded up) to must-hit-by (rounded down). */
function triggerRangeMinor(seedMicro: bigint, mustHitByMicro: bigint): { low: bigint; high: bigint } {
  return { low: -displayMinor(-seedMicro), high: displayMinor(mustHitByMicro) };
}

/**
 * The trigger of a cycle with these parameters, in micro-units (a whole number of minor units), or
 * null for a pool that is not a mystery pool (then `draw` is not called). Throws a RangeError when
 * `draw` answers outside the range it was given: a broken generator must not decide a payout.
 */
export function drawTriggerMicro(params: CycleParams, draw: DrawTriggerMinor | null): bigint | null {
  if (params.mustHitByMicro === null) return null;
  if (draw === null) throw new Error('a mystery cycle starts, but no drawTriggerMinor was given');
  const { low, high } = triggerRangeMinor(params.seedMicro, params.mustHitByMicro);
  const t = draw(low, high);
  if (typeof t !== 'bigint' || t < low || t > high) {
    throw new RangeError(`drawTriggerMinor(${low}, ${high}) returned ${String(t)}, outside the range`);
  }
  return t * MICRO_PER_MINOR;
}

/** How one contribution splits at the ceiling. */
export interface ContributionSplit {
  /** Booked to the cycle: added to the visible amount. */
  readonly toPoolMicro: bigint;
  /** What did not fit under the ceiling. */
  readonly overflowMicro: bigint;
  /** Where `overflowMicro` went; null when it is 0. */
  readonly overflowTo: Overflow | null;
}

/**
 * The ceiling rule: `room = max(0, ceiling − amount)`, `toPool = min(c, room)`, `overflow = c −
 * toPool`, sent where the cycle's policy says. Without a ceiling everything goes to the pool. The
 * amount can start above the ceiling (a large carry into the cycle); then the room is 0.
 */
export function splitContribution(
  amountMicro: bigint,
  contributionMicro: bigint,
  params: Pick<CycleParams, 'ceilingMicro' | 'overflow'>,
): ContributionSplit {
  if (contributionMicro < 0n)
    throw new RangeError(`contributionMicro must be non-negative, got ${contributionMicro}`);
  if (params.ceilingMicro === null) {
    return { toPoolMicro: contributionMicro, overflowMicro: 0n, overflowTo: null };
  }
  if (params.overflow === null) throw new RangeError('a ceiling needs an overflow policy');
  const room = params.ceilingMicro > amountMicro ? params.ceilingMicro - amountMicro : 0n;
  const toPool = contributionMicro < room ? contributionMicro : room;
  const overflow = contributionMicro - toPool;
  return {
    toPoolMicro: toPool,
    overflowMicro: overflow,
    overflowTo: overflow === 0n ? null : params.overflow,
  };
}

/**
 * The first cycle of a new pool: amount = seed, an empty reserve, and the whole seed is the
 * operator's top-up (`reason = 'initial-seed'`).
 */
export function openFirstCycle(
  params: CycleParams,
  drawTriggerMinor: DrawTriggerMinor | null,
): { state: LifecycleState; opening: CycleOpening } {
  checkCycleParams(params);
  const triggerMicro = drawTriggerMicro(params, drawTriggerMinor);
  return {
    state: {
      cycle: 1,
      amountMicro: params.seedMicro,
      reserveMicro: 0n,
      nextCarryMicro: 0n,
      triggerMicro,
      params,
    },
    opening: {
      cycle: 1,
      seedMicro: params.seedMicro,
      carriedInMicro: 0n,
      topUpMicro: params.seedMicro,
      triggerMicro,
      params,
    },
  };
}

/**
 * Starts the cycle after a win whose payout left `carryMicro` of the amount. The seed comes out of
 * the reserve as far as it goes (`reserve ≥ seed`: reserve −= seed, no top-up; else the top-up is
 * `seed − reserve` and the reserve is emptied); the new amount is `seed + carry + nextCarry`, and
 * the held overflow is reset. The new cycle runs on `next` (the pool's configuration now) and
 * draws its trigger if `next` is a mystery pool.
 *
 * The caller has closed the previous cycle: `state.amountMicro` is replaced, not added to.
 */
export function openNextCycle<S extends LifecycleState>(
  state: S,
  next: CycleParams,
  carryMicro: bigint,
  drawTriggerMinor: DrawTriggerMinor | null,
): { state: S; opening: CycleOpening } {
  checkCycleParams(next);
  if (carryMicro < 0n) throw new RangeError(`carryMicro must be non-negative, got ${carryMicro}`);
  const seed = next.seedMicro;
  const fromReserve = state.reserveMicro >= seed ? seed : state.reserveMicro;
  const topUp = seed - fromReserve;
  const carriedIn = carryMicro + state.nextCarryMicro;
  const triggerMicro = drawTriggerMicro(next, drawTriggerMinor);
  const cycle = state.cycle + 1;
  return {
    state: {
      ...state,
      cycle,
      amountMicro: seed + carriedIn,
      reserveMicro: state.reserveMicro - fromReserve,
      nextCarryMicro: 0n,
      triggerMicro,
      params: next,
    },
    opening: {
      cycle,
      seedMicro: seed,
      carriedInMicro: carriedIn,
      topUpMicro: topUp,
      triggerMicro,
      params: next,
    },
  };
}

/** A claim pays the whole minor units of the amount; the fraction carries into the next cycle. */
export function claimPayout(amountMicro: bigint): { payoutMicro: bigint; carryMicro: bigint } {
  if (amountMicro < 0n) throw new RangeError(`amountMicro must be non-negative, got ${amountMicro}`);
  const payoutMicro = displayMinor(amountMicro) * MICRO_PER_MINOR;
  return { payoutMicro, carryMicro: amountMicro - payoutMicro };
}

/**
 * A claim win (`POST /v1/wins`): closes the current cycle with `claimPayout` and opens the next
 * one on `next`. Works on any pool, a mystery pool included (its trigger is simply redrawn).
 */
export function claimWin<S extends LifecycleState>(
  state: S,
  next: CycleParams,
  drawTriggerMinor: DrawTriggerMinor | null,
): { state: S; close: CycleClose; opening: CycleOpening } {
  const { payoutMicro, carryMicro } = claimPayout(state.amountMicro);
  const close: CycleClose = {
    cycle: state.cycle,
    payoutMicro,
    carriedOutMicro: carryMicro,
    amountMicro: state.amountMicro,
  };
  return { ...openNextCycle(state, next, carryMicro, drawTriggerMinor), close };
}

/** One wager's effect on one pool (whose state `contributeInPlace` has updated). */
export interface ContributionStep extends ContributionSplit {
  /** The cycle the contribution is booked to (the paid one, when it hit). */
  readonly cycle: number;
  /** Set when this wager hit the mystery trigger: the paid cycle's close and the next one's start. */
  readonly hit: { readonly close: CycleClose; readonly opening: CycleOpening } | null;
}

/** A pool's state while a batch is planned: the fields of `LifecycleState`, updated in place. */
export type WorkingState = { -readonly [K in keyof LifecycleState]: LifecycleState[K] };

/**
 * Applies one wager's shares to a pool's working state, in place, in this order: the contribution
 * is split at the ceiling (`splitContribution`), the reserve share and any `reserve` overflow go
 * to the reserve, any `next-cycle` overflow is held; then, in a mystery cycle, if the amount is now at or above the
 * trigger, this wager wins: the payout is exactly the trigger, the rest of the amount is carried
 * out, and the next cycle opens on `next` (`openNextCycle`). The winning wager's reserve share
 * and overflow therefore count before the new seed is funded, and its `next-cycle` overflow is
 * carried into the new cycle.
 *
 * "At or above", not only "crossing from below": the amount is below the trigger after every
 * wager, except when what is carried into a new cycle already reaches its trigger; then the first
 * wager to reach the pool wins (even one that contributes 0), so a mystery pool always pays. A
 * wager wins a pool at most once: the new cycle's trigger is judged from the next wager on.
 *
 * The batch planner runs it for every wager and pool: building a new state object per call (an
 * object spread with overrides) cost V8 several microseconds each, most of a window's planning
 * time.
 *
 * Throws when the cycle is a mystery cycle and `next` is null (a loading bug), or when the state
 * and its parameters disagree about being a mystery cycle. After a throw the working state is
 * half-updated; the planner then abandons the whole plan.
 */
export function contributeInPlace(
  state: WorkingState,
  contributionMicro: bigint,
  reserveShareMicro: bigint,
  next: CycleParams | null,
  drawTriggerMinor: DrawTriggerMinor | null,
): ContributionStep {
  if ((state.triggerMicro === null) !== (state.params.mustHitByMicro === null)) {
    throw new Error(
      `cycle ${state.cycle}: a trigger is set exactly when the cycle's parameters have mustHitByMicro`,
    );
  }
  if (reserveShareMicro < 0n)
    throw new RangeError(`reserveShareMicro must be non-negative, got ${reserveShareMicro}`);
  const split = splitContribution(state.amountMicro, contributionMicro, state.params);
  const amountMicro = state.amountMicro + split.toPoolMicro;
  const cycle = state.cycle;
  state.amountMicro = amountMicro;
  // Sums of zero skipped: every BigInt sum is a new heap object, and this runs for every share.
  if (split.overflowTo === 'reserve') state.reserveMicro += reserveShareMicro + split.overflowMicro;
  else if (reserveShareMicro !== 0n) state.reserveMicro += reserveShareMicro;
  if (split.overflowTo === 'next-cycle') state.nextCarryMicro += split.overflowMicro;
  const trigger = state.triggerMicro;
  if (trigger === null || amountMicro < trigger) {
    return {
      toPoolMicro: split.toPoolMicro,
      overflowMicro: split.overflowMicro,
      overflowTo: split.overflowTo,
      cycle,
      hit: null,
    };
  }
  if (next === null) throw new Error(`cycle ${cycle} hit its trigger, but no next parameters were given`);
  const close: CycleClose = {
    cycle,
    payoutMicro: trigger,
    carriedOutMicro: amountMicro - trigger,
    amountMicro,
  };
  const opened = openNextCycle(state, next, close.carriedOutMicro, drawTriggerMinor);
  state.cycle = opened.state.cycle;
  state.amountMicro = opened.state.amountMicro;
  state.reserveMicro = opened.state.reserveMicro;
  state.nextCarryMicro = opened.state.nextCarryMicro;
  state.triggerMicro = opened.state.triggerMicro;
  state.params = opened.state.params;
  return {
    toPoolMicro: split.toPoolMicro,
    overflowMicro: split.overflowMicro,
    overflowTo: split.overflowTo,
    cycle,
    hit: { close, opening: opened.opening },
  };
}
