import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { metrics } from '@opentelemetry/api';
import type { KafkaMessage } from 'kafkajs';
import { createLogger } from '../../shared/src/logger.js';
import { createAggregator, type Aggregator } from '../../services/aggregator/src/aggregator.js';
import { createTestDatabase } from '../helpers/db.js';
import { asEvent, eventually, expectedApplied, expectedTotals, mixedStream, poolMicros, seedJackpot, wager, type JackpotSpec, type RawEvent } from '../helpers/fixtures.js';
import { FAST_GROUP, kafkaForTests, randomGroupId, randomTopic, readTopic } from '../helpers/kafka.js';

const db = await createTestDatabase();
const kafka = kafkaForTests();
const logger = createLogger('aggregator-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');

const JACKPOTS: JackpotSpec[] = [
  {
    jackpotId: 'eu',
    currency: 'EUR',
    pools: [
      { tier: 'mini', seedMinor: 1_000, contributionPpm: 3_333 },
      { tier: 'grand', seedMinor: 1_000_000, contributionPpm: 7_777, reservePpm: 1_234 },
    ],
    games: ['g-a', 'g-b', 'g-c'],
  },
  { jackpotId: 'uk', currency: 'GBP', pools: [{ tier: 'main', seedMinor: 500, contributionPpm: 10_001 }], games: ['g-uk'] },
];
for (const j of JACKPOTS) await seedJackpot(db.pool, j);

const running: Aggregator[] = [];
after(async () => {
  for (const a of running) await a.stop().catch(() => undefined);
});

async function setup(partitions = 6) {
  const topics = {
    topic: await randomTopic('wagers', partitions),
    poolUpdatesTopic: await randomTopic('updates', 1),
    dlqTopic: await randomTopic('dlq', 1),
    awardsTopic: await randomTopic('awards', 1),
  };
  const groupId = randomGroupId('agg');
  const start = async (overrides: { batchMaxEvents?: number } = {}) => {
    const aggregator = createAggregator({
      kafka,
      pool: db.pool,
      config: {
        groupId,
        ...topics,
        batchMaxEvents: overrides.batchMaxEvents ?? 500,
        batchMaxWaitMs: 20,
        partitionsConsumedConcurrently: partitions,
        sessionTimeoutMs: FAST_GROUP.sessionTimeout ?? 6000,
      },
      logger,
      meter: metrics.getMeter('test'),
    });
    running.push(aggregator);
    await aggregator.start();
    return aggregator;
  };
  return { ...topics, groupId, start };
}

async function produce(topic: string, events: readonly RawEvent[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < events.length; i += 500) {
    await producer.send({ topic, acks: -1, messages: events.slice(i, i + 500).map((e) => ({ key: e.key, value: e.value })) });
  }
  await producer.disconnect();
}


const appliedEvents = async (): Promise<number> =>
  Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM jackpot.applied_events')).rows[0]?.n);

void test('a mixed stream gives exact pool totals, one ledger row per wager and pool, and dead letters with reasons', async () => {
  const t = await setup();
  const events = mixedStream(3000, ['g-a', 'g-b', 'g-c', 'g-uk'], 'EUR');
  // g-uk wagers in EUR are currency mismatches; add some correct GBP ones.
  const gbp = Array.from({ length: 200 }, (_, i) => asEvent(wager({ gameId: 'g-uk', currency: 'GBP', playerId: `uk-${i}`, amountMinor: 17 + i })));
  const all = [...events, ...gbp];
  const before = await appliedEvents();
  const aggregator = await t.start();
  await produce(t.topic, all);

  const expected = expectedTotals(all, JACKPOTS);
  const want = expectedApplied(all, JACKPOTS);
  const reached = await eventually(async () => (await appliedEvents()) - before === want, 60_000);
  assert.ok(reached, `all valid wagers applied: ${(await appliedEvents()) - before} of ${want}`);

  assert.deepEqual(await poolMicros(db.pool), expected);
  const ledger = await db.pool.query<{ pool_id: string; n: string; s: string }>(
    'SELECT pool_id, count(*) AS n, sum(contribution_micro)::text AS s FROM jackpot.contributions GROUP BY pool_id ORDER BY pool_id',
  );
  for (const r of ledger.rows) {
    const seed = BigInt(JACKPOTS.flatMap((j) => j.pools.map((p) => [`${j.jackpotId}:${p.tier}`, p.seedMinor] as const)).find(([id]) => id === r.pool_id)?.[1] ?? 0) * 1_000_000n;
    assert.equal(BigInt(r.s) + seed, expected.get(r.pool_id), `ledger sum of ${r.pool_id}`);
  }
  const dupRows = await db.pool.query('SELECT event_id, pool_id FROM jackpot.contributions GROUP BY 1, 2 HAVING count(*) > 1');
  assert.equal(dupRows.rowCount, 0, 'no wager booked twice to a pool');

  const reasons = (await db.pool.query<{ reason: string }>('SELECT reason FROM jackpot.dead_letters ORDER BY id')).rows.map((r) => r.reason);
  for (const reason of ['malformed_json', 'amount_out_of_range', 'unknown_game', 'currency_mismatch', 'empty_payload']) {
    assert.ok(reasons.includes(reason), `dead letter with reason ${reason}`);
  }
  const dlq = await readTopic(kafka, t.dlqTopic, (got) => got.length >= reasons.length);
  assert.equal(dlq.length, reasons.length, 'every dead letter on the topic');
  assert.deepEqual(new Set(dlq.map((m) => m.headers?.['x-dlq-reason']?.toString())), new Set(reasons));
  const malformed = dlq.find((m) => m.headers?.['x-dlq-reason']?.toString() === 'malformed_json');
  assert.equal(malformed?.value?.toString(), '{"eventId": nope', 'original bytes kept');

  const latest = (got: readonly KafkaMessage[]) => {
    const last = new Map<string, { version: number; amountMinor: number; cycle: number }>();
    for (const m of got) {
      const u = JSON.parse(m.value?.toString() ?? '{}') as { poolId: string; version: number; amountMinor: number; cycle: number };
      if ((last.get(u.poolId)?.version ?? 0) < u.version) last.set(u.poolId, u);
    }
    return last;
  };
  const versions = new Map(
    (await db.pool.query<{ pool_id: string; version: string }>('SELECT pool_id, version::text FROM jackpot.pool_totals')).rows.map((r) => [r.pool_id, Number(r.version)]),
  );
  const last = latest(await readTopic(kafka, t.poolUpdatesTopic, (got) => [...latest(got)].every(([id, u]) => u.version === versions.get(id)) && latest(got).size === versions.size));
  for (const [poolId, micro] of expected) assert.equal(last.get(poolId)?.amountMinor, Number(micro / 1_000_000n), `published amount of ${poolId}`);
  await aggregator.stop();
});

void test('a re-sent wager in a later batch counts once, and a restarted aggregator repeats nothing', async () => {
  const t = await setup(3);
  const totalsBefore = await poolMicros(db.pool);
  const first = Array.from({ length: 1000 }, (_, i) => asEvent(wager({ gameId: 'g-a', playerId: `r-${i % 37}`, amountMinor: 1 + ((i * 7919) % 10_000) })));
  const before = await appliedEvents();
  const offsetsSum = async () =>
    Number((await db.pool.query<{ s: string }>('SELECT coalesce(sum(next_offset), 0) AS s FROM jackpot.consumer_offsets WHERE group_id = $1', [t.groupId])).rows[0]?.s);
  const a = await t.start({ batchMaxEvents: 100 });
  await produce(t.topic, first);
  const resent = first.slice(0, 300).map((e) => ({ ...e, value: Buffer.from(JSON.stringify({ ...e.wager, occurredAt: '2026-01-01T00:00:00Z', extra: 1 })) }));
  await produce(t.topic, resent);
  assert.ok(await eventually(async () => (await offsetsSum()) === 1300, 60_000), 'all 1,300 messages consumed');
  assert.equal(await appliedEvents(), before + 1000, 'the 300 re-sends changed nothing');
  await a.stop();
  // The same group again: Postgres holds the position, nothing is re-applied.
  const b = await t.start({ batchMaxEvents: 100 });
  const more = Array.from({ length: 200 }, (_, i) => asEvent(wager({ gameId: 'g-b', playerId: `s-${i}`, amountMinor: 3 + i })));
  await produce(t.topic, more);
  assert.ok(await eventually(async () => (await offsetsSum()) === 1500, 60_000), 'all 1,500 messages consumed');
  assert.equal(await appliedEvents(), before + 1200);
  await b.stop();

  const expectedDelta = expectedTotals([...first, ...more], JACKPOTS);
  const after_ = await poolMicros(db.pool);
  for (const j of JACKPOTS.slice(0, 1)) {
    for (const p of j.pools) {
      const id = `${j.jackpotId}:${p.tier}`;
      const seed = BigInt(p.seedMinor) * 1_000_000n;
      assert.equal((after_.get(id) ?? 0n) - (totalsBefore.get(id) ?? 0n), (expectedDelta.get(id) ?? 0n) - seed, `delta of ${id}`);
    }
  }
});
