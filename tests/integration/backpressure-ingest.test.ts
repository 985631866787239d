/**
 * The gateway under memory pressure and with a full Kafka buffer, in-process against the real
 * broker and a fresh database. The memory sample is injected (a number the test sets), not
 * allocated: the monitor, its levels and the routes are the real ones.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { createApiKey } from '../../shared/src/api-keys.js';
import { createLogger } from '../../shared/src/logger.js';
import { startMemoryMonitor } from '../../shared/src/memory-budget.js';
import { createWagerProducer, type WagerProducer } from '../../shared/src/producer.js';
import { startTelemetry } from '../../shared/src/telemetry.js';
import { createIngestApp } from '../../services/ingest/src/app.js';
import { loadIngestConfig } from '../../services/ingest/src/config.js';
import { createTestDatabase } from '../helpers/db.js';
import { seedJackpot } from '../helpers/fixtures.js';
import { kafkaForTests, randomTopic, readTopic, uniqueSuffix } from '../helpers/kafka.js';

const db = await createTestDatabase();
const telemetry = startTelemetry('backpressure-ingest-test');
const logger = createLogger('backpressure-ingest-test', process.env['TEST_LOG_LEVEL'] ?? 'silent');
const kafka = kafkaForTests();
const stops: (() => Promise<void>)[] = [];
after(async () => {
  for (const stop of stops.reverse()) await stop();
  await telemetry.shutdown();
});

const MB = 1024 * 1024;
const BUDGET = 100 * MB;
const DEFAULTS = loadIngestConfig({});
const GENEROUS = { perSecond: 1_000_000, burst: 1_000_000 };
const key = (await createApiKey(db.pool, { role: 'game', name: 'backpressure test', jackpots: 'all' })).key;
await seedJackpot(db.pool, {
  jackpotId: 'bp',
  currency: 'EUR',
  pools: [{ tier: 'main', seedMinor: 1_000, contributionPpm: 10_000 }],
  games: ['bp-game'],
});

async function startGateway(opts: { usedMb: () => number; producer?: WagerProducer }) {
  const topic = await randomTopic('bp-ingest', 3);
  const producer = opts.producer ?? createWagerProducer({ kafka, topic });
  await producer.connect();
  // A long interval: the test samples when it has changed the number.
  const memory = startMemoryMonitor({
    budgetBytes: BUDGET,
    logger,
    read: () => opts.usedMb() * MB,
    intervalMs: 3_600_000,
  });
  const ingest = createIngestApp({
    db: db.pool,
    producer,
    logger,
    telemetry,
    rateLimit: GENEROUS,
    claimRateLimit: GENEROUS,
    auth: DEFAULTS.auth,
    memory,
  });
  const url = await ingest.app.listen({ port: 0, host: '127.0.0.1' });
  stops.push(async () => {
    memory.stop();
    await ingest.close();
    await producer.disconnect();
  });
  return { url, topic, memory };
}

const wager = () => ({
  eventId: randomUUID(),
  occurredAt: new Date().toISOString(),
  gameId: 'bp-game',
  playerId: `p-${uniqueSuffix()}`,
  currency: 'EUR',
  amountMinor: 100,
});

async function post(url: string, path: string, body: unknown, auth: string | null = key) {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(auth === null ? {} : { authorization: `Bearer ${auth}` }),
    },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { error?: { code: string }; accepted?: number };
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    code: json.error?.code,
    accepted: json.accepted,
  };
}

void test(
  'from 85 % of the budget wagers get 503 overloaded with Retry-After, claims are still paid, and wagers come back below 80 %',
  { timeout: 60_000 },
  async () => {
    let used = 50;
    const gw = await startGateway({ usedMb: () => used });
    const sample = (mb: number) => {
      used = mb;
      return gw.memory.sample();
    };

    assert.equal(
      (await post(gw.url, '/v1/wagers', { wagers: [wager()] })).status,
      202,
      'at 50 % wagers are taken',
    );
    assert.equal(sample(72), 'warn');
    assert.equal((await post(gw.url, '/v1/wagers', { wagers: [wager()] })).status, 202, 'warn only warns');

    assert.equal(sample(90), 'shed');
    const refused = await post(gw.url, '/v1/wagers', { wagers: [wager(), wager()] });
    assert.deepEqual(refused, { status: 503, retryAfter: '2', code: 'overloaded', accepted: undefined });
    // Refused before the key is looked at: an unknown key is not worth a lookup under pressure.
    assert.equal((await post(gw.url, '/v1/wagers', { wagers: [wager()] }, 'not-a-key')).code, 'overloaded');

    const claim = { claimId: `c-${uniqueSuffix()}`, poolId: 'bp:main', gameId: 'bp-game', playerId: 'lucky' };
    const win = await post(gw.url, '/v1/wins', claim);
    assert.equal(win.status, 200, 'a claim is paid whatever the wagers do');

    assert.equal(sample(99), 'critical');
    assert.equal((await post(gw.url, '/v1/wagers', { wagers: [wager()] })).code, 'overloaded');
    assert.equal(
      (await post(gw.url, '/v1/wins', { ...claim, claimId: `c-${uniqueSuffix()}` })).status,
      200,
      'claims at critical too',
    );

    assert.equal(sample(82), 'shed', 'hysteresis: 82 % does not leave shed');
    assert.equal((await post(gw.url, '/v1/wagers', { wagers: [wager()] })).code, 'overloaded');
    assert.equal(sample(75), 'warn');
    const back = await post(gw.url, '/v1/wagers', { wagers: [wager(), wager(), wager()] });
    assert.equal(back.status, 202);
    assert.equal(back.accepted, 3);

    const got = await readTopic(kafka, gw.topic, (m) => m.length >= 5, { settleMs: 1_000 });
    assert.equal(got.length, 5, 'only the accepted wagers reached Kafka');
  },
);

void test(
  "a request that does not fit in the producer's bounded buffer gets 503 overloaded and sends nothing",
  { timeout: 60_000 },
  async () => {
    const topic = await randomTopic('bp-buffer', 1);
    const producer = createWagerProducer({ kafka, topic, maxBufferedMessages: 5 });
    const gw = await startGateway({ usedMb: () => 10, producer });
    assert.equal(producer.room(), 5);
    const refused = await post(gw.url, '/v1/wagers', { wagers: Array.from({ length: 6 }, wager) });
    assert.deepEqual(refused, { status: 503, retryAfter: '2', code: 'overloaded', accepted: undefined });
    const fits = await post(gw.url, '/v1/wagers', { wagers: Array.from({ length: 5 }, wager) });
    assert.equal(fits.status, 202);
    assert.equal(fits.accepted, 5);
    assert.equal(producer.room(), 5, 'room again once Kafka acknowledged them');
    const got = await readTopic(kafka, topic, (m) => m.length >= 5, { settleMs: 1_000 });
    assert.equal(got.length, 5, 'nothing of the refused request reached Kafka');
  },
);
