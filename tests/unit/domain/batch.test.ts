/**
 * planBatch (domain/batch.ts), the pure heart of a window. Organised in three parts marked by rule
 * comments: hand-computed batches (what happens to each wager), lifecycle and currencies
 * (ceilings, mystery hits, next-cycle parameters, fx), then fast-check properties on random batches.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  planBatch,
  screenBatch,
  type BatchInput,
  type BatchPlan,
  type BatchWager,
  type CycleParams,
  type FxRates,
  type GameLink,
  type LedgerRow,
  type PoolLifecycleState,
  type PoolParams,
  type Wager,
} from '../../../shared/src/domain/index.js';
import { scripted } from '../../helpers/scripted-draw.js';

const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function wager(n: number, over: Partial<Wager> = {}): Wager {
  return {
    eventId: uuid(n),
    occurredAt: '2026-11-29T12:00:00Z',
    occurredAtMs: 1_795_953_600_000,
    gameId: 'g1',
    playerId: `p${n}`,
    currency: 'EUR',
    amountMinor: 100,
    ...over,
  };
}

/** A pool of these tests with the shares of its current cycle (which its state carries). */
interface SharedPool extends PoolParams {
  readonly contributionPpm: number;
  readonly reservePpm: number;
}

const grand: SharedPool = {
  poolId: 'j1:grand',
  jackpotId: 'j1',
  tier: 'grand',
  contributionPpm: 5_000,
  reservePpm: 1_000,
};
const mini: SharedPool = {
  poolId: 'j1:mini',
  jackpotId: 'j1',
  tier: 'mini',
  contributionPpm: 10_000,
  reservePpm: 0,
};
const usdMajor: SharedPool = {
  poolId: 'j2:major',
  jackpotId: 'j2',
  tier: 'major',
  contributionPpm: 7,
  reservePpm: 3,
};

// The pools deliberately out of order: the planner must not rely on it.
const j1: Omit<GameLink, 'gameId'> = { jackpotId: 'j1', currency: 'EUR', pools: [mini, grand] };
const links = new Map<string, GameLink>([
  ['g1', { gameId: 'g1', ...j1 }],
  ['g2', { gameId: 'g2', ...j1 }],
  ['u1', { gameId: 'u1', jackpotId: 'j2', currency: 'USD', pools: [usdMajor] }],
]);

/** A plain cycle on the pool's shares: no held overflow, no trigger, no ceiling, not a mystery pool. */
const plainCycle = (
  p: SharedPool,
): Pick<PoolLifecycleState, 'nextCarryMicro' | 'triggerMicro' | 'params'> => ({
  nextCarryMicro: 0n,
  triggerMicro: null,
  params: {
    seedMicro: 0n,
    contributionPpm: p.contributionPpm,
    reservePpm: p.reservePpm,
    ceilingMicro: null,
    overflow: null,
    mustHitByMicro: null,
  },
});

function initialStates(): Map<string, PoolLifecycleState> {
  return new Map<string, PoolLifecycleState>([
    [
      'j1:grand',
      { poolId: 'j1:grand', cycle: 3, amountMicro: 1_000_000_000n, reserveMicro: 5n, ...plainCycle(grand) },
    ],
    [
      'j1:mini',
      { poolId: 'j1:mini', cycle: 1, amountMicro: 10_000_000n, reserveMicro: 0n, ...plainCycle(mini) },
    ],
    [
      'j2:major',
      { poolId: 'j2:major', cycle: 7, amountMicro: 0n, reserveMicro: 0n, ...plainCycle(usdMajor) },
    ],
  ]);
}

const batch = (ws: Wager[]): BatchWager[] => ws.map((w, ref) => ({ wager: w, ref }));

void test('a mixed batch: applied, unknown game, wrong currency, duplicate', () => {
  const states = initialStates();
  const input: BatchInput = {
    wagers: batch([
      wager(1, { amountMinor: 250 }),
      wager(2, { gameId: 'nope' }),
      wager(3, { currency: 'USD' }),
      wager(1, { amountMinor: 999 }), // a retry, even with other content
      wager(5, { amountMinor: 100, gameId: 'g2' }),
    ]),
    links,
    states,
  };
  const plan = planBatch(input);

  // same currency: no rate; no ceiling: no overflow
  const base = {
    occurredAt: '2026-11-29T12:00:00Z',
    wagerCurrency: 'EUR',
    fxRateMicro: null,
    overflowMicro: 0n,
  };
  assert.deepEqual(plan.rows, [
    {
      eventId: uuid(1),
      poolId: 'j1:grand',
      cycle: 3,
      wagerMinor: 250,
      contributionMicro: 1_250_000n,
      reserveMicro: 250_000n,
      ...base,
      gameId: 'g1',
      playerId: 'p1',
    },
    {
      eventId: uuid(1),
      poolId: 'j1:mini',
      cycle: 1,
      wagerMinor: 250,
      contributionMicro: 2_500_000n,
      reserveMicro: 0n,
      ...base,
      gameId: 'g1',
      playerId: 'p1',
    },
    {
      eventId: uuid(5),
      poolId: 'j1:grand',
      cycle: 3,
      wagerMinor: 100,
      contributionMicro: 500_000n,
      reserveMicro: 100_000n,
      ...base,
      gameId: 'g2',
      playerId: 'p5',
    },
    {
      eventId: uuid(5),
      poolId: 'j1:mini',
      cycle: 1,
      wagerMinor: 100,
      contributionMicro: 1_000_000n,
      reserveMicro: 0n,
      ...base,
      gameId: 'g2',
      playerId: 'p5',
    },
  ]);
  assert.deepEqual(plan.deltas, [
    {
      poolId: 'j1:grand',
      cycle: 3,
      wagers: 2,
      wageredMinor: 350n,
      wageredMicro: 350_000_000n,
      contributionMicro: 1_750_000n,
      overflowMicro: 0n,
      overflowTo: null,
      reserveMicro: 350_000n,
    },
    {
      poolId: 'j1:mini',
      cycle: 1,
      wagers: 2,
      wageredMinor: 350n,
      wageredMicro: 350_000_000n,
      contributionMicro: 3_500_000n,
      overflowMicro: 0n,
      overflowTo: null,
      reserveMicro: 0n,
    },
  ]);
  assert.deepEqual(
    plan.rejected.map((r) => [r.ref, r.reason]),
    [
      [1, 'unknown_game'],
      [2, 'currency_mismatch'],
    ],
  );
  assert.match(plan.rejected[0]?.message ?? '', /gameId "nope"/);
  assert.match(plan.rejected[1]?.message ?? '', /currency USD .*"j1" \(EUR\)/);
  assert.deepEqual(plan.duplicates, [3]);
  assert.deepEqual(
    plan.states,
    new Map<string, PoolLifecycleState>([
      // reached pools come back with their new amounts, the others as they were
      [
        'j1:grand',
        {
          poolId: 'j1:grand',
          cycle: 3,
          amountMicro: 1_001_750_000n,
          reserveMicro: 350_005n,
          ...plainCycle(grand),
        },
      ],
      [
        'j1:mini',
        { poolId: 'j1:mini', cycle: 1, amountMicro: 13_500_000n, reserveMicro: 0n, ...plainCycle(mini) },
      ],
      [
        'j2:major',
        { poolId: 'j2:major', cycle: 7, amountMicro: 0n, reserveMicro: 0n, ...plainCycle(usdMajor) },
      ],
    ]),
  );
  // the caller's map and states are untouched
  assert.deepEqual(states, initialStates());
});

void test('eventIds differing only in letter case are one wager once parsed', () => {
  // parseWager lower-cases; the planner compares exactly what it is given.
  const plan = planBatch({
    wagers: batch([wager(1), wager(1), wager(1, { gameId: 'g2' })]),
    links,
    states: initialStates(),
  });
  assert.deepEqual(plan.duplicates, [1, 2]);
  assert.equal(plan.rows.length, 2);
});

void test('a rejected copy does not claim its eventId: a later valid copy is applied', () => {
  const plan = planBatch({
    wagers: batch([wager(1, { currency: 'GBP' }), wager(1), wager(1)]),
    links,
    states: initialStates(),
  });
  assert.deepEqual(
    plan.rejected.map((r) => r.ref),
    [0],
  );
  assert.deepEqual(plan.duplicates, [2]);
  assert.deepEqual(
    plan.rows.map((r) => r.poolId),
    ['j1:grand', 'j1:mini'],
  );
});

void test('a copy that fails its own checks is rejected, even when its eventId was applied', () => {
  // Judged on its own first, as a copy that fails parsing is: the reason reaches the dead letters.
  const plan = planBatch({
    wagers: batch([wager(1), wager(1, { gameId: 'nope' }), wager(2), wager(2, { currency: 'GBP' })]),
    links,
    states: initialStates(),
    seen: new Set([uuid(2)]),
  });
  assert.deepEqual(
    plan.rejected.map((r) => [r.ref, r.reason]),
    [
      [1, 'unknown_game'],
      [3, 'currency_mismatch'],
    ],
  );
  assert.deepEqual(plan.duplicates, [2]);
});

void test('eventIds already in the ledger are duplicates and change nothing', () => {
  const plan = planBatch({
    wagers: batch([wager(1), wager(2)]),
    links,
    states: initialStates(),
    seen: new Set([uuid(1)]),
  });
  assert.deepEqual(plan.duplicates, [0]);
  assert.deepEqual([...new Set(plan.rows.map((r) => r.eventId))], [uuid(2)]);
});

void test('other jackpots, other currencies; refs are echoed, not recomputed', () => {
  const plan = planBatch({
    wagers: [
      { wager: wager(1, { gameId: 'u1', currency: 'USD', amountMinor: 1_000_000_000 }), ref: 41 },
      { wager: wager(2, { gameId: 'u1', currency: 'EUR' }), ref: 42 },
    ],
    links,
    states: initialStates(),
  });
  assert.deepEqual(plan.deltas, [
    {
      poolId: 'j2:major',
      cycle: 7,
      wagers: 1,
      wageredMinor: 1_000_000_000n,
      wageredMicro: 1_000_000_000_000_000n,
      contributionMicro: 7_000_000_000n,
      overflowMicro: 0n,
      overflowTo: null,
      reserveMicro: 3_000_000_000n,
    },
  ]);
  assert.deepEqual(
    plan.rejected.map((r) => [r.ref, r.reason]),
    [[42, 'currency_mismatch']],
  );
  assert.equal(plan.states.get('j2:major')?.amountMicro, 7_000_000_000n);
});

void test('an empty batch plans nothing and keeps every state', () => {
  const plan = planBatch({ wagers: [], links, states: initialStates() });
  assert.deepEqual(plan, {
    rows: [],
    deltas: [],
    rejected: [],
    duplicates: [],
    wins: [],
    closes: [],
    openings: [],
    states: initialStates(),
  });
});

void test('a reached pool without loaded state is a bug and throws', () => {
  const states = initialStates();
  states.delete('j1:mini');
  assert.throws(() => planBatch({ wagers: batch([wager(1)]), links, states }), /j1:mini/);
  // a batch that does not reach it is fine
  assert.doesNotThrow(() =>
    planBatch({ wagers: batch([wager(1, { gameId: 'u1', currency: 'USD' })]), links, states }),
  );
});

// ---------------------------------------------------------------- lifecycle and currencies

const M = 1_000_000n;

function cycleParams(over: Partial<CycleParams> = {}): CycleParams {
  return {
    seedMicro: 100n * M,
    contributionPpm: 100_000,
    reservePpm: 10_000,
    ceilingMicro: null,
    overflow: null,
    mustHitByMicro: null,
    ...over,
  };
}

/** One game `g` on jackpot `c` (EUR) with the given pools; each pool's nextParams as given. */
function lifecycleWorld(
  pools: { id: string; params: CycleParams; next?: CycleParams; state: Partial<PoolLifecycleState> }[],
): Pick<BatchInput, 'links' | 'states'> {
  const link: GameLink = {
    gameId: 'g',
    jackpotId: 'c',
    currency: 'EUR',
    pools: pools.map((p) => ({
      poolId: p.id,
      jackpotId: 'c',
      tier: p.id.slice(2),
      ...(p.next === undefined ? {} : { nextParams: p.next }),
    })),
  };
  const states = new Map<string, PoolLifecycleState>(
    pools.map((p) => [
      p.id,
      {
        poolId: p.id,
        cycle: 1,
        amountMicro: 0n,
        reserveMicro: 0n,
        nextCarryMicro: 0n,
        triggerMicro: null,
        params: p.params,
        ...p.state,
      },
    ]),
  );
  return { links: new Map([['g', link]]), states };
}

const gw = (n: number, amountMinor: number, over: Partial<Wager> = {}): Wager =>
  wager(n, { gameId: 'g', amountMinor, ...over });

void test('ceiling: the last room is filled, the rest overflows to the reserve or the next cycle', () => {
  // 10 % to the pool, 1 % to the reserve; both pools at 990 of a 1,000 ceiling
  const reserve = cycleParams({ ceilingMicro: 1_000n * M, overflow: 'reserve' });
  const nextCycle = cycleParams({ ceilingMicro: 1_000n * M, overflow: 'next-cycle' });
  const world = lifecycleWorld([
    { id: 'c:a', params: reserve, state: { amountMicro: 990n * M, reserveMicro: 7n } },
    { id: 'c:b', params: nextCycle, state: { amountMicro: 990n * M, nextCarryMicro: 9n } },
  ]);
  // c = 5 fits; c = 8 fills the last 5 and overflows 3; c = 2 overflows entirely
  const plan = planBatch({ ...world, wagers: batch([gw(1, 50), gw(2, 80), gw(3, 20)]) });
  assert.deepEqual(
    plan.rows.map((r) => [r.poolId, r.cycle, r.contributionMicro, r.overflowMicro, r.reserveMicro]),
    [
      ['c:a', 1, 5n * M, 0n, 500_000n],
      ['c:b', 1, 5n * M, 0n, 500_000n],
      ['c:a', 1, 5n * M, 3n * M, 800_000n],
      ['c:b', 1, 5n * M, 3n * M, 800_000n],
      ['c:a', 1, 0n, 2n * M, 200_000n],
      ['c:b', 1, 0n, 2n * M, 200_000n],
    ],
  );
  const delta = {
    cycle: 1,
    wagers: 3,
    wageredMinor: 150n,
    wageredMicro: 150n * M,
    contributionMicro: 10n * M,
  };
  assert.deepEqual(plan.deltas, [
    { poolId: 'c:a', ...delta, overflowMicro: 5n * M, overflowTo: 'reserve', reserveMicro: 1_500_000n },
    { poolId: 'c:b', ...delta, overflowMicro: 5n * M, overflowTo: 'next-cycle', reserveMicro: 1_500_000n },
  ]);
  assert.deepEqual(plan.states.get('c:a'), {
    poolId: 'c:a',
    cycle: 1,
    amountMicro: 1_000n * M,
    reserveMicro: 7n + 1_500_000n + 5n * M, // reserve shares and the overflow
    nextCarryMicro: 0n,
    triggerMicro: null,
    params: reserve,
  });
  assert.deepEqual(plan.states.get('c:b'), {
    poolId: 'c:b',
    cycle: 1,
    amountMicro: 1_000n * M,
    reserveMicro: 1_500_000n,
    nextCarryMicro: 9n + 5n * M, // held for the next cycle
    triggerMicro: null,
    params: nextCycle,
  });
  assert.deepEqual([plan.wins, plan.closes, plan.openings], [[], [], []]);
});

void test('mystery: hit exactly at the trigger, then a second hit with excess in the same batch', () => {
  // cycle 2: 10 % / 5 %, trigger 160; the configuration now: 20 % / 0 %, seed 100, must hit by 200
  const current = cycleParams({ reservePpm: 50_000, mustHitByMicro: 200n * M });
  const next = cycleParams({ contributionPpm: 200_000, reservePpm: 0, mustHitByMicro: 200n * M });
  const world = lifecycleWorld([
    { id: 'c:x', params: current, next, state: { cycle: 2, amountMicro: 150n * M, triggerMicro: 160n * M } },
  ]);
  const draw = scripted(170n, 130n);
  const plan = planBatch({
    ...world,
    drawTriggerMinor: draw,
    wagers: batch([gw(1, 50), gw(2, 50), gw(3, 100), gw(4, 300), gw(5, 10)]),
  });
  // w1: 150 → 155. w2: → 160 = the trigger: pays 160, carries 0; reserve 5 funds 5 of the seed
  // 100, the operator tops up 95; cycle 3 opens at 100 on the new params with trigger 170.
  // w3 (cycle 3, 20 %): → 120. w4: +60 → 180: pays 170, carries 10; cycle 4 opens at 100 + 10,
  // all of the seed a top-up (the new params have no reserve share), trigger 130. w5: +2 → 112.
  assert.deepEqual(
    plan.rows.map((r) => [r.eventId, r.cycle, r.contributionMicro, r.reserveMicro]),
    [
      [uuid(1), 2, 5n * M, 2_500_000n],
      [uuid(2), 2, 5n * M, 2_500_000n], // the winning wager is booked to the paid cycle
      [uuid(3), 3, 20n * M, 0n], // the wager after the hit: next cycle, next params
      [uuid(4), 3, 60n * M, 0n],
      [uuid(5), 4, 2n * M, 0n],
    ],
  );
  const winner = { kind: 'mystery', gameId: 'g' } as const;
  assert.deepEqual(plan.wins, [
    { poolId: 'c:x', cycle: 2, payoutMicro: 160n * M, ref: 1, eventId: uuid(2), playerId: 'p2', ...winner },
    { poolId: 'c:x', cycle: 3, payoutMicro: 170n * M, ref: 3, eventId: uuid(4), playerId: 'p4', ...winner },
  ]);
  assert.deepEqual(plan.closes, [
    { poolId: 'c:x', cycle: 2, payoutMicro: 160n * M, carriedOutMicro: 0n, amountMicro: 160n * M },
    { poolId: 'c:x', cycle: 3, payoutMicro: 170n * M, carriedOutMicro: 10n * M, amountMicro: 180n * M },
  ]);
  assert.deepEqual(plan.openings, [
    {
      poolId: 'c:x',
      cycle: 3,
      seedMicro: 100n * M,
      carriedInMicro: 0n,
      topUpMicro: 95n * M,
      triggerMicro: 170n * M,
      params: next,
    },
    {
      poolId: 'c:x',
      cycle: 4,
      seedMicro: 100n * M,
      carriedInMicro: 10n * M,
      topUpMicro: 100n * M,
      triggerMicro: 130n * M,
      params: next,
    },
  ]);
  assert.deepEqual(draw.calls, [
    [100n, 200n],
    [100n, 200n],
  ]);
  const zero = { overflowMicro: 0n, overflowTo: null };
  assert.deepEqual(plan.deltas, [
    {
      poolId: 'c:x',
      cycle: 2,
      wagers: 2,
      wageredMinor: 100n,
      wageredMicro: 100n * M,
      contributionMicro: 10n * M,
      reserveMicro: 5n * M,
      ...zero,
    },
    {
      poolId: 'c:x',
      cycle: 3,
      wagers: 2,
      wageredMinor: 400n,
      wageredMicro: 400n * M,
      contributionMicro: 80n * M,
      reserveMicro: 0n,
      ...zero,
    },
    {
      poolId: 'c:x',
      cycle: 4,
      wagers: 1,
      wageredMinor: 10n,
      wageredMicro: 10n * M,
      contributionMicro: 2n * M,
      reserveMicro: 0n,
      ...zero,
    },
  ]);
  assert.deepEqual(plan.states.get('c:x'), {
    poolId: 'c:x',
    cycle: 4,
    amountMicro: 112n * M,
    reserveMicro: 0n,
    nextCarryMicro: 0n,
    triggerMicro: 130n * M,
    params: next,
  });
  // cycle 3, opened and closed in this batch: seed + carried in + contributions = payout + carried out
  const [opened3, closed3, delta3] = [plan.openings[0], plan.closes[1], plan.deltas[1]];
  assert.ok(opened3 && closed3 && delta3);
  assert.equal(
    opened3.seedMicro + opened3.carriedInMicro + delta3.contributionMicro,
    closed3.payoutMicro + closed3.carriedOutMicro,
  );
});

void test('next params only from the next cycle: a configuration change leaves the running cycle alone', () => {
  const current = cycleParams({ contributionPpm: 10_000, reservePpm: 0 });
  const changed = cycleParams({
    contributionPpm: 500_000,
    reservePpm: 0,
    ceilingMicro: 1n * M,
    overflow: 'reserve',
  });
  const world = lifecycleWorld([
    { id: 'c:y', params: current, next: changed, state: { amountMicro: 100n * M } },
  ]);
  const plan = planBatch({ ...world, wagers: batch([gw(1, 1_000)]) });
  // 1 % of 1,000 under no ceiling, not 50 % capped at 1
  assert.deepEqual(
    plan.rows.map((r) => [r.contributionMicro, r.overflowMicro]),
    [[10n * M, 0n]],
  );
  assert.deepEqual(plan.states.get('c:y')?.params, current);
});

void test('fx: a wager in another currency is converted at its rate; without a rate it is rejected', () => {
  const fxRates = new Map([['USD>EUR', 923_457n]]); // 1 US cent = 0.923457 euro cents
  const plan = planBatch({
    wagers: batch([wager(1, { currency: 'USD', amountMinor: 333 }), wager(2, { currency: 'GBP' }), wager(3)]),
    links,
    states: initialStates(),
    fxRates,
  });
  // 333 × 923,457 = 307,511,181 micro-euros; grand 0.5 % = 1,537,555.905 → 1,537,555 and
  // 0.1 % = 307,511.181 → 307,511; mini 1 % = 3,075,111.81 → 3,075,111. The dropped sub-micro
  // remainders are not pool money.
  const usd = { wagerMinor: 333, wagerCurrency: 'USD', fxRateMicro: 923_457n, overflowMicro: 0n };
  assert.deepEqual(
    plan.rows
      .filter((r) => r.eventId === uuid(1))
      .map((r) => ({
        poolId: r.poolId,
        wagerMinor: r.wagerMinor,
        wagerCurrency: r.wagerCurrency,
        fxRateMicro: r.fxRateMicro,
        overflowMicro: r.overflowMicro,
        contributionMicro: r.contributionMicro,
        reserveMicro: r.reserveMicro,
      })),
    [
      { poolId: 'j1:grand', ...usd, contributionMicro: 1_537_555n, reserveMicro: 307_511n },
      { poolId: 'j1:mini', ...usd, contributionMicro: 3_075_111n, reserveMicro: 0n },
    ],
  );
  assert.deepEqual(
    plan.rejected.map((r) => [r.ref, r.reason]),
    [[1, 'currency_mismatch']],
  );
  assert.match(
    plan.rejected[0]?.message ?? '',
    /currency GBP .*"j1" \(EUR\) and no rate GBP>EUR is configured/,
  );
  // the deltas add the rows exactly; wageredMicro is in euros, wageredMinor as sent
  const grandDelta = plan.deltas.find((d) => d.poolId === 'j1:grand');
  assert.equal(grandDelta?.contributionMicro, 1_537_555n + 500_000n);
  assert.equal(grandDelta?.wageredMinor, 433n);
  assert.equal(grandDelta?.wageredMicro, 307_511_181n + 100n * M);
  assert.equal(plan.states.get('j1:grand')?.amountMicro, 1_000_000_000n + 1_537_555n + 500_000n);
  // and the EUR wager in the same batch carries no rate
  assert.deepEqual(
    plan.rows.filter((r) => r.eventId === uuid(3)).map((r) => [r.wagerCurrency, r.fxRateMicro]),
    [
      ['EUR', null],
      ['EUR', null],
    ],
  );
});

void test('loading bugs throw before any amount decides: missing next params, draw, or a stray trigger', () => {
  const mystery = cycleParams({ mustHitByMicro: 200n * M });
  const far = { amountMicro: 100n * M, triggerMicro: 199n * M }; // no hit in this batch
  const one = batch([gw(1, 1)]);
  assert.throws(
    () => planBatch({ ...lifecycleWorld([{ id: 'c:m', params: mystery, state: far }]), wagers: one }),
    /mystery cycle, but no nextParams/,
  );
  assert.throws(
    () =>
      planBatch({
        ...lifecycleWorld([{ id: 'c:m', params: mystery, next: mystery, state: far }]),
        wagers: one,
      }),
    /no drawTriggerMinor/,
  );
  assert.doesNotThrow(() =>
    planBatch({
      ...lifecycleWorld([{ id: 'c:m', params: mystery, next: cycleParams(), state: far }]),
      wagers: one,
    }),
  );
  assert.throws(
    () => planBatch({ ...lifecycleWorld([{ id: 'c:m', params: cycleParams(), state: far }]), wagers: one }),
    /trigger/,
  );
  assert.throws(
    () =>
      planBatch({
        ...lifecycleWorld([{ id: 'c:m', params: cycleParams({ reservePpm: -1 }), state: {} }]),
        wagers: one,
      }),
    RangeError,
  );
});

// ---------------------------------------------------------------- properties

interface World {
  links: Map<string, GameLink>;
  states: Map<string, PoolLifecycleState>;
  wagers: BatchWager[];
}

const shares = fc
  .tuple(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 1_000_000 }))
  .map(([a, b]): [number, number] => (a + b <= 1_000_000 ? [a, b] : [a, 1_000_000 - a]));

const worlds: fc.Arbitrary<World> = fc
  .record({
    jackpots: fc.array(
      fc.record({
        currency: fc.constantFrom('EUR', 'USD', 'GBP'),
        pools: fc.uniqueArray(
          fc.record({ tier: fc.constantFrom('mini', 'minor', 'major', 'grand', 'x'), shares }),
          {
            minLength: 1,
            maxLength: 4,
            selector: (p) => p.tier,
          },
        ),
        games: fc.integer({ min: 1, max: 3 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    cycles: fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 12, maxLength: 12 }),
    seeds: fc.array(fc.bigInt({ min: 0n, max: 10n ** 18n }), { minLength: 12, maxLength: 12 }),
    wagers: fc.array(
      fc.record({
        id: fc.integer({ min: 0, max: 30 }), // small, so duplicates happen
        game: fc.integer({ min: 0, max: 10 }), // some past the linked games: unknown
        currency: fc.constantFrom('EUR', 'USD', 'GBP'),
        amountMinor: fc.oneof(fc.integer({ min: 1, max: 1_000_000_000 }), fc.integer({ min: 1, max: 1000 })),
      }),
      { maxLength: 60 },
    ),
  })
  .map(({ jackpots, cycles, seeds, wagers }) => {
    const links = new Map<string, GameLink>();
    const states = new Map<string, PoolLifecycleState>();
    let g = 0;
    let s = 0;
    jackpots.forEach((j, ji) => {
      const jackpotId = `j${ji}`;
      const pools = j.pools.map((p): SharedPool => ({
        poolId: `${jackpotId}:${p.tier}`,
        jackpotId,
        tier: p.tier,
        contributionPpm: p.shares[0],
        reservePpm: p.shares[1],
      }));
      for (const p of pools) {
        states.set(p.poolId, {
          poolId: p.poolId,
          cycle: cycles[s] ?? 1,
          amountMicro: seeds[s] ?? 0n,
          reserveMicro: 0n,
          ...plainCycle(p),
        });
        s++;
      }
      for (let k = 0; k < j.games; k++, g++)
        links.set(`g${g}`, { gameId: `g${g}`, jackpotId, currency: j.currency, pools });
    });
    return {
      links,
      states,
      wagers: wagers.map((w, ref) => ({
        ref,
        wager: wager(w.id, { gameId: `g${w.game}`, currency: w.currency, amountMinor: w.amountMinor }),
      })),
    };
  });

const sum = (xs: bigint[]): bigint => xs.reduce((a, b) => a + b, 0n);

void test('property: per pool, the ledger rows add up to the delta and to the state change', () => {
  fc.assert(
    fc.property(worlds, (world) => {
      const plan = planBatch(world);
      const poolIds = new Set(plan.rows.map((r) => r.poolId));
      assert.deepEqual(
        plan.deltas.map((d) => d.poolId),
        [...poolIds].sort(),
      );
      for (const d of plan.deltas) {
        const rows = plan.rows.filter((r) => r.poolId === d.poolId);
        assert.equal(d.wagers, rows.length);
        assert.equal(d.wageredMinor, sum(rows.map((r) => BigInt(r.wagerMinor))));
        assert.equal(d.contributionMicro, sum(rows.map((r) => r.contributionMicro)));
        assert.equal(d.reserveMicro, sum(rows.map((r) => r.reserveMicro)));
        assert.ok(rows.every((r) => r.cycle === d.cycle));
      }
      for (const [poolId, before] of world.states) {
        const after = plan.states.get(poolId);
        const d = plan.deltas.find((x) => x.poolId === poolId);
        assert.equal(after?.amountMicro, before.amountMicro + (d?.contributionMicro ?? 0n));
        assert.equal(after?.reserveMicro, before.reserveMicro + (d?.reserveMicro ?? 0n));
        assert.equal(after?.cycle, before.cycle);
      }
    }),
  );
});

void test('property: nothing lost or invented; every wager accounted for exactly once', () => {
  fc.assert(
    fc.property(worlds, (world) => {
      const plan = planBatch(world);
      const rejectedRefs = new Set(plan.rejected.map((r) => r.ref));
      const duplicateRefs = new Set(plan.duplicates);
      const appliedRefs = world.wagers
        .map((w) => w.ref)
        .filter((ref) => !rejectedRefs.has(ref) && !duplicateRefs.has(ref));
      assert.equal(rejectedRefs.size + duplicateRefs.size + appliedRefs.length, world.wagers.length);
      assert.equal([...rejectedRefs].filter((r) => duplicateRefs.has(r)).length, 0);

      // micro in: each applied wager × the summed shares of its jackpot's pools, computed here
      // without the planner's help
      let expectedMicro = 0n;
      let expectedRows = 0;
      const appliedIds = new Set<string>();
      for (const ref of appliedRefs) {
        const w = world.wagers[ref]?.wager;
        assert.ok(w);
        const link = world.links.get(w.gameId);
        assert.ok(link, 'an applied wager has a link');
        assert.equal(w.currency, link.currency);
        assert.ok(!appliedIds.has(w.eventId), 'an eventId is applied at most once');
        appliedIds.add(w.eventId);
        for (const p of link.pools) {
          const params = world.states.get(p.poolId)?.params;
          assert.ok(params);
          expectedMicro += BigInt(w.amountMinor) * BigInt(params.contributionPpm + params.reservePpm);
        }
        expectedRows += link.pools.length;
      }
      assert.equal(plan.rows.length, expectedRows);
      assert.equal(sum(plan.deltas.map((d) => d.contributionMicro + d.reserveMicro)), expectedMicro);
      const inState = sum([...plan.states.values()].map((s) => s.amountMicro + s.reserveMicro));
      const before = sum([...world.states.values()].map((s) => s.amountMicro + s.reserveMicro));
      assert.equal(inState - before, expectedMicro);

      // reasons are the planner's two, and right
      for (const r of plan.rejected) {
        const w = world.wagers[r.ref]?.wager;
        assert.ok(w);
        const link = world.links.get(w.gameId);
        assert.equal(r.reason, link === undefined ? 'unknown_game' : 'currency_mismatch');
        if (link !== undefined) assert.notEqual(w.currency, link.currency);
      }
      // a duplicate's eventId was applied by an earlier wager
      for (const ref of plan.duplicates) {
        const id = world.wagers[ref]?.wager.eventId;
        assert.ok(appliedRefs.some((a) => a < ref && world.wagers[a]?.wager.eventId === id));
      }
    }),
  );
});

void test('property: screenBatch rejects exactly what planBatch rejects, whatever was seen', () => {
  fc.assert(
    fc.property(
      worlds,
      fc.array(fc.integer({ min: 0, max: 30 })),
      fc.boolean(),
      (world, seenIds, withRates) => {
        // With rates, some foreign-currency wagers convert instead of being rejected.
        const fxRates: FxRates = withRates ? new Map([['USD>EUR', 920_000n]]) : new Map();
        const seen = new Set(seenIds.map(uuid));
        const plan = planBatch({ ...world, seen, fxRates });
        assert.deepEqual(screenBatch({ wagers: world.wagers, links: world.links, fxRates }), plan.rejected);
      },
    ),
  );
});

function comparable(plan: BatchPlan): unknown {
  return { ...plan, states: [...plan.states.entries()].sort(([a], [b]) => (a < b ? -1 : 1)) };
}

void test('property: deterministic, and independent of map insertion order', () => {
  fc.assert(
    fc.property(worlds, (world) => {
      const a = planBatch(world);
      const b = planBatch({
        wagers: [...world.wagers],
        links: new Map([...world.links].reverse()),
        states: new Map([...world.states].reverse()),
      });
      assert.deepEqual(comparable(a), comparable(b));
    }),
  );
});

void test('property: order-respecting: a batch split in two plans the same as the whole', () => {
  fc.assert(
    fc.property(worlds, fc.nat(), (world, cut) => {
      const at = world.wagers.length === 0 ? 0 : cut % (world.wagers.length + 1);
      const whole = planBatch(world);
      const first = planBatch({ ...world, wagers: world.wagers.slice(0, at) });
      const second = planBatch({
        links: world.links,
        states: first.states,
        wagers: world.wagers.slice(at),
        seen: new Set(first.rows.map((r) => r.eventId)),
      });
      assert.deepEqual([...first.rows, ...second.rows], whole.rows);
      assert.deepEqual([...first.rejected, ...second.rejected], whole.rejected);
      assert.deepEqual([...first.duplicates, ...second.duplicates], whole.duplicates);
      assert.deepEqual(second.states, whole.states);
      // rows come in wager order: each row's ref is never before the previous row's
      const firstApplied = whole.rows.map((r) =>
        world.wagers.findIndex(
          (w) => w.wager.eventId === r.eventId && !whole.rejected.some((x) => x.ref === w.ref),
        ),
      );
      assert.deepEqual(
        firstApplied,
        [...firstApplied].sort((x, y) => x - y),
      );
    }),
  );
});

void test('property: onRow receives exactly the rows, in order, and the rest of the plan is the same', () => {
  const rates = fc.constantFrom<FxRates>(
    new Map(),
    new Map([
      ['USD>EUR', 920_000n],
      ['GBP>USD', 1_270_001n],
    ]),
  );
  fc.assert(
    fc.property(worlds, rates, (world, fxRates) => {
      const plain = planBatch({ ...world, fxRates });
      const got: LedgerRow[] = [];
      const sunk = planBatch({
        ...world,
        fxRates,
        onRow: (w, fxRateMicro, poolId, cycle, contributionMicro, overflowMicro, reserveMicro) =>
          got.push({
            eventId: w.eventId,
            poolId,
            cycle,
            wagerMinor: w.amountMinor,
            wagerCurrency: w.currency,
            fxRateMicro,
            contributionMicro,
            overflowMicro,
            reserveMicro,
            occurredAt: w.occurredAt,
            gameId: w.gameId,
            playerId: w.playerId,
          }),
      });
      assert.deepEqual(got, plain.rows);
      assert.deepEqual(sunk.rows, []);
      assert.deepEqual(comparable({ ...sunk, rows: plain.rows }), comparable(plain));
    }),
  );
});
