/**
 * The aggregator as real processes against the real broker and database: killed with SIGKILL in
 * the middle of a stream and restarted, and two replicas rebalancing while the stream flows. In
 * both the pool totals must equal an independent computation to the micro-unit, with no wager
 * booked twice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestDatabase } from '../helpers/db.js';
import {
  eventually,
  expectedApplied,
  expectedTotals,
  mixedStream,
  poolMicros,
  seedJackpot,
  type JackpotSpec,
  type RawEvent,
} from '../helpers/fixtures.js';
import { kafkaForTests, randomGroupId, randomTopic } from '../helpers/kafka.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/processes.js';

const db = await createTestDatabase();
const kafka = kafkaForTests();
const JACKPOTS: JackpotSpec[] = [
  {
    jackpotId: 'crash',
    currency: 'EUR',
    pools: [
      { tier: 'mini', seedMinor: 100, contributionPpm: 5_001 },
      { tier: 'major', seedMinor: 10_000, contributionPpm: 2_999, reservePpm: 500 },
      { tier: 'grand', seedMinor: 1_000_000, contributionPpm: 1_337 },
    ],
    games: ['c-1', 'c-2', 'c-3', 'c-4'],
  },
];
for (const j of JACKPOTS) await seedJackpot(db.pool, j);

async function setup(partitions: number) {
  const env = {
    DATABASE_URL: db.url,
    AGGREGATOR_TOPIC: await randomTopic('e2e-wagers', partitions),
    POOL_UPDATES_TOPIC: await randomTopic('e2e-updates', 1),
    DLQ_TOPIC: await randomTopic('e2e-dlq', 1),
    AWARDS_TOPIC: await randomTopic('e2e-awards', 1),
    AGGREGATOR_GROUP_ID: randomGroupId('e2e-agg'),
    AGGREGATOR_BATCH_MAX_EVENTS: '300',
    AGGREGATOR_BATCH_MAX_WAIT_MS: '20',
    AGGREGATOR_SESSION_TIMEOUT_MS: '6000',
    AGGREGATOR_PARTITIONS_CONCURRENTLY: String(partitions),
  };
  return env;
}

/** Sends the events in slices with a pause between them, so the stream is still flowing while the test acts. */
async function stream(
  topic: string,
  events: readonly RawEvent[],
  onProgress: (sent: number) => Promise<void>,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < events.length; i += 250) {
    await producer.send({
      topic,
      acks: -1,
      messages: events.slice(i, i + 250).map((e) => ({ key: e.key, value: e.value })),
    });
    await onProgress(Math.min(events.length, i + 250));
    await new Promise((r) => setTimeout(r, 15));
  }
  await producer.disconnect();
}

/** Σ of the group's stored positions (next offsets) over the partitions: messages applied, on one topic from 0. */
async function storedPositions(groupId: string): Promise<number> {
  const r = await db.pool.query<{ s: string }>(
    'SELECT coalesce(sum(next_offset), 0) AS s FROM jackpot.consumer_offsets WHERE group_id = $1',
    [groupId],
  );
  return Number(r.rows[0]?.s);
}

async function consumedAll(groupId: string, total: number): Promise<boolean> {
  return (await storedPositions(groupId)) === total;
}

async function assertExact(events: readonly RawEvent[], what: string): Promise<void> {
  assert.deepEqual(await poolMicros(db.pool), expectedTotals(events, JACKPOTS), `${what}: pool totals`);
  const dup = await db.pool.query(
    'SELECT 1 FROM jackpot.contributions GROUP BY event_id, pool_id HAVING count(*) > 1',
  );
  assert.equal(dup.rowCount, 0, `${what}: no wager booked twice`);
  const n = await db.pool.query<{ n: string }>(
    'SELECT count(DISTINCT event_id) AS n FROM jackpot.contributions',
  );
  assert.equal(Number(n.rows[0]?.n), expectedApplied(events, JACKPOTS), `${what}: every valid wager booked`);
  const sums = await db.pool.query<{ pool_id: string; ledger: string; total: string }>(
    `SELECT t.pool_id, coalesce(sum(c.contribution_micro), 0)::text AS ledger, (t.amount_micro - t.seed_micro)::text AS total
     FROM jackpot.pool_totals t LEFT JOIN jackpot.contributions c USING (pool_id) GROUP BY t.pool_id, t.amount_micro, t.seed_micro`,
  );
  for (const r of sums.rows)
    assert.equal(r.ledger, r.total, `${what}: ledger of ${r.pool_id} adds up to its amount`);
}

async function reset(): Promise<void> {
  await db.pool.query(
    'TRUNCATE jackpot.ledger, jackpot.applied_events, jackpot.dead_letters, jackpot.consumer_offsets',
  );
  await db.pool.query(
    'UPDATE jackpot.pool_totals SET amount_micro = seed_micro, cycle_contribution_micro = 0, cycle_wagers = 0, reserve_micro = 0',
  );
}

void test('an aggregator killed with SIGKILL mid-stream and restarted loses and repeats nothing', async () => {
  await reset();
  const env = await setup(6);
  const events = mixedStream(12_000, JACKPOTS[0]?.games ?? [], 'EUR', 7);
  let agg: ServiceProcess = await startServiceProcess('aggregator', env, 'aggregator-a');
  await agg.waitReady();
  // Killed once its stored positions have passed a sixth of the stream while a third or more is
  // sent (so it is consuming, with a window open, not idle); if it has not got that far by two
  // thirds sent, the stream waits for it, so the kill always lands before the last slice.
  let positionsAtKill = null as number | null;
  await stream(env.AGGREGATOR_TOPIC, events, async (sent) => {
    if (positionsAtKill !== null || sent < events.length / 3 || sent >= events.length) return;
    const mustKillNow = sent >= (events.length * 2) / 3;
    const far = async (): Promise<boolean> =>
      (await storedPositions(env.AGGREGATOR_GROUP_ID)) >= events.length / 6;
    if (!(mustKillNow ? await eventually(far, 60_000) : await far())) return;
    agg.child.kill('SIGKILL');
    assert.equal(await agg.exited(), 'SIGKILL');
    // Read once the process is gone: nothing writes the group's positions until its replacement starts.
    positionsAtKill = await storedPositions(env.AGGREGATOR_GROUP_ID);
    agg = await startServiceProcess('aggregator', env, 'aggregator-b');
  });
  assert.ok(positionsAtKill !== null, 'the replica was killed during the stream');
  assert.ok(
    positionsAtKill > 0 && positionsAtKill < events.length,
    `killed mid-stream: positions stored at the kill ${positionsAtKill}, expected above 0 and below ${events.length}`,
  );
  await agg.waitReady();
  assert.ok(
    await eventually(() => consumedAll(env.AGGREGATOR_GROUP_ID, events.length), 90_000),
    `all consumed:\n${agg.output().slice(-3000)}`,
  );
  await assertExact(events, 'after SIGKILL');
  agg.child.kill('SIGTERM');
  assert.equal(await agg.exited(), 0, 'SIGTERM exits 0');
});

void test('two replicas that join and leave while the stream flows add up exactly', async () => {
  await reset();
  const env = await setup(6);
  const events = mixedStream(12_000, JACKPOTS[0]?.games ?? [], 'EUR', 11);
  const a = await startServiceProcess('aggregator', env, 'aggregator-a');
  await a.waitReady();
  let b: ServiceProcess | undefined;
  let aStopped = false;
  await stream(env.AGGREGATOR_TOPIC, events, async (sent) => {
    if (b === undefined && sent >= events.length / 4) {
      b = await startServiceProcess('aggregator', env, 'aggregator-b');
    }
    if (b !== undefined && !aStopped && sent >= (events.length * 2) / 3) {
      aStopped = true;
      a.child.kill('SIGTERM');
    }
  });
  assert.equal(await a.exited(), 0, `replica a exits 0 on SIGTERM:\n${a.output().slice(-2000)}`);
  assert.ok(b);
  await b.waitReady();
  assert.ok(
    await eventually(() => consumedAll(env.AGGREGATOR_GROUP_ID, events.length), 90_000),
    `all consumed:\n${b.output().slice(-3000)}`,
  );
  await assertExact(events, 'after rebalances');
  const shares = await db.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM jackpot.consumer_offsets WHERE group_id = $1 AND next_offset > 0',
    [env.AGGREGATOR_GROUP_ID],
  );
  assert.equal(Number(shares.rows[0]?.n), 6, 'every partition consumed');
  b.child.kill('SIGTERM');
  assert.equal(await b.exited(), 0);
});
