/**
 * The jackpot lifecycle end to end, as real processes: a heavy wager stream while claims (over
 * HTTP) and mystery hits (in the aggregators) happen. Afterwards every cycle reconciles to the
 * micro-unit, every award was published exactly once, and no trigger was ever visible through
 * the read API or the admin API.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KafkaMessage } from 'kafkajs';
import { createApiKey } from '../../shared/src/api-keys.js';
import { reconcile } from '../../shared/src/domain/reconcile.js';
import { decodeAward } from '../../shared/src/messages/award.js';
import { createWagerProducer } from '../../shared/src/producer.js';
import { loadRecords } from '../../services/cli/src/reconcile.js';
import { createTestDatabase } from '../helpers/db.js';
import { eventually, mixedStream } from '../helpers/fixtures.js';
import { FAST_GROUP, kafkaForTests, randomGroupId, randomTopic } from '../helpers/kafka.js';
import { startServiceProcess } from '../helpers/processes.js';

const db = await createTestDatabase();
const kafka = kafkaForTests();
const CONTRACT_POOL_FIELDS = [
  'amountMinor',
  'currency',
  'cycle',
  'jackpotId',
  'poolId',
  'tier',
  'updatedAt',
  'version',
];

void test('claims and mystery hits during a heavy stream: every cycle reconciles, every award published once, no trigger visible', async () => {
  const partitions = 6;
  const topics = {
    AGGREGATOR_TOPIC: await randomTopic('life-wagers', partitions),
    POOL_UPDATES_TOPIC: await randomTopic('life-updates', 1),
    DLQ_TOPIC: await randomTopic('life-dlq', 1),
    AWARDS_TOPIC: await randomTopic('life-awards', 1),
  };
  const env = {
    DATABASE_URL: db.url,
    ...topics,
    INGEST_TOPIC: topics.AGGREGATOR_TOPIC,
    PROJECTOR_TOPIC: topics.POOL_UPDATES_TOPIC,
    AGGREGATOR_GROUP_ID: randomGroupId('life'),
    AGGREGATOR_SESSION_TIMEOUT_MS: '6000',
    AGGREGATOR_PARTITIONS_CONCURRENTLY: String(partitions),
    AGGREGATOR_BATCH_MAX_EVENTS: '500',
  };
  const procs = await Promise.all([
    startServiceProcess('ingest', env),
    startServiceProcess('projector', env),
    startServiceProcess('aggregator', env, 'aggregator-1'),
    startServiceProcess('aggregator', env, 'aggregator-2'),
  ]);
  const [ingest, projector] = procs;
  await Promise.all(procs.map((p) => p.waitReady(90_000)));
  const gateway = `http://127.0.0.1:${ingest.port}`;
  const admin = (await createApiKey(db.pool, { role: 'admin', name: 'life-admin' })).key;
  const game = (await createApiKey(db.pool, { role: 'game', name: 'life-game', jackpots: ['life'] })).key;
  const games = ['life-1', 'life-2', 'life-3'];
  const put = await fetch(`${gateway}/v1/admin/jackpots/life`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      currency: 'EUR',
      pools: [
        { tier: 'mini', seedMinor: 1_000, contributionPpm: 20_000, reservePpm: 5_000 },
        {
          tier: 'capped',
          seedMinor: 2_000,
          contributionPpm: 50_000,
          ceilingMinor: 20_000,
          overflow: 'next-cycle',
        },
        // A busy mystery pool: 0.2 % of each wager, must hit by 3,000 minor: a hit every ~100 wagers.
        { tier: 'drop', seedMinor: 500, contributionPpm: 2_000, reservePpm: 1_000, mustHitByMinor: 3_000 },
      ],
      games,
    }),
  });
  assert.equal(put.status, 200, await put.text());

  // The stream, and claims on the visible pools while it flows.
  const events = mixedStream(20_000, games, 'EUR', 5);
  const producer = createWagerProducer({ kafka, topic: topics.AGGREGATOR_TOPIC });
  await producer.connect();
  const sending = (async () => {
    for (let i = 0; i < events.length; i += 1_000) {
      await Promise.all(events.slice(i, i + 1_000).map((e) => producer.sendRaw(e.key, e.value)));
    }
  })();
  const answers = new Map<string, string>();
  const claims = (async () => {
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const claimId = `life-claim-${i % 10}`; // two of them are re-sent
      const poolId = i % 2 === 0 ? 'life:mini' : 'life:capped';
      const res = await fetch(`${gateway}/v1/wins`, {
        method: 'POST',
        headers: { authorization: `Bearer ${game}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          claimId,
          poolId: i >= 10 ? (i % 2 === 0 ? 'life:mini' : 'life:capped') : poolId,
          gameId: 'life-1',
          playerId: `winner-${i}`,
        }),
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const before = answers.get(claimId);
      if (before !== undefined) assert.equal(text, before, 'the same claimId gets the same answer');
      answers.set(claimId, text);
    }
  })();
  await Promise.all([sending, claims]);
  await producer.disconnect();

  const consumed = async () => {
    const r = await db.pool.query<{ s: string }>(
      'SELECT coalesce(sum(next_offset), 0) AS s FROM jackpot.consumer_offsets WHERE group_id = $1',
      [env.AGGREGATOR_GROUP_ID],
    );
    return Number(r.rows[0]?.s) === events.length;
  };
  assert.ok(await eventually(consumed, 120_000), 'all wagers consumed');

  const wins = await db.pool.query<{ win_id: string; kind: string }>(
    'SELECT win_id::text, kind FROM jackpot.wins',
  );
  const kinds = new Map<string, number>();
  for (const w of wins.rows) kinds.set(w.kind, (kinds.get(w.kind) ?? 0) + 1);
  assert.equal(kinds.get('claim'), 10, 'ten distinct claims paid');
  assert.ok(
    (kinds.get('mystery') ?? 0) >= 3,
    `mystery pools hit during the stream (${kinds.get('mystery') ?? 0})`,
  );

  const client = await db.pool.connect();
  try {
    const { pools, cycles } = await loadRecords(client);
    const { findings, lines } = reconcile(pools, cycles);
    assert.deepEqual(findings, [], 'every pool and cycle reconciles');
    assert.ok(lines.length >= 3 + wins.rowCount!, 'one line per cycle');
  } finally {
    client.release();
  }

  // Awards: each win exactly once on the topic.
  const awards: KafkaMessage[] = [];
  const consumer = kafka.consumer({ groupId: randomGroupId('awards'), ...FAST_GROUP });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.AWARDS_TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      awards.push(message);
      return Promise.resolve();
    },
  });
  await eventually(() => Promise.resolve(awards.length >= wins.rows.length), 30_000);
  await new Promise((r) => setTimeout(r, 1_000)); // a copy would arrive right behind
  await consumer.disconnect();
  const published = awards
    .map((m) => {
      const d = decodeAward(m.value);
      assert.ok(d.ok, d.ok ? '' : d.reason);
      return d.message.winId;
    })
    .sort();
  assert.deepEqual(published, wins.rows.map((w) => w.win_id).sort(), 'every award published exactly once');

  // No trigger visible: the read API serves exactly the contract's fields, the admin API no trigger.
  const list = (await (await fetch(`http://127.0.0.1:${projector.port}/v1/pools`)).json()) as Record<
    string,
    unknown
  >[];
  for (const p of list) assert.deepEqual(Object.keys(p).sort(), CONTRACT_POOL_FIELDS);
  const one = (await (await fetch(`http://127.0.0.1:${projector.port}/v1/pools/life:drop`)).json()) as Record<
    string,
    unknown
  >;
  assert.deepEqual(Object.keys(one).sort(), CONTRACT_POOL_FIELDS);
  const config = await (
    await fetch(`${gateway}/v1/admin/jackpots/life`, { headers: { authorization: `Bearer ${admin}` } })
  ).text();
  assert.doesNotMatch(config, /trigger/i);
  const triggers = await db.pool.query<{ trigger_micro: string }>(
    'SELECT trigger_micro::text FROM jackpot.pool_triggers',
  );
  assert.ok(triggers.rowCount! >= 4);

  for (const p of procs) p.child.kill('SIGTERM');
  for (const p of procs) assert.equal(await p.exited(), 0, `${p.name} exits 0:\n${p.output().slice(-1500)}`);
});
