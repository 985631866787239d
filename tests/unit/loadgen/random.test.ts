import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng, createZipf, shuffled, uuidV4, uuidV7 } from '../../../loadgen/src/random.js';

const take = (n: number, f: () => number): number[] => Array.from({ length: n }, f);

void test('one seed gives one sequence; another seed or stream gives another', () => {
  const a = createRng(42);
  const b = createRng(42);
  assert.deepEqual(
    take(1000, () => a.u32()),
    take(1000, () => b.u32()),
  );
  const c = createRng(43);
  const d = createRng(42, 'probe');
  const first = take(10, () => createRng(42).u32());
  assert.notDeepEqual(
    take(10, () => c.u32()),
    first,
  );
  assert.notDeepEqual(
    take(10, () => d.u32()),
    first,
  );
});

void test('float is in [0, 1) and below(n) in 0..n-1, both roughly uniform', () => {
  const rng = createRng(7);
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const f = rng.float();
    assert.ok(f >= 0 && f < 1);
    const k = rng.below(10);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 10);
    buckets[k] = (buckets[k] ?? 0) + 1;
  }
  for (const count of buckets) assert.ok(count > 9_000 && count < 11_000, `bucket count ${count}`);
});

void test('normal() has mean ≈ 0 and standard deviation ≈ 1', () => {
  const rng = createRng(3);
  const xs = take(100_000, () => rng.normal());
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(sd - 1) < 0.02, `sd ${sd}`);
});

void test('uuidV4 gives version-4, variant-1, lower-case UUIDs without repeats', () => {
  const rng = createRng('uuid');
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    const id = uuidV4(rng);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 100_000);
});

void test('uuidV7 carries the millisecond time in its first 48 bits, version 7, variant 1, and sorts by time', () => {
  const cases: { ms: number; prefix: string }[] = [
    { ms: 0, prefix: '00000000-0000-7' },
    { ms: 1, prefix: '00000000-0001-7' },
    { ms: 0xffff_ffff, prefix: '0000ffff-ffff-7' },
    { ms: 0x1_0000_0000, prefix: '00010000-0000-7' },
    // 2026-11-30T19:00:00.000Z
    {
      ms: 1_796_065_200_000,
      prefix: `${(1_796_065_200_000).toString(16).padStart(12, '0').slice(0, 8)}-${(1_796_065_200_000).toString(16).padStart(12, '0').slice(8)}-7`,
    },
    { ms: 2 ** 48 - 1, prefix: 'ffffffff-ffff-7' },
  ];
  const rng = createRng('uuid7');
  for (const c of cases) {
    const id = uuidV7(rng, c.ms);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, id);
    assert.ok(id.startsWith(c.prefix), `${c.ms}: ${id}`);
  }
  const ids = Array.from({ length: 10_000 }, (_, i) => uuidV7(rng, 1_796_065_200_000 + i));
  assert.deepEqual([...ids].sort(), ids, 'later ids sort after earlier ones');
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(
    uuidV7(createRng('same'), 5),
    uuidV7(createRng('same'), 5),
    'deterministic for an rng and a time',
  );
});

void test('Zipf: rank frequencies follow 1/k^s', () => {
  const zipf = createZipf(50, 1.1);
  const rng = createRng(11);
  const counts = new Array<number>(50).fill(0);
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    const k = zipf.sample(rng);
    assert.ok(k >= 0 && k < 50);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  for (const k of [0, 1, 4, 49]) {
    const expected = zipf.probability(k) * n;
    const got = counts[k] ?? 0;
    assert.ok(Math.abs(got - expected) < 0.1 * expected + 50, `rank ${k}: ${got} vs ${expected}`);
  }
  // Rank 1 is 2^1.1 ≈ 2.14 times as likely as rank 2.
  assert.ok((counts[0] ?? 0) / (counts[1] ?? 1) > 1.9 && (counts[0] ?? 0) / (counts[1] ?? 1) < 2.4);
});

void test('shuffled permutes a copy', () => {
  const items = Array.from({ length: 100 }, (_, i) => i);
  const out = shuffled(items, createRng(1));
  assert.deepEqual(
    [...out].sort((a, b) => a - b),
    items,
  );
  assert.notDeepEqual(out, items);
  assert.equal(items[0], 0);
});
