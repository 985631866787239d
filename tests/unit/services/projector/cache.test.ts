import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCacheTier } from '../../../../services/projector/src/cache.js';

const body = (s: string): Buffer => Buffer.from(s, 'utf8');
const limits = { ttlMs: 60_000, maxKeys: 3, maxBytes: 100 };

void test('a miss loads once for every caller at the same time; then hits; counts both', async () => {
  const tier = createCacheTier('warm', limits);
  try {
    let loads = 0;
    const load = async (): Promise<Buffer> => {
      loads++;
      await new Promise((r) => setTimeout(r, 10));
      return body('x');
    };
    const [a, b] = await Promise.all([tier.getOrLoad('k', load), tier.getOrLoad('k', load)]);
    assert.equal(a.toString(), 'x');
    assert.equal(b, a);
    assert.equal((await tier.getOrLoad('k', load)).toString(), 'x');
    assert.equal(loads, 1);
    assert.deepEqual(tier.stats(), { tier: 'warm', hits: 1, misses: 2, entries: 1, bytes: 1 });
  } finally {
    tier.close();
  }
});

void test('a failed load is not kept: the next request loads again', async () => {
  const tier = createCacheTier('cold', limits);
  try {
    await assert.rejects(tier.getOrLoad('k', () => Promise.reject(new Error('db down'))));
    assert.equal((await tier.getOrLoad('k', () => Promise.resolve(body('ok')))).toString(), 'ok');
    assert.equal(tier.stats().entries, 1);
  } finally {
    tier.close();
  }
});

void test('size limits: the entry closest to expiring goes first; a body over the limit is served, not kept', async () => {
  const tier = createCacheTier('warm', limits);
  try {
    await tier.getOrLoad('a', () => Promise.resolve(body('a'.repeat(40))), 10_000);
    await tier.getOrLoad('b', () => Promise.resolve(body('b'.repeat(40))), 20_000);
    await tier.getOrLoad('c', () => Promise.resolve(body('c'.repeat(40))), 30_000);
    // 120 bytes > 100: a, the soonest to expire, went.
    assert.deepEqual(tier.stats(), { tier: 'warm', hits: 0, misses: 3, entries: 2, bytes: 80 });
    let reloaded = false;
    await tier.getOrLoad('a', () => ((reloaded = true), Promise.resolve(body('a'))));
    assert.ok(reloaded);
    assert.equal((await tier.getOrLoad('big', () => Promise.resolve(body('z'.repeat(101))))).length, 101);
    assert.equal(tier.stats().entries, 3);
    assert.equal(tier.stats().bytes, 81);
  } finally {
    tier.close();
  }
});

void test('invalidate by key and by pattern drops at once; settle lets matching entries live settleMs more', async () => {
  const tier = createCacheTier('cold', { ttlMs: 60_000, maxKeys: 100, maxBytes: 10_000 });
  try {
    const put = (k: string): Promise<Buffer> => tier.getOrLoad(k, () => Promise.resolve(body(k)));
    for (const k of ['history:a:mini:1', 'history:a:mini:2', 'history:a:grand:1', 'stats:x']) await put(k);
    assert.equal(tier.invalidate('stats:x'), 1);
    assert.equal(tier.invalidate('history:a:mini:*'), 2);
    assert.equal(tier.stats().entries, 1);
    assert.equal(tier.stats().bytes, 'history:a:grand:1'.length);

    await put('history:a:mini:1');
    assert.equal(tier.settle('history:a:mini:*', 30), 1);
    assert.equal(tier.settle('history:a:mini:*', 30), 0, 'nothing new since: nothing to shorten');
    const hits = tier.stats().hits;
    await put('history:a:mini:1');
    assert.equal(tier.stats().hits, hits + 1, 'still served within the settle time');
    await new Promise((r) => setTimeout(r, 60));
    let loaded = false;
    await tier.getOrLoad('history:a:mini:1', () => ((loaded = true), Promise.resolve(body('new'))));
    assert.ok(loaded, 'expired after the settle time');
    assert.ok((await put('history:a:grand:1')).equals(body('history:a:grand:1')), 'another pool untouched');
  } finally {
    tier.close();
  }
});

void test('a load running when its key is invalidated or settled is answered but not kept', async () => {
  const tier = createCacheTier('warm', limits);
  try {
    for (const drop of [(): number => tier.invalidate('k*'), (): number => tier.settle('k*', 1_000)]) {
      let release: (b: Buffer) => void = () => undefined;
      const running = tier.getOrLoad('k1', () => new Promise<Buffer>((r) => (release = r)));
      drop();
      release(body('old'));
      assert.equal((await running).toString(), 'old');
      assert.equal(tier.stats().entries, 0);
    }
  } finally {
    tier.close();
  }
});
