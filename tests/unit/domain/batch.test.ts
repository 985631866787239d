import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  dedupeByEventId,
  planBatch,
  type BatchInput,
  type BatchPlan,
  type BatchWager,
  type GameLink,
  type PoolLifecycleState,
  type PoolParams,
  type PoolState,
  type Wager,
} from '../../../shared/src/domain/index.js';

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

const grand: PoolParams = {
  poolId: 'j1:grand',
  jackpotId: 'j1',
  tier: 'grand',
  contributionPpm: 5_000,
  reservePpm: 1_000,
};
const mini: PoolParams = {
  poolId: 'j1:mini',
  jackpotId: 'j1',
  tier: 'mini',
  contributionPpm: 10_000,
  reservePpm: 0,
};
const usdMajor: PoolParams = {
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

function initialStates(): Map<string, PoolState> {
  return new Map<string, PoolState>([
    ['j1:grand', { poolId: 'j1:grand', cycle: 3, amountMicro: 1_000_000_000n, reserveMicro: 5n }],
    ['j1:mini', { poolId: 'j1:mini', cycle: 1, amountMicro: 10_000_000n, reserveMicro: 0n }],
    ['j2:major', { poolId: 'j2:major', cycle: 7, amountMicro: 0n, reserveMicro: 0n }],
  ]);
}

/** What a state without lifecycle fields stands for: the link's shares, nothing else. */
const plainCycle = (
  p: PoolParams,
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
    new Map<string, PoolState>([
      // reached pools come back complete, with the documented defaults of a plain pool
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
      ['j2:major', { poolId: 'j2:major', cycle: 7, amountMicro: 0n, reserveMicro: 0n }],
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

void test('dedupeByEventId keeps the first of each, in order', () => {
  const items = batch([wager(1), wager(2), wager(1), wager(3), wager(2)]);
  const { unique, duplicates } = dedupeByEventId(items);
  assert.deepEqual(
    unique.map((i) => i.ref),
    [0, 1, 3],
  );
  assert.deepEqual(
    duplicates.map((i) => i.ref),
    [2, 4],
  );
});

// ---------------------------------------------------------------- properties

interface World {
  links: Map<string, GameLink>;
  states: Map<string, PoolState>;
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
    const states = new Map<string, PoolState>();
    let g = 0;
    let s = 0;
    jackpots.forEach((j, ji) => {
      const jackpotId = `j${ji}`;
      const pools = j.pools.map((p): PoolParams => ({
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
        for (const p of link.pools)
          expectedMicro += BigInt(w.amountMinor) * BigInt(p.contributionPpm + p.reservePpm);
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
