import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarizeThroughput, type CounterSample } from '../../../../services/projector/src/throughput.js';

const opts = { bucketMs: 15_000, windowMs: 60_000 };
const T0 = 1_800_000_000_000; // a multiple of 15 s

function sample(
  atS: number,
  wagers: number,
  micro: Record<string, number>,
  lag: number | null = 0,
): CounterSample {
  return {
    atMs: T0 + atS * 1000,
    wagersApplied: BigInt(wagers),
    contributionMicro: new Map(Object.entries(micro).map(([k, v]) => [k, BigInt(v)])),
    lagMessages: lag === null ? null : BigInt(lag),
  };
}

void test('rates are counter deltas divided by the time the samples cover, per minute', () => {
  const samples = [
    sample(0, 1_000, { 'j:mini': 0 }),
    sample(5, 1_500, { 'j:mini': 5_000_000 }, 40),
    sample(10, 2_000, { 'j:mini': 10_000_000 }, 10),
    sample(15, 2_500, { 'j:mini': 15_000_000 }, 7),
  ];
  const s = summarizeThroughput(samples, T0 + 20_000, opts);
  assert.equal(s.bucketSeconds, 15);
  assert.equal(s.buckets.length, 5, 'from now - window to now, both ends');
  const b0 = s.buckets.find((b) => b.at === new Date(T0).toISOString());
  // 1,000 wagers over 10 s covered = 6,000 a minute; 10 minor units over 10 s = 60 a minute.
  assert.deepEqual(b0, {
    at: new Date(T0).toISOString(),
    wagersPerMinute: 6_000,
    lagMessages: 10,
    contributionsMinorPerMinute: { 'j:mini': 60 },
  });
  const b1 = s.buckets.find((b) => b.at === new Date(T0 + 15_000).toISOString());
  assert.equal(b1?.wagersPerMinute, 6_000);
  assert.equal(b1?.lagMessages, 7);
  assert.equal(s.wagersPerSecond, 100);
  assert.equal(s.lagMessages, 7);
  assert.equal(s.sampledAt, new Date(T0 + 15_000).toISOString());
});

void test('an unsampled bucket is a gap, not a zero; a counter that went down gives no rate', () => {
  const samples = [sample(0, 100, { p: 10 }), sample(5, 200, { p: 5 }), sample(50, 300, { p: 6 }, null)];
  const s = summarizeThroughput(samples, T0 + 50_000, opts);
  const at = (sec: number) => s.buckets.find((b) => b.at === new Date(T0 + sec * 1000).toISOString());
  assert.equal(at(15)?.wagersPerMinute, null, 'nothing sampled between 15 s and 30 s');
  assert.equal(at(30)?.wagersPerMinute, null);
  assert.deepEqual(at(0)?.contributionsMinorPerMinute, {}, 'the pool counter went down: no rate');
  assert.equal(at(45)?.lagMessages, null, 'the broker could not be asked');
  // 100 wagers over the 45 s between the two samples, all in the bucket of the later one.
  assert.equal(at(45)?.wagersPerMinute, 133.33);
});

void test('no samples, one sample: no rate', () => {
  assert.equal(summarizeThroughput([], T0, opts).wagersPerSecond, null);
  const one = summarizeThroughput([sample(0, 5, {})], T0, opts);
  assert.equal(one.wagersPerSecond, null);
  assert.equal(one.lagMessages, 0);
  assert.ok(one.buckets.every((b) => b.wagersPerMinute === null));
});
