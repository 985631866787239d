/**
 * The outbox relays during a Kafka outage, on the real database: claimed wins (the gateway's
 * transaction, shared/src/wins.ts) keep succeeding on a small connection pool while every award
 * publication hangs, and once Kafka answers again every award is published and marked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Producer } from 'kafkajs';
import { createPool } from '../../shared/src/db.js';
import { validateWinClaim } from '../../shared/src/domain/win-claim.js';
import { decodeAward, WIN_ID_HEADER } from '../../shared/src/messages/award.js';
import { decodeDeadLetter } from '../../shared/src/messages/dead-letter.js';
import { createRelay, relayAwards, relayDeadLetters, type SendPort } from '../../shared/src/outbox.js';
import { claimPoolWin } from '../../shared/src/wins.js';
import { createTestDatabase } from '../helpers/db.js';
import { eventually, seedJackpot } from '../helpers/fixtures.js';
import { kafkaForTests, randomTopic, readTopic } from '../helpers/kafka.js';

const db = await createTestDatabase();
const kafka = kafkaForTests();

await seedJackpot(db.pool, {
  jackpotId: 'ob',
  currency: 'EUR',
  pools: [{ tier: 'main', seedMinor: 1_000, contributionPpm: 10_000 }],
  games: ['ob-game'],
});

/**
 * Kafka during an outage, as a gateway sees it: a send that neither succeeds nor fails (kafkajs
 * retries for minutes) until `giveUp()`, which fails every pending send as kafkajs finally would.
 */
function hangingKafka(): SendPort & { readonly sends: number; giveUp(): void } {
  const pending: Array<(e: Error) => void> = [];
  let down = true;
  const fail = (reject: (e: Error) => void) => reject(new Error('KafkaJSNumberOfRetriesExceeded'));
  return {
    get sends() {
      return pending.length;
    },
    send: () =>
      new Promise<never>((_, reject) => {
        pending.push(reject);
        if (!down) fail(reject);
      }),
    giveUp() {
      down = false;
      pending.forEach(fail);
    },
  };
}

function claim(i: number) {
  const v = validateWinClaim({
    claimId: `outage-${i}`,
    poolId: 'ob:main',
    gameId: 'ob-game',
    playerId: `p-${i}`,
  });
  assert.ok(v.ok);
  return v.claim;
}

const leasedWins = async (): Promise<number> =>
  (await db.pool.query('SELECT 1 FROM jackpot.wins WHERE published_at IS NULL AND relay_lease_until > now()'))
    .rowCount ?? 0;

const unpublishedWins = async (): Promise<string[]> =>
  (
    await db.pool.query<{ win_id: string }>(
      'SELECT win_id::text FROM jackpot.wins WHERE published_at IS NULL ORDER BY win_id',
    )
  ).rows.map((r) => r.win_id);

void test(
  'wins keep succeeding on a small pool while every award publication hangs; nothing is lost',
  { timeout: 120_000 },
  async () => {
    // The gateway's situation in small: a pool of 3 connections, and after each win a relay of the
    // awards outbox, not awaited by the request (services/ingest/src/main.ts, onWin).
    const pool = createPool(db.url, { max: 3, applicationName: 'outbox-test' });
    const kafkaDown = hangingKafka();
    const relays: Promise<unknown>[] = [];
    try {
      const winIds: string[] = [];
      for (let i = 0; i < 20; i++) {
        const out = await claimPoolWin(pool, claim(i));
        assert.equal(out.kind, 'won', `win ${i}`);
        if (out.kind === 'won') winIds.push(out.answer.winId);
        // Called directly, without the single-flight guard: even then no relay may keep a
        // connection (or a transaction) while it waits for Kafka.
        relays.push(
          relayAwards(pool, kafkaDown, 'unused-topic', { sendTimeoutMs: 60_000 }).catch(() => undefined),
        );
      }
      assert.ok(
        await eventually(async () => (await leasedWins()) === winIds.length, 10_000),
        'every award is claimed by a relay waiting on Kafka',
      );
      assert.ok(kafkaDown.sends >= 1);
      assert.equal(pool.waitingCount, 0, 'nobody waits for a connection');
      assert.equal(pool.idleCount, pool.totalCount, 'no connection is held while Kafka hangs');
      assert.deepEqual(await unpublishedWins(), [...winIds].sort(), 'every win is still to be published');

      // kafkajs gives up at last: the relays fail and hand their claims back for the next run.
      kafkaDown.giveUp();
      await Promise.allSettled(relays);
      assert.equal(await leasedWins(), 0, 'claims handed back');

      // The send timeout bounds a relay even when Kafka never answers.
      await assert.rejects(
        relayAwards(pool, hangingKafka(), 'unused-topic', { sendTimeoutMs: 200 }),
        (e: Error & { code?: string }) => e.code === 'KAFKA_UNAVAILABLE',
      );

      // Kafka is back: one relay publishes every award, each once, and marks them.
      const topic = await randomTopic('awards', 1);
      const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      assert.equal(await relayAwards(pool, producer, topic), winIds.length);
      assert.deepEqual(await unpublishedWins(), []);
      const got = await readTopic(kafka, topic, (m) => m.length >= winIds.length, { settleMs: 300 });
      const published = got.map((m) => {
        const d = decodeAward(m.value);
        assert.ok(d.ok, d.ok ? '' : d.reason);
        assert.equal(m.headers?.[WIN_ID_HEADER]?.toString(), d.message.winId);
        return d.message.winId;
      });
      assert.deepEqual([...published].sort(), [...winIds].sort(), 'every award, once');
    } finally {
      kafkaDown.giveUp();
      await Promise.allSettled(relays);
      await pool.end();
    }
  },
);

void test(
  'a dead-letter relay that cannot reach Kafka leaves its rows for the next one and holds no connection',
  { timeout: 60_000 },
  async () => {
    const pool = createPool(db.url, { max: 2, applicationName: 'outbox-test' });
    try {
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO jackpot.dead_letters (reason, message, topic, kafka_partition, kafka_offset, kafka_key, payload)
       SELECT 'malformed_json', 'test', 'test.wagers', 0, g, convert_to('k' || g, 'UTF8'), convert_to('{bad ' || g, 'UTF8')
         FROM generate_series(1, 3) g
       RETURNING id::text`,
      );
      const ids = rows.map((r) => r.id);
      await assert.rejects(relayDeadLetters(pool, hangingKafka(), 'unused-topic', { sendTimeoutMs: 200 }));
      assert.equal(pool.idleCount, pool.totalCount, 'no connection held after a failed relay');

      const topic = await randomTopic('dlq', 1);
      const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      assert.equal(await relayDeadLetters(pool, producer, topic), ids.length);
      const got = await readTopic(kafka, topic, (m) => m.length >= ids.length, { settleMs: 300 });
      const letters = got.map((m) => {
        const d = decodeDeadLetter(m);
        assert.ok(d.ok, d.ok ? '' : d.reason);
        return d.message;
      });
      assert.deepEqual(letters.map((d) => d.id).sort(), [...ids].sort());
      assert.deepEqual(
        letters.map((d) => d.reason),
        ['malformed_json', 'malformed_json', 'malformed_json'],
      );
      const left = await pool.query('SELECT 1 FROM jackpot.dead_letters WHERE published_at IS NULL');
      assert.equal(left.rowCount, 0);
    } finally {
      await pool.end();
    }
  },
);

void test(
  "the gateway's wiring: a burst of wins during an outage keeps one relay waiting on Kafka, not one per win",
  { timeout: 60_000 },
  async () => {
    const pool = createPool(db.url, { max: 3, applicationName: 'outbox-test' });
    const kafkaDown = hangingKafka();
    const relay = createRelay({
      run: () => relayAwards(pool, kafkaDown, 'unused-topic', { sendTimeoutMs: 60_000 }),
      onError: () => undefined,
    });
    const requests: Promise<void>[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const out = await claimPoolWin(pool, claim(100 + i));
        assert.equal(out.kind, 'won');
        requests.push(relay.request());
      }
      assert.ok(await eventually(() => Promise.resolve(kafkaDown.sends === 1), 10_000));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(kafkaDown.sends, 1, 'one send in flight');
      assert.equal(pool.idleCount, pool.totalCount);
    } finally {
      kafkaDown.giveUp();
      await Promise.all(requests);
      await relay.idle();
      await pool.end();
    }
    assert.equal(
      kafkaDown.sends,
      1,
      'after a failed run the waiting requests do not start another: the timer retries',
    );
  },
);

void test(
  "two processes relaying at the same moment send each award once; a dead relay's claim runs out",
  { timeout: 60_000 },
  async () => {
    // Two gateways (or a gateway and an aggregator): two pools, one topic.
    const poolA = createPool(db.url, { max: 2, applicationName: 'outbox-test-a' });
    const poolB = createPool(db.url, { max: 2, applicationName: 'outbox-test-b' });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await claimPoolWin(db.pool, claim(200 + i))).kind, 'won');
      const expected = await unpublishedWins();
      const topic = await randomTopic('awards-race', 1);
      const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();

      // A has claimed the awards and is waiting for Kafka when B runs.
      let openGate: () => void = () => undefined;
      const gate = new Promise<void>((r) => (openGate = r));
      const slowKafka: SendPort = { send: async (record) => (await gate, producer.send(record)) };
      const a = relayAwards(poolA, slowKafka, topic);
      assert.ok(
        await eventually(async () => (await leasedWins()) === expected.length, 10_000),
        'A claimed them',
      );
      assert.equal(await relayAwards(poolB, producer, topic), 0, 'B skips what A claimed');
      openGate();
      assert.equal(await a, expected.length);

      // A relay that died after its claim: the row waits for the lease to run out, then goes.
      assert.equal((await claimPoolWin(db.pool, claim(300))).kind, 'won');
      const [orphan] = await unpublishedWins();
      assert.ok(orphan !== undefined);
      await db.pool.query(
        `UPDATE jackpot.wins SET relay_lease_until = now() + interval '1 hour' WHERE win_id = $1`,
        [orphan],
      );
      assert.equal(await relayAwards(poolB, producer, topic), 0, 'still claimed');
      await db.pool.query(
        `UPDATE jackpot.wins SET relay_lease_until = now() - interval '1 second' WHERE win_id = $1`,
        [orphan],
      );
      assert.equal(await relayAwards(poolB, producer, topic), 1, 'claim ran out');

      const got = await readTopic(kafka, topic, (m) => m.length >= expected.length + 1, { settleMs: 500 });
      const published = got.map((m) => m.headers?.['x-win-id']?.toString() ?? '');
      assert.deepEqual([...published].sort(), [...expected, orphan].sort(), 'each award exactly once');
      assert.deepEqual(await unpublishedWins(), []);
    } finally {
      await poolA.end();
      await poolB.end();
    }
  },
);
