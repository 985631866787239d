import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyUpdate,
  comparePoolIds,
  poolsToRemove,
  resyncPool,
  type PoolSnapshot,
  type PoolView,
} from '../../../../services/projector/src/projection.js';

const held: PoolView = {
  poolId: 'demo:grand',
  jackpotId: 'demo',
  tier: 'grand',
  currency: 'EUR',
  amountMinor: 100_000n,
  cycle: 3,
  version: 10,
  updatedAt: '2026-11-29T12:00:00.000Z',
};

/** A topic message: no tier, no currency. */
function message(over: Partial<PoolSnapshot>): PoolSnapshot {
  return {
    poolId: 'demo:grand',
    jackpotId: 'demo',
    amountMinor: 100_500n,
    cycle: 3,
    version: 11,
    updatedAt: '2026-11-29T12:00:01.000Z',
    ...over,
  };
}

void test('applyUpdate: only a strictly higher version moves a pool', () => {
  const table: Array<[string, PoolView | undefined, PoolSnapshot, string, Partial<PoolView>?]> = [
    [
      'next version applies',
      held,
      message({ version: 11 }),
      'applied',
      { amountMinor: 100_500n, version: 11, tier: 'grand', currency: 'EUR' },
    ],
    [
      'a gap in versions applies (messages may be compacted away)',
      held,
      message({ version: 15 }),
      'applied',
      { version: 15 },
    ],
    [
      'same version is a duplicate, even with other numbers',
      held,
      message({ version: 10, amountMinor: 1n }),
      'duplicate',
    ],
    ['lower version is stale', held, message({ version: 9, amountMinor: 999_999n }), 'stale'],
    ['version 1 after 10 is stale', held, message({ version: 1 }), 'stale'],
    [
      'a win: new cycle at the seed, higher version',
      held,
      message({ version: 11, cycle: 4, amountMinor: 5_000n }),
      'applied',
      { cycle: 4, amountMinor: 5_000n },
    ],
    [
      'unknown pool from the topic cannot be shown (no tier, currency)',
      undefined,
      message({}),
      'unknown-pool',
    ],
    [
      'unknown pool from Postgres is introduced',
      undefined,
      { ...held, version: 1 },
      'applied',
      { ...held, version: 1 },
    ],
    [
      'a Postgres row with a newer version applies',
      held,
      { ...held, version: 12, amountMinor: 7n },
      'applied',
      { version: 12, amountMinor: 7n },
    ],
    ['a Postgres row with the same version is a duplicate', held, { ...held }, 'duplicate'],
  ];
  for (const [name, current, update, kind, expected] of table) {
    const outcome = applyUpdate(current, update);
    assert.equal(outcome.kind, kind, name);
    if (outcome.kind === 'applied') {
      for (const [k, v] of Object.entries(expected ?? {}))
        assert.deepEqual(outcome.view[k as keyof PoolView], v, `${name}: ${k}`);
      assert.deepEqual(
        Object.keys(outcome.view).sort(),
        Object.keys(held).sort(),
        `${name}: exactly the view's fields`,
      );
    }
  }
});

void test('applyUpdate keeps tier and currency from the view when the topic omits them', () => {
  const outcome = applyUpdate(held, message({ version: 11 }));
  assert.deepEqual(outcome, {
    kind: 'applied',
    view: { ...held, amountMinor: 100_500n, version: 11, updatedAt: '2026-11-29T12:00:01.000Z' },
  });
});

void test('applyUpdate refuses a view of another pool', () => {
  assert.throws(() => applyUpdate(held, message({ poolId: 'demo:mini' })), RangeError);
});

void test('applying a shuffled history ends at the highest version whatever the order', () => {
  const history = [1, 2, 3, 4, 5, 6, 7, 8].map((version) => ({
    ...held,
    version,
    amountMinor: BigInt(version * 100),
  }));
  const orders = [
    [0, 1, 2, 3, 4, 5, 6, 7],
    [7, 6, 5, 4, 3, 2, 1, 0],
    [3, 7, 0, 7, 1, 5, 2, 6, 4, 3],
  ];
  for (const order of orders) {
    let view: PoolView | undefined;
    for (const i of order) {
      const outcome = applyUpdate(view, history[i] ?? assert.fail());
      if (outcome.kind === 'applied') view = outcome.view;
    }
    assert.equal(view?.version, 8, order.join(','));
    assert.equal(view?.amountMinor, 800n, order.join(','));
  }
});

void test('resyncPool: Postgres replaces whatever it does not confirm, unless it may not have seen it yet', () => {
  const row = (over: Partial<PoolView>): PoolView => ({ ...held, ...over });
  // [name, held view, row read from Postgres, held view arrived after the read was sent, outcome]
  const table: Array<[string, PoolView | undefined, PoolView, boolean, string]> = [
    ['a new pool is introduced', undefined, row({}), false, 'applied'],
    ['a newer committed version applies', held, row({ version: 12, amountMinor: 7n }), false, 'applied'],
    [
      'a newer committed version applies even over a fresh message',
      held,
      row({ version: 12 }),
      true,
      'applied',
    ],
    ['the same state is confirmed', held, row({}), false, 'confirmed'],
    [
      'only updatedAt differs: confirmed',
      held,
      row({ updatedAt: '2026-11-29T12:00:00.001Z' }),
      false,
      'confirmed',
    ],
    ['same version, another amount: corrected', held, row({ amountMinor: 99n }), false, 'corrected'],
    [
      'same version, another amount, even fresh: corrected',
      held,
      row({ amountMinor: 99n }),
      true,
      'corrected',
    ],
    ['same version, another cycle: corrected', held, row({ cycle: 2 }), false, 'corrected'],
    [
      'a version Postgres never committed, seen before the read: corrected',
      held,
      row({ version: 4, amountMinor: 501n }),
      false,
      'corrected',
    ],
    [
      'a version far above Postgres, seen before the read: corrected',
      { ...held, version: 9_007_199_254_740_991 },
      row({ version: 4 }),
      false,
      'corrected',
    ],
    [
      'a newer version that arrived during the read: kept for the next resync',
      held,
      row({ version: 9 }),
      true,
      'unconfirmed',
    ],
  ];
  for (const [name, current, r, fresh, kind] of table) {
    const outcome = resyncPool(current, r, fresh);
    assert.equal(outcome.kind, kind, name);
    if (outcome.kind === 'applied' || outcome.kind === 'corrected')
      assert.deepEqual(outcome.view, r, `${name}: the row as read`);
  }
  assert.throws(() => resyncPool(held, row({ poolId: 'demo:mini' }), false), RangeError);
});

void test('a forged update is served until the first resync sent after it, a true one is never moved back', () => {
  // Resync k reads Postgres at version 10. A true commit of 11 lands after the read's snapshot
  // and its message arrives during the read; a forged 1,000 arrives before the next read.
  let view: PoolView = held;
  const afterTrue = applyUpdate(view, message({ version: 11 }));
  assert.equal(afterTrue.kind, 'applied');
  if (afterTrue.kind === 'applied') view = afterTrue.view;
  assert.equal(resyncPool(view, held, true).kind, 'unconfirmed', 'resync k keeps 11');
  assert.equal(
    resyncPool(view, { ...held, version: 11, amountMinor: 100_500n }, false).kind,
    'confirmed',
    'resync k+1 confirms it',
  );

  const forged = applyUpdate(view, message({ version: 1_000, amountMinor: 1n }));
  assert.equal(forged.kind, 'applied', 'the topic alone cannot tell');
  if (forged.kind === 'applied') view = forged.view;
  const corrected = resyncPool(view, { ...held, version: 11, amountMinor: 100_500n }, false);
  assert.equal(corrected.kind, 'corrected', 'resync k+2 replaces it');
  if (corrected.kind === 'corrected') view = corrected.view;
  assert.equal(
    applyUpdate(view, message({ version: 12, amountMinor: 100_600n })).kind,
    'applied',
    'the next true update applies',
  );
});

void test('poolsToRemove: held pools missing from the snapshot', () => {
  const table: Array<[string[], string[], string[]]> = [
    [['a:x', 'b:y'], ['a:x', 'b:y'], []],
    [['a:x', 'b:y'], ['a:x'], ['b:y']],
    [['a:x'], ['a:x', 'c:z'], []],
    [[], [], []],
    [['a:x', 'b:y'], [], ['a:x', 'b:y']],
  ];
  for (const [heldIds, snapshot, expected] of table)
    assert.deepEqual(poolsToRemove(heldIds, snapshot), expected, `${heldIds.join()} vs ${snapshot.join()}`);
});

void test('comparePoolIds sorts by code unit, like Postgres "C" collation', () => {
  assert.deepEqual(['demo:mini', 'Demo:grand', 'demo:grand', 'demo:Major', 'abc:z'].sort(comparePoolIds), [
    'Demo:grand',
    'abc:z',
    'demo:Major',
    'demo:grand',
    'demo:mini',
  ]);
});
