import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkCycleParams,
  claimPayout,
  claimWin,
  contribute,
  cycleParamsFromConfig,
  drawTriggerMicro,
  openFirstCycle,
  openNextCycle,
  splitContribution,
  type CycleParams,
  type DrawTriggerMinor,
  type LifecycleState,
} from '../../../shared/src/domain/index.js';

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

/** A draw that answers from a list and records what it was asked. */
function scripted(...answers: bigint[]): DrawTriggerMinor & { calls: [bigint, bigint][] } {
  const calls: [bigint, bigint][] = [];
  const draw = (low: bigint, high: bigint): bigint => {
    calls.push([low, high]);
    const next = answers.shift();
    if (next === undefined) throw new Error('draw called more often than scripted');
    return next;
  };
  return Object.assign(draw, { calls });
}

const noDraw: DrawTriggerMinor = () => {
  throw new Error('no draw expected');
};

void test('splitContribution: the ceiling rule, both policies', () => {
  // [amount, contribution, ceiling, policy] → [toPool, overflow, overflowTo]
  const table: [bigint, bigint, bigint | null, 'reserve' | 'next-cycle' | null, bigint, bigint, string | null][] = [
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
      [step.state.amountMicro, step.state.reserveMicro, step.state.nextCarryMicro, step.toPoolMicro, step.overflowMicro],
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
      { cycle: 5, seedMicro: 500n * M, carriedInMicro: carriedIn, topUpMicro: topUp, triggerMicro: null, params: next },
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
    state: { cycle: 1, amountMicro: 1_000n * M, reserveMicro: 0n, nextCarryMicro: 0n, triggerMicro: null, params: params() },
    opening: { cycle: 1, seedMicro: 1_000n * M, carriedInMicro: 0n, topUpMicro: 1_000n * M, triggerMicro: null, params: params() },
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
  assert.deepEqual(close, { cycle: 4, payoutMicro: 12_345n * M, carriedOutMicro: 678_901n, amountMicro: 12_345_678_901n });
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
    ['carried in at or above the trigger: the next wager wins, even with 0', at(600n * M), 0n, [0n, 200n * M]],
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
      { cycle: 5, seedMicro: 200n * M, carriedInMicro: carriedOut, topUpMicro: 200n * M, triggerMicro: 333n * M, params: next },
      name,
    );
    assert.deepEqual(draw.calls, [[200n, 900n]], `${name}: the next trigger is drawn on the next params`);
    assert.deepEqual(
      step.state,
      { cycle: 5, amountMicro: amount, reserveMicro: 0n, nextCarryMicro: 0n, triggerMicro: 333n * M, params: next },
      name,
    );
  }
});

void test('mystery hit: the winning wager\'s reserve share and overflow count before the reseed', () => {
  const mystery = params({
    seedMicro: 10n * M,
    mustHitByMicro: 100n * M,
    ceilingMicro: 100n * M,
    overflow: 'next-cycle',
  });
  const next = params({ seedMicro: 10n * M });
  const before = state({ amountMicro: 95n * M, reserveMicro: 8n * M, nextCarryMicro: 1n, triggerMicro: 100n * M, params: mystery });
  // c = 20 → 5 fills the room up to the ceiling (= the trigger), 15 overflow held; r = 3 → reserve 11
  const step = contribute(before, 20n * M, 3n * M, next, null);
  assert.equal(step.toPoolMicro, 5n * M);
  assert.equal(step.overflowMicro, 15n * M);
  assert.deepEqual(step.hit?.close, { cycle: 4, payoutMicro: 100n * M, carriedOutMicro: 0n, amountMicro: 100n * M });
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
  assert.throws(() => contribute(state({ params: mystery, triggerMicro: null }), 1n, 0n, params(), null), /trigger/);
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
    assert.throws(() => checkCycleParams(params(over)), new RegExp(message), JSON.stringify(over, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
  }
  assert.doesNotThrow(() =>
    checkCycleParams(params({ ceilingMicro: 2_000n * M, overflow: 'next-cycle', mustHitByMicro: 2_000n * M })),
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
