/**
 * The aggregator under memory pressure, against the real broker and a fresh database. The memory
 * sample is injected (a number the test sets), not allocated: the monitor, its levels and the
 * aggregator's pause and resume are the real ones.
 */
import assert from 'node:assert/strict';
import { testAggregatorConfig } from '../helpers/aggregator.js';
import { after, test } from 'node:test';
import { metrics } from '@opentelemetry/api';
import { createLogger } from '../../shared/src/logger.js';
import { startMemoryMonitor, type MemoryMonitor } from '../../shared/src/memory-budget.js';
import { rebasePositions } from '../../shared/src/positions.js';
import { createAggregator, type Aggregator } from '../../services/aggregator/src/aggregator.js';
import { createTestDatabase } from '../helpers/db.js';
import {
  asEvent,
  eventually,
  expectedTotals,
  poolMicros,
  seedJackpot,
  wager,
  type JackpotSpec,
  type RawEvent,
} from '../helpers/fixtures.js';
import { positionPartitions } from '../helpers/positions.js';
import { kafkaForTests, appliedEventCount, produceEvents } from '../helpers/kafka.js';

const db = await createTestDatabase();
const kafka = kafkaForTests();
const logger = createLogger('backpressure-aggregator-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
const MB = 1024 * 1024;

const JACKPOT: JackpotSpec = {
  jackpotId: 'bp',
  currency: 'EUR',
  pools: [
    { tier: 'mini', seedMinor: 1_000, contributionPpm: 3_333 },
    { tier: 'grand', seedMinor: 1_000_000, contributionPpm: 7_777, reservePpm: 1_234 },
  ],
  games: ['bp-a', 'bp-b'],
};
await seedJackpot(db.pool, JACKPOT);

const running: { aggregator: Aggregator; memory: MemoryMonitor }[] = [];
after(async () => {
  for (const r of running) {
    await r.aggregator.stop().catch(() => undefined);
    r.memory.stop();
  }
});

async function start(partitions: number, usedMb: () => number) {
  const config = await testAggregatorConfig('bp', partitions, 400);
  const memory = startMemoryMonitor({
    budgetBytes: 100 * MB,
    logger,
    read: () => usedMb() * MB,
    intervalMs: 3_600_000,
  });
  const aggregator = createAggregator({
    kafka,
    pool: db.pool,
    config,
    logger,
    meter: metrics.getMeter('backpressure-test'),
    memory,
  });
  running.push({ aggregator, memory });
  return { ...config, aggregator, memory };
}

const produce = (topic: string, events: readonly RawEvent[]): Promise<void> =>
  produceEvents(kafka, topic, events);
const appliedEvents = (): Promise<number> => appliedEventCount(db.pool);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stream = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) =>
    asEvent(
      wager({
        gameId: i % 2 === 0 ? 'bp-a' : 'bp-b',
        playerId: `${tag}-${i % 97}`,
        amountMinor: 1 + ((i * 7919) % 20_000),
      }),
    ),
  );

void test(
  'at critical pressure the aggregator stops fetching, stays stopped at shed, resumes under it and applies every wager exactly once',
  { timeout: 120_000 },
  async () => {
    let used = 40;
    const t = await start(4, () => used);
    const totalsBefore = await poolMicros(db.pool);
    const before = await appliedEvents();
    await t.aggregator.start();

    const first = stream(1_500, 'first');
    await produce(t.topic, first);
    assert.ok(
      await eventually(async () => (await appliedEvents()) === before + 1_500, 60_000),
      'the first wagers are applied at ok pressure',
    );

    used = 97;
    assert.equal(t.memory.sample(), 'critical');
    const second = stream(2_000, 'second');
    await produce(t.topic, second);
    await sleep(3_000);
    assert.equal(await appliedEvents(), before + 1_500, 'nothing fetched while critical');

    used = 91;
    assert.equal(t.memory.sample(), 'critical', 'hysteresis: 91 % stays critical');
    used = 82;
    assert.equal(t.memory.sample(), 'shed');
    await sleep(2_000);
    assert.equal(
      await appliedEvents(),
      before + 1_500,
      'still held at shed: fetching resumes only under shed',
    );
    assert.equal(
      t.aggregator.readiness(),
      null,
      'held for memory is not unready: the replica keeps its partitions',
    );

    used = 60;
    assert.equal(t.memory.sample(), 'ok');
    assert.ok(
      await eventually(async () => (await appliedEvents()) === before + 3_500, 60_000),
      `every wager applied after the resume: ${(await appliedEvents()) - before} of 3,500`,
    );
    await sleep(1_000);
    assert.equal(await appliedEvents(), before + 3_500, 'none applied twice');

    const expected = expectedTotals([...first, ...second], [JACKPOT]);
    const after_ = await poolMicros(db.pool);
    for (const p of JACKPOT.pools) {
      const id = `${JACKPOT.jackpotId}:${p.tier}`;
      const seed = BigInt(p.seedMinor) * 1_000_000n;
      assert.equal(
        (after_.get(id) ?? 0n) - (totalsBefore.get(id) ?? 0n),
        (expected.get(id) ?? 0n) - seed,
        `pool ${id} to the micro-unit`,
      );
    }
    const dup = await db.pool.query(
      'SELECT event_id, pool_id FROM jackpot.contributions GROUP BY 1, 2 HAVING count(*) > 1',
    );
    assert.equal(dup.rowCount, 0, 'no ledger row twice');
    await t.aggregator.stop();
  },
);

void test(
  'the end of memory pressure does not resume a topic the positions alarm paused, nor the reverse',
  { timeout: 120_000 },
  async () => {
    let used = 97;
    const t = await start(2, () => used);
    assert.equal(t.memory.sample(), 'critical');
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { clusterId } = await admin.describeCluster();
      // Positions past the new topic's end: refused, the alarm pauses the topic.
      await positionPartitions(db.pool, {
        groupId: t.groupId,
        topic: t.topic,
        clusterId,
        partitions: [0, 1],
        offset: 300,
      });
      const events = stream(300, 'alarm');
      await produce(t.topic, events);
      const before = await appliedEvents();
      await t.aggregator.start();
      assert.ok(
        await eventually(
          () => Promise.resolve(/past the partition's end/.test(t.aggregator.readiness() ?? '')),
          20_000,
        ),
        'positions refused',
      );

      used = 50;
      assert.equal(t.memory.sample(), 'ok');
      await sleep(2_000);
      assert.equal(await appliedEvents(), before, 'memory back to ok does not resume what the alarm paused');

      used = 97;
      assert.equal(t.memory.sample(), 'critical');
      await rebasePositions(db.pool, admin, {
        groupId: t.groupId,
        topic: t.topic,
        to: 'earliest',
        actor: 'test',
      });
      assert.ok(
        await eventually(() => Promise.resolve(t.aggregator.readiness() === null), 20_000),
        'positions accepted after the re-base',
      );
      await sleep(2_000);
      assert.equal(await appliedEvents(), before, 'the alarm clearing does not resume what memory holds');

      used = 50;
      assert.equal(t.memory.sample(), 'ok');
      assert.ok(
        await eventually(async () => (await appliedEvents()) === before + 300, 30_000),
        'applied once neither holds',
      );
      await t.aggregator.stop();
    } finally {
      await admin.disconnect();
    }
  },
);
