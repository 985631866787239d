/**
 * The cycle rules (domain/lifecycle.ts). Organised as: hand-computed cases, one test per rule
 * (split, contribute, claim, open a cycle, mystery, parameter checks), then, below the
 * "properties over whole streams" line, a random-stream model and the properties run on it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  checkCycleParams,
  claimPayout,
  claimWin,
  contributeInPlace,
  cycleParamsFromConfig,
  drawTriggerMicro,
  fxRateKey,
  openFirstCycle,
  openNextCycle,
  planBatch,
  shareMicro,
  splitContribution,
  type BatchWager,
  type CycleClose,
  type CycleOpening,
  type ContributionStep,
  type CycleParams,
  type DrawTriggerMinor,
  type GameLink,
  type LifecycleState,
  type PoolLifecycleState,
} from '../../../shared/src/domain/index.js';
import { scripted } from '../../helpers/scripted-draw.js';

/** `contributeInPlace` on a copy: the state after the wager, the caller's left as it was. */
function contribute<S extends LifecycleState>(
  state: S,
  contributionMicro: bigint,
  reserveShareMicro: bigint,
  next: CycleParams | null,
  drawTriggerMinor: DrawTriggerMinor | null,
): ContributionStep & { readonly state: S } {
  const work = {
    cycle: state.cycle,
    amountMicro: state.amountMicro,
    reserveMicro: state.reserveMicro,
    nextCarryMicro: state.nextCarryMicro,
    triggerMicro: state.triggerMicro,
    params: state.params,
  };
  const step = contributeInPlace(work, contributionMicro, reserveShareMicro, next, drawTriggerMinor);
  return { ...step, state: { ...state, ...work } };
}

/** Micro-units per minor unit, to write amounts as `12n * M`. */
const M = 1_000_000n;

function params(over: Partial<CycleParams> = {}): CycleParams {
  return {
    seedMicro: 1_000n * M,
    contributionPpm: 10_000,
    reservePpm: 2_000,
    ceilingMicro: null,
    overflow: null,
    mustHitByMicro: null,
    ...over,
  };
}

function state(over: Partial<LifecycleState> = {}): LifecycleState {
  return {
    cycle: 4,
    amountMicro: 1_500n * M,
    reserveMicro: 0n,
    nextCarryMicro: 0n,
    triggerMicro: null,
    params: params(),
    ...over,
  };
}

const noDraw: DrawTriggerMinor = () => {
  throw new Error('no draw expected');
};

void test('splitContribution: the ceiling rule, both policies', () => {
  // [amount, contribution, ceiling, policy] → [toPool, overflow, overflowTo]
  const table: [
    bigint,
    bigint,
    bigint | null,
    'reserve' | 'next-cycle' | null,
    bigint,
    bigint,
    string | null,
  ][] = [
    [5n, 10n, null, null, 10n, 0n, null], // no ceiling: everything to the pool
    [40n, 50n, 100n, 'reserve', 50n, 0n, null], // fits
    [50n, 50n, 100n, 'reserve', 50n, 0n, null], // fills the room exactly
    [80n, 50n, 100n, 'reserve', 20n, 30n, 'reserve'], // fills the last room, the rest overflows
    [80n, 50n, 100n, 'next-cycle', 20n, 30n, 'next-cycle'],
    [100n, 50n, 100n, 'reserve', 0n, 50n, 'reserve'], // at the ceiling: entirely overflows
    [100n, 50n, 100n, 'next-cycle', 0n, 50n, 'next-cycle'],
    [130n, 7n, 100n, 'reserve', 0n, 7n, 'reserve'], // above it (carried in): no room, not negative
    [99n, 0n, 100n, 'reserve', 0n, 0n, null], // nothing to split
  ];
  for (const [amount, c, ceiling, policy, toPool, overflow, to] of table) {
    assert.deepEqual(
      splitContribution(amount, c, { ceilingMicro: ceiling, overflow: policy }),
      { toPoolMicro: toPool, overflowMicro: overflow, overflowTo: to },
      `${amount} + ${c} under ${ceiling} (${policy})`,
    );
  }
  assert.throws(() => splitContribution(1n, 1n, { ceilingMicro: 10n, overflow: null }), RangeError);
  assert.throws(() => splitContribution(1n, -1n, { ceilingMicro: null, overflow: null }), RangeError);
});

void test('contribute: where the shares and the overflow go', () => {
  const capped = (overflow: 'reserve' | 'next-cycle'): CycleParams =>
    params({ ceilingMicro: 2_000n * M, overflow });
  // [state, c, r] → [amount, reserve, nextCarry, toPool, overflow]
  const table: [string, LifecycleState, bigint, bigint, bigint, bigint, bigint, bigint, bigint][] = [
    ['uncapped', state({ reserveMicro: 9n }), 3n * M, 2n, 1_503n * M, 11n, 0n, 3n * M, 0n],
    [
      'reserve: last room filled, rest to the reserve',
      state({ amountMicro: 1_999n * M, reserveMicro: 10n, params: capped('reserve') }),
      3n * M,
      5n,
      2_000n * M,
      10n + 5n + 2n * M,
      0n,
      1n * M,
      2n * M,
    ],
    [
      'next-cycle: last room filled, rest held',
      state({ amountMicro: 1_999n * M, reserveMicro: 10n, nextCarryMicro: 4n, params: capped('next-cycle') }),
      3n * M,
      5n,
      2_000n * M,
      15n,
      4n + 2n * M,
      1n * M,
      2n * M,
    ],
    [
      'next-cycle: at the ceiling, all of it held',
      state({ amountMicro: 2_000n * M, params: capped('next-cycle') }),
      3n * M,
      0n,
      2_000n * M,
      0n,
      3n * M,
      0n,
      3n * M,
    ],
  ];
  for (const [name, before, c, r, amount, reserve, nextCarry, toPool, overflow] of table) {
    const step = contribute(before, c, r, null, null);
    assert.equal(step.hit, null, name);
    assert.equal(step.cycle, before.cycle, name);
    assert.deepEqual(
      [
        step.state.amountMicro,
        step.state.reserveMicro,
        step.state.nextCarryMicro,
        step.toPoolMicro,
        step.overflowMicro,
      ],
      [amount, reserve, nextCarry, toPool, overflow],
      name,
    );
    assert.equal(step.state.cycle, before.cycle, name);
  }
});

void test('claimPayout: whole minor units paid, the fraction carried', () => {
  const table: [bigint, bigint, bigint][] = [
    [12_345_678_901n, 12_345_000_000n, 678_901n], // pays 12,345 minor, carries 678,901 micro
    [0n, 0n, 0n],
    [999_999n, 0n, 999_999n],
    [1_000_000n, 1_000_000n, 0n],
    [1_000_001n, 1_000_000n, 1n],
  ];
  for (const [amount, payout, carry] of table) {
    assert.deepEqual(claimPayout(amount), { payoutMicro: payout, carryMicro: carry }, `${amount}`);
  }
  assert.throws(() => claimPayout(-1n), RangeError);
});

void test('openNextCycle: the seed from the reserve, else the top-up; carries in', () => {
  const next = params({ seedMicro: 500n * M, contributionPpm: 30_000 });
  // [reserve, nextCarry, carry] → [reserve after, topUp, carriedIn]
  const table: [string, bigint, bigint, bigint, bigint, bigint, bigint][] = [
    ['reserve covers the seed', 700n * M, 0n, 0n, 200n * M, 0n, 0n],
    ['reserve exactly the seed', 500n * M, 0n, 0n, 0n, 0n, 0n],
    ['reserve short: the operator tops up the rest', 300n * M + 7n, 0n, 0n, 0n, 200n * M - 7n, 0n],
    ['empty reserve: the whole seed is a top-up', 0n, 0n, 0n, 0n, 500n * M, 0n],
    ['carry and held overflow go in', 700n * M, 40n * M, 678_901n, 200n * M, 0n, 40n * M + 678_901n],
  ];
  for (const [name, reserve, nextCarry, carry, reserveAfter, topUp, carriedIn] of table) {
    const before = state({ reserveMicro: reserve, nextCarryMicro: nextCarry });
    const { state: after, opening } = openNextCycle(before, next, carry, null);
    assert.deepEqual(
      after,
      {
        cycle: 5,
        amountMicro: 500n * M + carriedIn,
        reserveMicro: reserveAfter,
        nextCarryMicro: 0n,
        triggerMicro: null,
        params: next,
      },
      name,
    );
    assert.deepEqual(
      opening,
      {
        cycle: 5,
        seedMicro: 500n * M,
        carriedInMicro: carriedIn,
        topUpMicro: topUp,
        triggerMicro: null,
        params: next,
      },
      name,
    );
  }
});

void test('openNextCycle keeps extra fields of the state (a poolId) and draws a mystery trigger', () => {
  const draw = scripted(777n);
  const next = params({ seedMicro: 500n * M, mustHitByMicro: 1_000n * M });
  const { state: after, opening } = openNextCycle({ ...state(), poolId: 'j:mini' }, next, 0n, draw);
  assert.deepEqual(draw.calls, [[500n, 1_000n]]);
  assert.equal(after.poolId, 'j:mini');
  assert.equal(after.triggerMicro, 777n * M);
  assert.equal(opening.triggerMicro, 777n * M);
});

void test('openFirstCycle: amount = seed, the whole seed is the initial top-up', () => {
  assert.deepEqual(openFirstCycle(params(), null), {
    state: {
      cycle: 1,
      amountMicro: 1_000n * M,
      reserveMicro: 0n,
      nextCarryMicro: 0n,
      triggerMicro: null,
      params: params(),
    },
    opening: {
      cycle: 1,
      seedMicro: 1_000n * M,
      carriedInMicro: 0n,
      topUpMicro: 1_000n * M,
      triggerMicro: null,
      params: params(),
    },
  });
  const mystery = params({ mustHitByMicro: 5_000n * M });
  const draw = scripted(1_000n);
  const first = openFirstCycle(mystery, draw);
  assert.deepEqual(draw.calls, [[1_000n, 5_000n]]);
  assert.equal(first.state.triggerMicro, 1_000n * M); // the seed itself is a possible trigger
});

void test('claimWin: pays the whole minor units, the fraction opens the next cycle', () => {
  const before = state({ amountMicro: 12_345_678_901n, reserveMicro: 2_000n * M, nextCarryMicro: 5n });
  const next = params({ seedMicro: 1_500n * M });
  const { state: after, close, opening } = claimWin(before, next, noDraw);
  assert.deepEqual(close, {
    cycle: 4,
    payoutMicro: 12_345n * M,
    carriedOutMicro: 678_901n,
    amountMicro: 12_345_678_901n,
  });
  assert.deepEqual(opening, {
    cycle: 5,
    seedMicro: 1_500n * M,
    carriedInMicro: 678_906n,
    topUpMicro: 0n,
    triggerMicro: null,
    params: next,
  });
  assert.equal(after.amountMicro, 1_500n * M + 678_906n);
  assert.equal(after.reserveMicro, 500n * M);
});

void test('mystery: the wager that reaches the trigger wins exactly the trigger', () => {
  const mystery = params({ seedMicro: 100n * M, mustHitByMicro: 1_000n * M, reservePpm: 0 });
  const next = params({ seedMicro: 200n * M, contributionPpm: 50_000, mustHitByMicro: 900n * M });
  const at = (amountMicro: bigint, reserveMicro = 0n): LifecycleState =>
    state({ amountMicro, reserveMicro, triggerMicro: 600n * M, params: mystery });
  // [name, before, c] → hit? [carriedOut, new amount]
  const table: [string, LifecycleState, bigint, [bigint, bigint] | null][] = [
    ['below the trigger: no hit', at(590n * M), 9n * M + 999_999n, null],
    ['exactly at the trigger', at(590n * M), 10n * M, [0n, 200n * M]],
    ['past it: the excess is carried', at(590n * M), 12n * M + 345n, [2n * M + 345n, 202n * M + 345n]],
    [
      'carried in at or above the trigger: the next wager wins, even with 0',
      at(600n * M),
      0n,
      [0n, 200n * M],
    ],
  ];
  for (const [name, before, c, expected] of table) {
    const draw = scripted(333n);
    const step = contribute(before, c, 0n, next, draw);
    assert.equal(step.cycle, 4, `${name}: booked to the paid cycle`);
    assert.equal(step.toPoolMicro, c, name);
    if (expected === null) {
      assert.equal(step.hit, null, name);
      assert.equal(step.state.cycle, 4, name);
      assert.deepEqual(draw.calls, [], name);
      continue;
    }
    const [carriedOut, amount] = expected;
    assert.deepEqual(
      step.hit?.close,
      { cycle: 4, payoutMicro: 600n * M, carriedOutMicro: carriedOut, amountMicro: before.amountMicro + c },
      name,
    );
    assert.deepEqual(
      step.hit?.opening,
      // an empty reserve: the operator tops up the whole new seed
      {
        cycle: 5,
        seedMicro: 200n * M,
        carriedInMicro: carriedOut,
        topUpMicro: 200n * M,
        triggerMicro: 333n * M,
        params: next,
      },
      name,
    );
    assert.deepEqual(draw.calls, [[200n, 900n]], `${name}: the next trigger is drawn on the next params`);
    assert.deepEqual(
      step.state,
      {
        cycle: 5,
        amountMicro: amount,
        reserveMicro: 0n,
        nextCarryMicro: 0n,
        triggerMicro: 333n * M,
        params: next,
      },
      name,
    );
  }
});

void test("mystery hit: the winning wager's reserve share and overflow count before the reseed", () => {
  const mystery = params({
    seedMicro: 10n * M,
    mustHitByMicro: 100n * M,
    ceilingMicro: 100n * M,
    overflow: 'next-cycle',
  });
  const next = params({ seedMicro: 10n * M });
  const before = state({
    amountMicro: 95n * M,
    reserveMicro: 8n * M,
    nextCarryMicro: 1n,
    triggerMicro: 100n * M,
    params: mystery,
  });
  // c = 20 → 5 fills the room up to the ceiling (= the trigger), 15 overflow held; r = 3 → reserve 11
  const step = contribute(before, 20n * M, 3n * M, next, null);
  assert.equal(step.toPoolMicro, 5n * M);
  assert.equal(step.overflowMicro, 15n * M);
  assert.deepEqual(step.hit?.close, {
    cycle: 4,
    payoutMicro: 100n * M,
    carriedOutMicro: 0n,
    amountMicro: 100n * M,
  });
  // reserve 11 funds the seed 10; the held overflow (15 + 1 micro) is carried into cycle 5
  assert.deepEqual(step.hit?.opening, {
    cycle: 5,
    seedMicro: 10n * M,
    carriedInMicro: 15n * M + 1n,
    topUpMicro: 0n,
    triggerMicro: null,
    params: next,
  });
  assert.equal(step.state.reserveMicro, 1n * M);
  assert.equal(step.state.amountMicro, 25n * M + 1n);
  assert.equal(step.state.nextCarryMicro, 0n);
});

void test('contribute refuses states its parameters contradict, and a hit without next params', () => {
  const mystery = params({ mustHitByMicro: 2_000n * M });
  assert.throws(
    () => contribute(state({ params: mystery, triggerMicro: null }), 1n, 0n, params(), null),
    /trigger/,
  );
  assert.throws(() => contribute(state({ triggerMicro: 1_600n * M }), 1n, 0n, params(), null), /trigger/);
  const due = state({ amountMicro: 1_999n * M, params: mystery, triggerMicro: 1_999n * M });
  assert.throws(() => contribute(due, 0n, 0n, null, null), /no next parameters/);
  assert.throws(() => contribute(due, 0n, 0n, mystery, null), /no drawTriggerMinor/);
});

void test('drawTriggerMicro: range in whole minor units; a draw outside it is refused', () => {
  assert.equal(drawTriggerMicro(params(), noDraw), null);
  // a seed with a fraction rounds up: the trigger is never below the seed
  const odd = params({ seedMicro: 1_500_000n, mustHitByMicro: 9_999_999n });
  const draw = scripted(2n);
  assert.equal(drawTriggerMicro(odd, draw), 2n * M);
  assert.deepEqual(draw.calls, [[2n, 9n]]);
  assert.throws(() => drawTriggerMicro(odd, scripted(1n)), RangeError);
  assert.throws(() => drawTriggerMicro(odd, scripted(10n)), RangeError);
  assert.throws(() => drawTriggerMicro(odd, (() => 5) as unknown as DrawTriggerMinor), RangeError);
  assert.throws(() => drawTriggerMicro(odd, null), /no drawTriggerMinor/);
});

void test('checkCycleParams refuses what the configuration API refuses', () => {
  const bad: [string, Partial<CycleParams>][] = [
    ['seedMicro', { seedMicro: -1n }],
    ['contributionPpm', { contributionPpm: 1_000_001 }],
    ['reservePpm', { reservePpm: -1 }],
    ['contributionPpm', { contributionPpm: 0.5 }],
    ['at most', { contributionPpm: 600_000, reservePpm: 400_001 }],
    ['together', { ceilingMicro: 5_000n * M }],
    ['together', { overflow: 'reserve' }],
    ['positive', { ceilingMicro: 0n, overflow: 'reserve' }],
    ['no whole minor unit', { seedMicro: 1_500_000n, mustHitByMicro: 1_900_000n }],
    ['at most ceilingMicro', { ceilingMicro: 2_000n * M, overflow: 'reserve', mustHitByMicro: 2_001n * M }],
  ];
  for (const [message, over] of bad) {
    assert.throws(
      () => checkCycleParams(params(over)),
      new RegExp(message),
      JSON.stringify(over, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)),
    );
  }
  assert.doesNotThrow(() =>
    checkCycleParams(
      params({ ceilingMicro: 2_000n * M, overflow: 'next-cycle', mustHitByMicro: 2_000n * M }),
    ),
  );
  assert.throws(() => openFirstCycle(params({ seedMicro: -1n }), null), RangeError);
  assert.throws(() => openNextCycle(state(), params({ reservePpm: -1 }), 0n, null), RangeError);
  assert.throws(() => openNextCycle(state(), params(), -1n, null), RangeError);
});

void test('cycleParamsFromConfig: minor units become micro-units', () => {
  assert.deepEqual(
    cycleParamsFromConfig({
      poolId: 'j:grand',
      tier: 'grand',
      seedMinor: 100_000,
      contributionPpm: 5_000,
      reservePpm: 1_000,
      ceilingMinor: 1_000_000,
      overflow: 'next-cycle',
      mustHitByMinor: 900_000,
    }),
    {
      seedMicro: 100_000n * M,
      contributionPpm: 5_000,
      reservePpm: 1_000,
      ceilingMicro: 1_000_000n * M,
      overflow: 'next-cycle',
      mustHitByMicro: 900_000n * M,
    },
  );
  assert.deepEqual(
    cycleParamsFromConfig({
      poolId: 'j:mini',
      tier: 'mini',
      seedMinor: 0,
      contributionPpm: 1,
      reservePpm: 0,
      ceilingMinor: null,
      overflow: null,
      mustHitByMinor: null,
    }),
    params({ seedMicro: 0n, contributionPpm: 1, reservePpm: 0 }),
  );
});

// ---------------------------------------------------------------- properties over whole streams
//
// A jackpot with 1 to 3 pools of random parameters (ceilings with either policy, mystery pools),
// driven through batches of wagers (some in a converted currency, some rejected or repeated),
// claims and configuration changes interleaved. After every step, checked against books kept here
// from the plan's rows, wins, closes and openings alone: conservation, the per-cycle invariant,
// the shares of every row under its own cycle's parameters, and that a due trigger never waits.

interface Step {
  readonly kind: 'batch' | 'claim' | 'configure';
  readonly pool: number;
  readonly params: CycleParams;
  readonly cut: number;
  readonly wagers: readonly { id: number; known: boolean; currency: string; amountMinor: number }[];
}

interface Stream {
  readonly pools: readonly CycleParams[];
  readonly usdRate: bigint;
  readonly seed: number;
  readonly steps: readonly Step[];
}

const cycleParamsArb: fc.Arbitrary<CycleParams> = fc
  .record({
    seedMinor: fc.integer({ min: 0, max: 1_000 }),
    contributionPpm: fc.oneof(fc.integer({ min: 0, max: 200_000 }), fc.constant(0)),
    reservePpm: fc.integer({ min: 0, max: 100_000 }),
    ceiling: fc.option(
      fc.record({
        extraMinor: fc.integer({ min: 1, max: 3_000 }),
        overflow: fc.constantFrom('reserve', 'next-cycle'),
      }),
    ),
    mysteryExtraMinor: fc.option(fc.integer({ min: 1, max: 2_000 })),
  })
  .map(({ seedMinor, contributionPpm, reservePpm, ceiling, mysteryExtraMinor }): CycleParams => {
    const seed = BigInt(seedMinor);
    const mustHitBy =
      mysteryExtraMinor === null
        ? null
        : seed + BigInt(Math.min(mysteryExtraMinor, ceiling?.extraMinor ?? Infinity));
    return {
      seedMicro: seed * M,
      contributionPpm,
      reservePpm,
      ceilingMicro: ceiling === null ? null : (seed + BigInt(ceiling.extraMinor)) * M,
      overflow: ceiling === null ? null : ceiling.overflow,
      mustHitByMicro: mustHitBy === null ? null : mustHitBy * M,
    };
  });

const streams: fc.Arbitrary<Stream> = fc.record({
  pools: fc.array(cycleParamsArb, { minLength: 1, maxLength: 3 }),
  usdRate: fc.bigInt({ min: 1n, max: 2_000_000n }),
  seed: fc.integer(),
  steps: fc.array(
    fc.record({
      kind: fc.constantFrom('batch', 'batch', 'batch', 'claim', 'configure'),
      pool: fc.nat({ max: 2 }),
      params: cycleParamsArb,
      cut: fc.nat(),
      wagers: fc.array(
        fc.record({
          id: fc.integer({ min: 0, max: 150 }), // small, so retries happen
          known: fc.nat({ max: 9 }).map((n) => n > 0), // mostly a linked game
          currency: fc.constantFrom('EUR', 'EUR', 'EUR', 'USD', 'GBP'), // GBP has no rate
          amountMinor: fc.oneof(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 100_000 })),
        }),
        { maxLength: 20 },
      ),
    }),
    { maxLength: 14 },
  ),
});

/** A small deterministic generator (mulberry32): the same seed gives the same triggers. */
function seededDraw(seed: number): DrawTriggerMinor {
  let a = seed >>> 0;
  return (low, high) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = (t ^ (t >>> 14)) >>> 0;
    return low + (BigInt(r) % (high - low + 1n));
  };
}

interface CycleBook {
  readonly seed: bigint;
  readonly carriedIn: bigint;
  readonly params: CycleParams;
  readonly trigger: bigint | null;
  contributions: bigint;
  rows: number;
  close: CycleClose | null;
}

/** Counts across all runs, so the properties cannot pass by never meeting the rules they test. */
const seen = {
  hits: 0,
  batchesWithTwoHitsOnOnePool: 0,
  dueAtOpening: 0,
  overflowReserve: 0,
  overflowNextCycle: 0,
  reseedFromReserve: 0,
  reseedTopUp: 0,
  claims: 0,
  converted: 0,
  configuredThenUsed: 0,
};

const sumOf = (xs: bigint[]): bigint => xs.reduce((a, b) => a + b, 0n);
const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** Runs a stream, checking every invariant after every step; returns everything it saw. */
function run(stream: Stream): unknown[] {
  const transcript: unknown[] = [];
  const poolIds = stream.pools.map((_, i) => `j:p${i}`);
  const configured = [...stream.pools];
  const fxRates = new Map([[fxRateKey('USD', 'EUR'), stream.usdRate]]);
  const books = new Map<string, Map<number, CycleBook>>();
  const states = new Map<string, PoolLifecycleState>();
  let moneyIn = 0n; // contributions to the amount + overflow + reserve shares
  let topUps = 0n;
  let paidOut = 0n;
  const seenIds = new Set<string>();
  let stepSeed = stream.seed;
  const drawNext = (): DrawTriggerMinor => seededDraw(stepSeed++);

  const book = (poolId: string, opening: CycleOpening): void => {
    let byCycle = books.get(poolId);
    if (byCycle === undefined) books.set(poolId, (byCycle = new Map<number, CycleBook>()));
    assert.ok(!byCycle.has(opening.cycle), `${poolId} cycle ${opening.cycle} opened once`);
    const p = opening.params;
    if (p.mustHitByMicro === null) assert.equal(opening.triggerMicro, null);
    else {
      const t = opening.triggerMicro;
      assert.ok(t !== null && t % M === 0n && t >= p.seedMicro && t <= p.mustHitByMicro, 'trigger in range');
      if (opening.seedMicro + opening.carriedInMicro >= t) seen.dueAtOpening++;
    }
    assert.equal(opening.seedMicro, p.seedMicro);
    assert.ok(opening.topUpMicro >= 0n && opening.topUpMicro <= opening.seedMicro);
    if (opening.cycle > 1 && opening.seedMicro > 0n) {
      if (opening.topUpMicro === 0n) seen.reseedFromReserve++;
      else seen.reseedTopUp++;
    }
    topUps += opening.topUpMicro;
    byCycle.set(opening.cycle, {
      seed: opening.seedMicro,
      carriedIn: opening.carriedInMicro,
      params: p,
      trigger: opening.triggerMicro,
      contributions: 0n,
      rows: 0,
      close: null,
    });
  };
  const closeCycle = (poolId: string, close: CycleClose): void => {
    const b = books.get(poolId)?.get(close.cycle);
    assert.ok(b && b.close === null, 'a cycle closes once');
    b.close = close;
    paidOut += close.payoutMicro;
  };

  const check = (): void => {
    const held = sumOf([...states.values()].map((s) => s.amountMicro + s.reserveMicro + s.nextCarryMicro));
    assert.equal(moneyIn + topUps, paidOut + held, 'conservation');
    for (const [poolId, byCycle] of books) {
      const s = states.get(poolId);
      assert.ok(s);
      assert.equal(s.cycle, Math.max(...byCycle.keys()));
      for (const [cycle, b] of byCycle) {
        const total = b.seed + b.carriedIn + b.contributions;
        if (b.close === null) {
          assert.equal(cycle, s.cycle, 'only the current cycle is open');
          assert.equal(
            total,
            s.amountMicro,
            `${poolId} cycle ${cycle}: seed + carried in + contributions = amount`,
          );
          assert.deepEqual(s.params, b.params);
          assert.equal(s.triggerMicro, b.trigger);
          const ceiling = b.params.ceilingMicro;
          if (ceiling !== null)
            assert.ok(s.amountMicro <= (b.seed + b.carriedIn > ceiling ? b.seed + b.carriedIn : ceiling));
          // a trigger already reached waits for no wager: only an opening can leave it so
          if (b.trigger !== null && s.amountMicro >= b.trigger) assert.equal(b.rows, 0);
        } else {
          assert.equal(total, b.close.amountMicro, `${poolId} cycle ${cycle}: closed at its amount`);
          assert.equal(
            b.close.payoutMicro + b.close.carriedOutMicro,
            total,
            `${poolId} cycle ${cycle}: payout + carry`,
          );
        }
      }
    }
  };

  for (const [i, params] of stream.pools.entries()) {
    const id = poolIds[i] ?? '';
    const { state, opening } = openFirstCycle(params, drawNext());
    states.set(id, { ...state, poolId: id });
    book(id, opening);
  }
  check();

  for (const step of stream.steps) {
    const pool = step.pool % poolIds.length;
    const poolId = poolIds[pool] ?? '';
    if (step.kind === 'configure') {
      configured[pool] = step.params;
      transcript.push(['configure', poolId]);
    } else if (step.kind === 'claim') {
      const before = states.get(poolId);
      assert.ok(before);
      const { state, close, opening } = claimWin(before, configured[pool] ?? step.params, drawNext());
      assert.equal(close.payoutMicro % M, 0n);
      assert.ok(close.carriedOutMicro < M);
      closeCycle(poolId, close);
      book(poolId, opening);
      states.set(poolId, state);
      seen.claims++;
      transcript.push(['claim', close, opening]);
    } else {
      const links = new Map<string, GameLink>([
        [
          'g',
          {
            gameId: 'g',
            jackpotId: 'j',
            currency: 'EUR',
            pools: poolIds.map((id, k) => {
              const next = configured[k];
              assert.ok(next);
              return {
                poolId: id,
                jackpotId: 'j',
                tier: `p${k}`,
                contributionPpm: 0,
                reservePpm: 0,
                nextParams: next,
              };
            }),
          },
        ],
      ]);
      const wagers: BatchWager[] = step.wagers.map((w, ref) => ({
        ref,
        wager: {
          eventId: uuid(w.id),
          occurredAt: '2026-11-29T12:00:00Z',
          occurredAtMs: 1_795_953_600_000,
          gameId: w.known ? 'g' : 'unknown',
          playerId: `p${w.id}`,
          currency: w.currency,
          amountMinor: w.amountMinor,
        },
      }));
      const input = { wagers, links, states, seen: new Set(seenIds), fxRates };
      const batchSeed = stepSeed++;
      const plan = planBatch({ ...input, drawTriggerMinor: seededDraw(batchSeed) });

      // The same batch in two parts, the second continuing from the first, with the same draws.
      const at = wagers.length === 0 ? 0 : step.cut % (wagers.length + 1);
      const draw = seededDraw(batchSeed);
      const first = planBatch({ ...input, wagers: wagers.slice(0, at), drawTriggerMinor: draw });
      const second = planBatch({
        ...input,
        wagers: wagers.slice(at),
        states: first.states,
        seen: new Set([...seenIds, ...first.rows.map((r) => r.eventId)]),
        drawTriggerMinor: draw,
      });
      for (const key of ['rows', 'rejected', 'duplicates', 'wins', 'closes', 'openings'] as const) {
        assert.deepEqual([...first[key], ...second[key]], plan[key], `split: ${key}`);
      }
      assert.deepEqual(second.states, plan.states, 'split: states');

      // Rows in wager order; each belongs to an open cycle and has its cycle's shares.
      const hitsOf = new Map<string, number>();
      let w = 0;
      for (const row of plan.rows) {
        const b = books.get(row.poolId)?.get(row.cycle);
        assert.ok(b && b.close === null, `${row.poolId}: a row is booked to its open cycle`);
        const src = step.wagers.find((x) => uuid(x.id) === row.eventId);
        assert.ok(src);
        const wagerMicro =
          row.wagerCurrency === 'EUR' ? BigInt(row.wagerMinor) * M : BigInt(row.wagerMinor) * stream.usdRate;
        assert.equal(row.fxRateMicro, row.wagerCurrency === 'EUR' ? null : stream.usdRate);
        assert.equal(
          row.contributionMicro + row.overflowMicro,
          shareMicro(wagerMicro, b.params.contributionPpm),
        );
        assert.equal(row.reserveMicro, shareMicro(wagerMicro, b.params.reservePpm));
        if (row.overflowMicro > 0n) {
          if (b.params.overflow === 'reserve') seen.overflowReserve++;
          else seen.overflowNextCycle++;
        }
        if (row.fxRateMicro !== null) seen.converted++;
        if (b.params !== stream.pools[Number(row.poolId.slice(3))] && b.params.contributionPpm > 0)
          seen.configuredThenUsed++;
        moneyIn += row.contributionMicro + row.overflowMicro + row.reserveMicro;
        b.contributions += row.contributionMicro;
        b.rows++;
        seenIds.add(row.eventId);
        // the win this row caused, if any, is the next in `wins` and closes the row's cycle
        const win = plan.wins[w];
        if (win !== undefined && win.eventId === row.eventId && win.poolId === row.poolId) {
          const close = plan.closes[w];
          const opening = plan.openings[w];
          assert.ok(close && opening);
          assert.equal(win.cycle, row.cycle);
          assert.equal(close.cycle, row.cycle);
          assert.equal(win.payoutMicro, b.trigger, 'a mystery pays exactly its trigger');
          assert.equal(close.payoutMicro, b.trigger);
          assert.equal(opening.cycle, row.cycle + 1);
          assert.equal(
            opening.params,
            configured[Number(row.poolId.slice(3))],
            'the next cycle runs on the configuration now',
          );
          assert.equal(win.gameId, 'g');
          const appliedRef = wagers.find(
            (x) =>
              x.wager.eventId === row.eventId &&
              !plan.rejected.some((r) => r.ref === x.ref) &&
              !plan.duplicates.includes(x.ref),
          )?.ref;
          assert.equal(win.ref, appliedRef);
          closeCycle(row.poolId, close);
          book(row.poolId, opening);
          seen.hits++;
          hitsOf.set(row.poolId, (hitsOf.get(row.poolId) ?? 0) + 1);
          w++;
        }
      }
      assert.equal(w, plan.wins.length, 'every win follows its row');
      // each delta is the sum of its cycle's rows, and there is one per (pool, cycle) with rows
      const keys = [...new Set(plan.rows.map((r) => `${r.poolId}#${r.cycle}`))];
      assert.equal(plan.deltas.length, keys.length);
      for (const d of plan.deltas) {
        const rs = plan.rows.filter((r) => r.poolId === d.poolId && r.cycle === d.cycle);
        const policy = books.get(d.poolId)?.get(d.cycle)?.params.overflow ?? null;
        assert.deepEqual(d, {
          poolId: d.poolId,
          cycle: d.cycle,
          wagers: rs.length,
          wageredMinor: sumOf(rs.map((r) => BigInt(r.wagerMinor))),
          wageredMicro: sumOf(rs.map((r) => BigInt(r.wagerMinor) * (r.fxRateMicro ?? M))),
          contributionMicro: sumOf(rs.map((r) => r.contributionMicro)),
          overflowMicro: sumOf(rs.map((r) => r.overflowMicro)),
          overflowTo: rs.some((r) => r.overflowMicro > 0n) ? policy : null,
          reserveMicro: sumOf(rs.map((r) => r.reserveMicro)),
        });
      }
      if ([...hitsOf.values()].some((n) => n >= 2)) seen.batchesWithTwoHitsOnOnePool++;
      for (const r of plan.rejected) {
        const src = step.wagers[r.ref];
        assert.ok(src);
        assert.equal(r.reason, src.known ? 'currency_mismatch' : 'unknown_game');
        if (src.known) assert.equal(src.currency, 'GBP');
      }
      for (const [id, s] of plan.states) states.set(id, s);
      transcript.push(['batch', plan]);
    }
    check();
  }
  return transcript;
}

void test('property: conservation and the per-cycle invariant over random streams', () => {
  fc.assert(
    fc.property(streams, (stream) => void run(stream)),
    { numRuns: 300 },
  );
  // The generator reaches every rule, so the checks above were not vacuous.
  for (const [what, n] of Object.entries(seen)) assert.ok(n > 0, `never saw ${what}`);
});

void test('property: deterministic given the same draws', () => {
  fc.assert(
    fc.property(streams, (stream) => {
      assert.deepEqual(run(stream), run(stream));
    }),
  );
});
