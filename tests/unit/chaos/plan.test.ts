/**
 * The chaos suite's pure parts: the fault plan drawn from a seed, and how a dead process's last
 * log lines are summarised. The suite itself (tests/chaos/run-chaos.ts) is `npm run test:chaos`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makePlan, type HeavyFault } from '../../chaos/faults.js';
import { whyExited } from '../../chaos/services.js';
import { createRng } from '../../../loadgen/src/random.js';

const label = (f: HeavyFault): string => (f.kind === 'fault-point' ? `fault-point:${f.point}` : f.kind);
const EVERY_KIND = [
  'fault-point:after_commit',
  'fault-point:after_copy',
  'kafka-restart',
  'kill-replica',
  'postgres-restart',
  'scale-1-3-1',
  'zombie',
];

void test('every kind of heavy fault comes once before any repeats, whatever the seed and length', () => {
  for (const seed of [1, 2, 3, 42, 2 ** 31 - 1])
    for (const [durationSeconds, short] of [
      [10, true],
      [90, true],
      [240, false],
    ] as const) {
      const plan = makePlan(createRng(seed, 'chaos/plan'), {
        durationSeconds,
        short,
        sessionTimeoutMs: 6000,
      });
      assert.deepEqual(
        plan.heavy
          .slice(0, EVERY_KIND.length)
          .map((h) => label(h.fault))
          .sort(),
        EVERY_KIND,
        `seed ${seed}, ${durationSeconds} s`,
      );
    }
});

void test('a long run plans more rounds of heavy faults and light faults of every kind', () => {
  const plan = makePlan(createRng(7, 'chaos/plan'), {
    durationSeconds: 240,
    short: false,
    sessionTimeoutMs: 6000,
  });
  assert.ok(plan.heavy.length > EVERY_KIND.length, `${plan.heavy.length} heavy faults`);
  assert.deepEqual([...new Set(plan.light.map((l) => l.fault))].sort(), [
    'bad-input',
    'duplicates',
    'kill-db-connections',
  ]);
});

void test('the same seed gives the same plan; another seed another one', () => {
  const plan = (seed: number) =>
    makePlan(createRng(seed, 'chaos/plan'), { durationSeconds: 90, short: true, sessionTimeoutMs: 6000 });
  assert.deepEqual(plan(123), plan(123));
  assert.notDeepEqual(plan(123), plan(124));
});

void test('a zombie pause outlasts the session timeout, and a scale goes 1, 3, 1 with positive holds', () => {
  for (let seed = 0; seed < 50; seed++) {
    const plan = makePlan(createRng(seed, 'chaos/plan'), {
      durationSeconds: 240,
      short: false,
      sessionTimeoutMs: 6000,
    });
    for (const { fault } of plan.heavy) {
      if (fault.kind === 'zombie') assert.ok(fault.extraMs >= 2000, `zombie extra ${fault.extraMs} ms`);
      if (fault.kind === 'scale-1-3-1') assert.ok(fault.holdMs.every((ms) => ms > 0));
    }
  }
});

void test("a dead process's summary is its error lines, not its stack or info logs", () => {
  const unhandled = [
    '{"level":30,"time":"2026-11-30T16:33:11.000Z","service":"aggregator","msg":"window applied"}',
    'node:events:502',
    "      throw er; // Unhandled 'error' event",
    '      ^',
    '',
    'Error: Connection terminated unexpectedly',
    '    at Connection.<anonymous> (/work/main/node_modules/pg/lib/client.js:204:73)',
    "Emitted 'error' event on Client instance at:",
    '    at Client._handleErrorEvent (/work/main/node_modules/pg/lib/client.js:422:10)',
    '    [... lines matching original stack trace ...]',
    '',
    'Node.js v20.20.2',
  ].join('\n');
  assert.equal(
    whyExited(unhandled),
    "Error: Connection terminated unexpectedly | Emitted 'error' event on Client instance at:",
  );
  const fatal = '{"level":60,"msg":"cannot start","err":"boom"}\n{"level":30,"msg":"bye"}';
  assert.equal(whyExited(fatal), 'cannot start: "boom"');
  assert.equal(
    whyExited('aggregator failed to start: connect ECONNREFUSED 127.0.0.1:15432\n'),
    'aggregator failed to start: connect ECONNREFUSED 127.0.0.1:15432',
  );
  assert.equal(whyExited('just a line\n'), 'just a line');
});
