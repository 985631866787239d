import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnose, type Bottleneck, type Figures } from '../../../../services/cli/src/bottleneck.js';

/** A healthy pipeline at 5,000 wagers/s: the cases below change what they are about. */
const BASE: Figures = {
  intervalS: 5,
  lagStart: 200,
  lagEnd: 180,
  producedPerS: 5_000,
  appliedPerS: 5_004,
  aggregatorsUp: 2,
  aggregatorsExpected: 2,
  windowBusy: 0.3,
  phaseSeconds: {
    fence: 0.1,
    parse: 0.2,
    links: 0.1,
    claim: 0.3,
    lock_pools: 0.1,
    plan: 0.2,
    copy: 0.5,
    pools: 0.1,
  },
  aggregatorCpuCores: 0.4,
  dbPoolPending: 0,
  pgLockWaits: 0,
  pgLongestWindowS: 0.2,
  gatewayP95Ms: 8,
  gatewayRequestsPerS: 50,
  gateway503PerS: 0,
  gatewayKafkaBufferFullPerS: 0,
};

/** Lag growing by 2,000/s out of 10,000 in. */
const BEHIND: Partial<Figures> = {
  lagStart: 10_000,
  lagEnd: 20_000,
  producedPerS: 10_000,
  appliedPerS: 8_000,
};
const PG_HEAVY = {
  fence: 0.2,
  parse: 0.1,
  links: 0.3,
  claim: 1.2,
  lock_pools: 0.4,
  plan: 0.2,
  copy: 1.5,
  pools: 0.3,
};
const CPU_HEAVY = {
  fence: 0.1,
  parse: 1.5,
  links: 0.1,
  claim: 0.2,
  lock_pools: 0.05,
  plan: 1.4,
  copy: 0.4,
  pools: 0.1,
};

const cases: { name: string; over: Partial<Figures>; expect: Bottleneck; says: RegExp }[] = [
  { name: 'keeping up, fast gateway', over: {}, expect: 'none', says: /inside windows 30 %/ },
  {
    name: 'idle',
    over: { lagStart: 0, lagEnd: 0, producedPerS: 0, appliedPerS: 0, windowBusy: 0 },
    expect: 'none',
    says: /idle/,
  },
  {
    name: 'lag growing, a replica at one core',
    over: { ...BEHIND, aggregatorCpuCores: 0.97, windowBusy: 0.95, phaseSeconds: PG_HEAVY },
    expect: 'aggregator-cpu',
    says: /0\.97 cores/,
  },
  {
    name: 'lag growing, windows busy and mostly Postgres phases',
    over: { ...BEHIND, aggregatorCpuCores: 0.5, windowBusy: 0.92, phaseSeconds: PG_HEAVY },
    expect: 'postgres',
    says: /93 % of window time in Postgres phases \(copy \d+ %, claim \d+ %/,
  },
  {
    name: 'lag growing, windows busy, no CPU metric, Postgres phases dominate',
    over: { ...BEHIND, aggregatorCpuCores: null, windowBusy: 0.8, phaseSeconds: PG_HEAVY, dbPoolPending: 3 },
    expect: 'postgres',
    says: /3 request\(s\) waiting for a pooled connection/,
  },
  {
    name: 'lag growing, windows busy, CPU phases dominate, no CPU metric',
    over: { ...BEHIND, aggregatorCpuCores: null, windowBusy: 0.9, phaseSeconds: CPU_HEAVY },
    expect: 'aggregator-cpu',
    says: /only \d+ % of window time in Postgres.*parse/,
  },
  {
    name: 'lag growing, windows busy, CPU phases, but connections awaited',
    over: { ...BEHIND, aggregatorCpuCores: null, windowBusy: 0.9, phaseSeconds: CPU_HEAVY, dbPoolPending: 2 },
    expect: 'postgres',
    says: /waiting for Postgres/,
  },
  {
    name: 'lag growing while windows are mostly idle: fetches',
    over: { ...BEHIND, windowBusy: 0.15, aggregatorCpuCores: 0.3 },
    expect: 'kafka',
    says: /15 % of the time.*wait for their fetches/,
  },
  {
    name: 'lag growing, windows idle by their histograms, but one open for 12 s on a lock',
    over: { ...BEHIND, windowBusy: 0.02, pgLongestWindowS: 12.3, pgLockWaits: 1, phaseSeconds: {} },
    expect: 'postgres',
    says: /a window transaction has been open for 12\.3 s, 1 backend\(s\) wait on locks/,
  },
  {
    name: 'lag growing, windows idle, callers waiting for a connection',
    over: { ...BEHIND, windowBusy: 0.1, dbPoolPending: 4 },
    expect: 'postgres',
    says: /4 request\(s\) wait for a pooled connection/,
  },
  {
    name: 'lag growing, no aggregator answers',
    over: { ...BEHIND, aggregatorsUp: 0, windowBusy: null, aggregatorCpuCores: null, phaseSeconds: {} },
    expect: 'unknown',
    says: /no aggregator answered/,
  },
  {
    name: 'lag growing slower than 2 % of the intake is noise',
    over: { lagStart: 10_000, lagEnd: 10_900, producedPerS: 10_000, appliedPerS: 9_820, windowBusy: 0.2 },
    expect: 'none',
    says: /\+180\/s/,
  },
  {
    name: 'keeping up, gateway p95 over 50 ms',
    over: { gatewayP95Ms: 84.5, gatewayRequestsPerS: 900 },
    expect: 'gateway',
    says: /p95 84\.5 ms \(> 50 ms\) at 900 requests\/s/,
  },
  {
    name: 'keeping up, gateway refusing for a full Kafka buffer',
    over: { gatewayP95Ms: 120, gatewayKafkaBufferFullPerS: 12 },
    expect: 'kafka',
    says: /Kafka buffer was full/,
  },
  {
    name: 'lag unreadable',
    over: { lagStart: null, lagEnd: null },
    expect: 'unknown',
    says: /could not be read/,
  },
];

for (const c of cases) {
  void test(`diagnose: ${c.name} → ${c.expect}`, () => {
    const v = diagnose({ ...BASE, ...c.over });
    assert.equal(v.bottleneck, c.expect, v.because.join(' | '));
    assert.match(v.because.join(' | '), c.says);
  });
}

void test('diagnose notes a replica that did not answer and lock waits, whatever the verdict', () => {
  const v = diagnose({ ...BASE, aggregatorsUp: 1, pgLockWaits: 4 });
  assert.equal(v.bottleneck, 'none');
  assert.deepEqual(v.notes, [
    '1 of 2 aggregator replica(s) did not answer on /metrics',
    '4 Postgres backend(s) waiting on a lock',
  ]);
});
