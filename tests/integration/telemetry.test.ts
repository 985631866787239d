/**
 * What operators read on `GET /metrics`, as Prometheus reads it (the exporter's text, parsed):
 * the runtime gauges every service exports, its readiness, a Postgres pool's use and wait time, and the
 * aggregator's consumer lag per partition and replica, on the real broker and database.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { replicaId, trackConsumerLag } from '../../shared/src/consumer-lag.js';
import { createPool } from '../../shared/src/db.js';
import { createHttpServer } from '../../shared/src/http.js';
import { createLogger } from '../../shared/src/logger.js';
import { startTelemetry } from '../../shared/src/telemetry.js';
import { createAggregator } from '../../services/aggregator/src/aggregator.js';
import { testAggregatorConfig } from '../helpers/aggregator.js';
import { createTestDatabase } from '../helpers/db.js';
import { asEvent, eventually, seedJackpot, wager } from '../helpers/fixtures.js';
import { FAST_GROUP, kafkaForTests, randomGroupId, randomTopic } from '../helpers/kafka.js';

// First: pools made after it are metered.
const telemetry = startTelemetry('telemetry-test');
const db = await createTestDatabase();
const kafka = kafkaForTests();
const logger = createLogger('telemetry-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
const server: Server = createServer((req, res) => telemetry.handleMetrics(req, res));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const stops: (() => Promise<void>)[] = [];
after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await new Promise((resolve) => server.close(resolve));
  await telemetry.shutdown();
});

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** GET /metrics, one sample a line (comments skipped). */
async function scrape(): Promise<Sample[]> {
  const { port } = server.address() as AddressInfo;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of `name` whose labels include `labels`; undefined when no such sample. */
function valueOf(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

void test('every service exports its RSS, heap, CPU time and event-loop delay', async () => {
  const first = await scrape();
  const rss = valueOf(first, 'process_memory_usage');
  const heap = valueOf(first, 'v8js_memory_heap_used');
  const limit = valueOf(first, 'v8js_memory_heap_limit');
  assert.ok(rss !== undefined && rss > 20 * 1024 * 1024, `rss ${rss}`);
  assert.ok(heap !== undefined && limit !== undefined && heap > 0 && heap < limit && limit <= rss * 1000);
  assert.ok(heap < rss);

  const cpuOf = (samples: readonly Sample[]) => ({
    user: valueOf(samples, 'process_cpu_time_total', { cpu_mode: 'user' }) ?? NaN,
    system: valueOf(samples, 'process_cpu_time_total', { cpu_mode: 'system' }) ?? NaN,
  });
  const cpuBefore = cpuOf(first);
  const own = process.cpuUsage();
  assert.ok(cpuBefore.user > 0 && cpuBefore.user <= own.user / 1e6, `user ${cpuBefore.user} s`);
  assert.ok(cpuBefore.system >= 0 && cpuBefore.system <= own.system / 1e6, `system ${cpuBefore.system} s`);

  // Block the loop for 150 ms: the delay gauges show it, to every scraper alike, and the CPU time grows by it.
  const until = performance.now() + 150;
  while (performance.now() < until);
  // The sampler's timer records the stall when it fires next, in the next turn of the loop.
  await new Promise((r) => setTimeout(r, 30));
  const blocked = await scrape();
  const max = valueOf(blocked, 'nodejs_eventloop_delay_max');
  const p99 = valueOf(blocked, 'nodejs_eventloop_delay_p99');
  assert.ok(max !== undefined && max >= 0.14 && max < 10, `max ${max}`);
  assert.ok(p99 !== undefined && p99 > 0 && p99 <= max);
  const cpuAfter = cpuOf(blocked);
  const spent = cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system;
  assert.ok(spent >= 0.1 && spent < 10, `CPU seconds over a 150 ms busy loop: ${spent}`);
  // A second scraper (a report, another Prometheus) right after sees the same stall: reading does not reset it.
  assert.ok((valueOf(await scrape(), 'nodejs_eventloop_delay_max') ?? 0) >= max);
});

void test('jackpot_ready says what GET /readyz says, and 0 when the check hangs', async () => {
  let ready: () => Promise<string | null> = () => Promise.resolve('not yet a member of the consumer group');
  const app = createHttpServer({ logger, telemetry, ready: () => ready() });
  assert.equal(valueOf(await scrape(), 'jackpot_ready'), 0);
  assert.equal((await app.inject('/readyz')).statusCode, 503);
  ready = () => Promise.resolve(null);
  assert.equal(valueOf(await scrape(), 'jackpot_ready'), 1);
  assert.equal((await app.inject('/readyz')).statusCode, 200);
  ready = () => Promise.reject(new Error('connection refused'));
  assert.equal(valueOf(await scrape(), 'jackpot_ready'), 0);
  ready = () => new Promise(() => undefined); // a database that never answers
  const t0 = performance.now();
  assert.equal(valueOf(await scrape(), 'jackpot_ready'), 0);
  assert.ok(performance.now() - t0 < 5_000, 'the scrape is not held by the hanging check');
  // Closed, the server no longer checks (the exporter keeps the last value): no 2 s wait.
  await app.close();
  const t1 = performance.now();
  await scrape();
  assert.ok(performance.now() - t1 < 1_500, 'a closed server is not checked any more');
});

void test('a pool reports its connections by state, its waiting callers and how long they waited', async () => {
  const name = 'telemetry-pool';
  const pool = createPool(db.url, { max: 2, applicationName: name });
  stops.push(() => pool.end());
  const of = (samples: readonly Sample[], metric: string, labels: Record<string, string> = {}) =>
    valueOf(samples, metric, { pool: name, ...labels });

  const a = await pool.connect();
  const b = await pool.connect();
  let samples = await scrape();
  assert.equal(of(samples, 'db_client_connections_usage', { state: 'used' }), 2);
  assert.equal(of(samples, 'db_client_connections_usage', { state: 'idle' }), 0);
  assert.equal(of(samples, 'db_client_connections_max'), 2);
  assert.equal(of(samples, 'db_client_connections_pending_requests'), 0);

  // A third caller waits until one of the two is released, 300 ms later; pool.query waits too.
  const third = pool.connect();
  const query = pool.query('SELECT 1');
  samples = await scrape();
  assert.equal(of(samples, 'db_client_connections_pending_requests'), 2);
  await new Promise((r) => setTimeout(r, 300));
  a.release();
  b.release();
  (await third).release();
  await query;

  samples = await scrape();
  assert.equal(of(samples, 'db_client_connections_pending_requests'), 0);
  assert.equal(of(samples, 'db_client_connections_usage', { state: 'used' }), 0);
  assert.equal(of(samples, 'db_client_connections_usage', { state: 'idle' }), 2);
  assert.equal(of(samples, 'db_client_connections_wait_time_count'), 4);
  const sum = of(samples, 'db_client_connections_wait_time_sum');
  assert.ok(sum !== undefined && sum >= 0.6, `waited ${sum} s in all`); // two callers, 300 ms each
  // Two waited at least 0.25 s; the first two did not.
  assert.equal(of(samples, 'db_client_connections_wait_time_bucket', { le: '0.25' }), 2);
  assert.equal(of(samples, 'db_client_connections_wait_time_bucket', { le: '+Inf' }), 4);
});

void test("the aggregator's consumer lag counts what is not applied yet, per partition and replica", async () => {
  await seedJackpot(db.pool, {
    jackpotId: 'tm',
    currency: 'EUR',
    pools: [{ tier: 'main', seedMinor: 1_000, contributionPpm: 10_000 }],
    games: ['g-tm'],
  });
  const config = await testAggregatorConfig('telemetry', 3, 1000);
  const events = Array.from({ length: 90 }, (_, i) =>
    asEvent(wager({ gameId: 'g-tm', playerId: `p-${i}`, amountMinor: 100 })),
  );
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({
    topic: config.topic,
    acks: -1,
    messages: [
      ...events.map((e) => ({ key: e.key, value: e.value })),
      { key: 'p-bad', value: Buffer.from('{not json') },
    ],
  });
  await producer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map(
    (await admin.fetchTopicOffsets(config.topic)).map((o) => [String(o.partition), Number(o.high)]),
  );
  await admin.disconnect();
  assert.equal(
    [...ends.values()].reduce((n, h) => n + h, 0),
    events.length + 1,
  );

  // The pool's row is locked, so no window can commit: every message stays counted.
  const locker = await db.pool.connect();
  await locker.query('BEGIN');
  await locker.query("SELECT 1 FROM jackpot.pool_totals WHERE jackpot_id = 'tm' FOR UPDATE");
  const aggregator = createAggregator({ kafka, pool: db.pool, config, logger, meter: telemetry.meter });
  stops.push(() => aggregator.stop());
  await aggregator.start();
  const lag = async (): Promise<Map<string, number>> =>
    new Map(
      (await scrape())
        .filter((s) => s.name === 'jackpot_aggregator_consumer_lag' && s.labels['topic'] === config.topic)
        .map((s) => {
          assert.equal(s.labels['replica'], replicaId(), 'replica');
          return [s.labels['partition'] as string, s.value];
        }),
    );
  try {
    assert.ok(
      await eventually(async () => {
        const now = await lag();
        return now.size === 3 && [...ends].every(([p, high]) => now.get(p) === high);
      }, 20_000),
      `lag while blocked: ${JSON.stringify([...(await lag())])}, ends ${JSON.stringify([...ends])}`,
    );
  } finally {
    await locker.query('ROLLBACK');
    locker.release();
  }
  assert.ok(
    await eventually(async () => [...(await lag()).values()].every((n) => n === 0), 20_000),
    `lag after: ${JSON.stringify([...(await lag())])}`,
  );
  // Counted once its window committed (a rebalance meanwhile would also read 0 above).
  const deadLetters = async () =>
    valueOf(await scrape(), 'jackpot_aggregator_dead_letters_total', { reason: 'malformed_json' });
  assert.ok(
    await eventually(async () => (await deadLetters()) === 1, 20_000),
    `dead letters ${await deadLetters()}`,
  );
  const samples = await scrape();
  assert.ok((valueOf(samples, 'jackpot_aggregator_batch_phase_duration_count') ?? 0) > 0);
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM jackpot.applied_events WHERE event_id = ANY($1::uuid[])',
    [events.map((e) => e.wager?.eventId)],
  );
  assert.equal(rows[0]?.n, events.length);
  assert.deepEqual([...(await lag()).values()], [0, 0, 0]);
});

void test('a consumer that reads message by message (the projector) reports its lag the same way', async () => {
  const topic = await randomTopic('telemetry-updates', 1);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: 10 }, (_, i) => ({ value: Buffer.from(String(i)) })),
  });
  await producer.disconnect();
  let open = (): void => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const consumer = kafka.consumer({ groupId: randomGroupId('telemetry-updates'), ...FAST_GROUP });
  const untrack = trackConsumerLag(consumer, telemetry.meter, {
    name: 'telemetry_test.updates.lag',
    description: 'test',
  });
  stops.push(async () => {
    untrack();
    await consumer.disconnect();
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let read = 0;
  await consumer.run({
    eachMessage: async () => {
      await gate;
      read++;
    },
  });
  const lag = async () =>
    valueOf(await scrape(), 'telemetry_test_updates_lag', { topic, partition: '0', replica: replicaId() });
  assert.ok(await eventually(async () => (await lag()) === 10, 20_000), `lag while blocked: ${await lag()}`);
  open();
  assert.ok(await eventually(async () => (await lag()) === 0, 20_000), `lag after: ${await lag()}`);
  assert.equal(read, 10);
});
