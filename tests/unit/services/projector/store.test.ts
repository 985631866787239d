import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PoolView } from '../../../../services/projector/src/projection.js';
import { createPoolStore, type PoolEntry } from '../../../../services/projector/src/store.js';
import { poolView } from '../../../helpers/pool-view.js';

void test('the list is sorted by poolId and rebuilt after every change', () => {
  const store = createPoolStore();
  try {
    assert.equal(store.listJson().toString(), '[]');
    store.apply(poolView('demo:mini', 1));
    store.apply(poolView('alpha:grand', 1));
    store.apply(poolView('demo:grand', 1));
    const first = store.listJson();
    assert.deepEqual(
      (JSON.parse(first.toString()) as PoolView[]).map((p) => p.poolId),
      ['alpha:grand', 'demo:grand', 'demo:mini'],
    );
    assert.equal(store.listJson(), first, 'unchanged state serves the same bytes');

    store.apply({
      poolId: 'demo:mini',
      jackpotId: 'demo',
      amountMinor: 555n,
      cycle: 1,
      version: 2,
      updatedAt: '2026-11-29T12:00:01.000Z',
    });
    const second = JSON.parse(store.listJson().toString()) as Array<{
      poolId: string;
      amountMinor: number;
      tier: string;
    }>;
    assert.deepEqual(second[2], { ...second[2], poolId: 'demo:mini', amountMinor: 555, tier: 'mini' });

    store.apply(poolView('demo:mini', 1, 1n));
    assert.equal(store.get('demo:mini')?.view.amountMinor, 555n, 'a stale update changes nothing');

    store.remove(['alpha:grand']);
    assert.deepEqual(store.ids(), ['demo:grand', 'demo:mini']);
    assert.equal((JSON.parse(store.listJson().toString()) as unknown[]).length, 2);
  } finally {
    store.close();
  }
});

void test('listeners hear each applied change once, and nothing else', () => {
  const store = createPoolStore();
  try {
    const heard: PoolEntry[] = [];
    const off = store.onChange((e) => heard.push(e));
    store.apply(poolView('demo:grand', 1));
    store.apply(poolView('demo:grand', 1)); // duplicate
    store.apply(poolView('demo:grand', 3));
    store.apply(poolView('demo:grand', 2)); // stale
    store.apply({
      poolId: 'new:pool',
      jackpotId: 'new',
      amountMinor: 1n,
      cycle: 1,
      version: 1,
      updatedAt: '2026-11-29T12:00:00Z',
    }); // unknown
    assert.deepEqual(
      heard.map((e) => e.view.version),
      [1, 3],
    );
    assert.equal(heard[1]?.json, store.get('demo:grand')?.json);
    off();
    store.apply(poolView('demo:grand', 4));
    assert.equal(heard.length, 2, 'unsubscribed');
  } finally {
    store.close();
  }
});

void test('resync: Postgres corrects a view it does not confirm, keeps one that arrived after the read was sent, and listeners hear of corrections', () => {
  const store = createPoolStore();
  try {
    const heard: Array<[number, bigint]> = [];
    store.onChange((e) => heard.push([e.view.version, e.view.amountMinor]));
    store.resync(poolView('demo:grand', 10, 501n), store.readMark());
    const topic = (version: number, amountMinor: bigint) => ({
      poolId: 'demo:grand',
      jackpotId: 'demo',
      amountMinor,
      cycle: 1,
      version,
      updatedAt: '2026-11-29T12:00:01.000Z',
    });

    // A forged message, then a read sent after it: corrected.
    assert.equal(store.apply(topic(1_000, 1n)).kind, 'applied');
    let mark = store.readMark();
    assert.equal(store.resync(poolView('demo:grand', 10, 501n), mark).kind, 'corrected');
    assert.equal(store.get('demo:grand')?.view.amountMinor, 501n);
    assert.equal(store.get('demo:grand')?.view.version, 10);
    assert.match(store.listJson().toString(), /"amountMinor":501,/);

    // A true message arriving while a read is out: kept, then confirmed.
    mark = store.readMark();
    assert.equal(store.apply(topic(11, 600n)).kind, 'applied');
    assert.equal(store.resync(poolView('demo:grand', 10, 501n), mark).kind, 'unconfirmed');
    assert.equal(store.get('demo:grand')?.view.version, 11);
    assert.equal(store.resync(poolView('demo:grand', 11, 600n), store.readMark()).kind, 'confirmed');
    // ...unless the next read still lacks it.
    assert.equal(store.resync(poolView('demo:grand', 10, 501n), store.readMark()).kind, 'corrected');

    assert.deepEqual(heard, [
      [10, 501n],
      [1_000, 1n],
      [10, 501n],
      [11, 600n],
      [10, 501n],
    ]);
  } finally {
    store.close();
  }
});
