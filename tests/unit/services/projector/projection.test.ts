import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyUpdate,
  comparePoolIds,
  poolsToRemove,
  type PoolUpdate,
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
function message(over: Partial<PoolUpdate>): PoolUpdate {
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
  const table: Array<[string, PoolView | undefined, PoolUpdate, string, Partial<PoolView>?]> = [
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
