/**
 * The whole pipeline as real processes on the real broker and database: the gateway, two
 * aggregator replicas and the projector. A known set of wagers goes in through both paths (the
 * producer library straight to Kafka, and POST /v1/wagers), with duplicate eventIds (also across
 * the two paths) and invalid events mixed in. Pool totals in Postgres and in the projector must
 * equal an independent computation to the micro-unit, and every bad Kafka event must be in the
 * dead-letter table with its reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApiKey } from '../../shared/src/api-keys.js';
import { createWagerProducer } from '../../shared/src/producer.js';
import { createTestDatabase } from '../helpers/db.js';
import {
  asEvent,
  eventually,
  expectedApplied,
  expectedTotals,
  mixedStream,
  poolMicros,
  wager,
  type JackpotSpec,
  type RawEvent,
} from '../helpers/fixtures.js';
import { kafkaForTests, randomGroupId, randomTopic } from '../helpers/kafka.js';
import { startServiceProcess } from '../helpers/processes.js';

const db = await createTestDatabase();
const kafka = kafkaForTests();

const JACKPOTS: JackpotSpec[] = [
  {
    jackpotId: 'e2e-eu',
    currency: 'EUR',
    pools: [
      { tier: 'mini', seedMinor: 1_000, contributionPpm: 10_000 },
      { tier: 'major', seedMinor: 100_000, contributionPpm: 2_500, reservePpm: 500 },
      { tier: 'grand', seedMinor: 1_000_000, contributionPpm: 1_000 },
    ],
    games: ['e2e-a', 'e2e-b', 'e2e-c'],
  },
  {
    jackpotId: 'e2e-uk',
    currency: 'GBP',
    pools: [{ tier: 'main', seedMinor: 500, contributionPpm: 7_000 }],
    games: ['e2e-uk-1'],
  },
];

void test('wagers through Kafka and the gateway give exact totals in Postgres and the projector', async () => {
  const partitions = 6;
  const topics = {
    AGGREGATOR_TOPIC: await randomTopic('pipe-wagers', partitions),
    POOL_UPDATES_TOPIC: await randomTopic('pipe-updates', 1),
    DLQ_TOPIC: await randomTopic('pipe-dlq', 1),
    AWARDS_TOPIC: await randomTopic('pipe-awards', 1),
  };
  const env = {
    DATABASE_URL: db.url,
    ...topics,
    INGEST_TOPIC: topics.AGGREGATOR_TOPIC,
    PROJECTOR_TOPIC: topics.POOL_UPDATES_TOPIC,
    AGGREGATOR_GROUP_ID: randomGroupId('pipe'),
    AGGREGATOR_SESSION_TIMEOUT_MS: '6000',
    AGGREGATOR_PARTITIONS_CONCURRENTLY: String(partitions),
  };
  const [ingest, projector, agg1, agg2] = await Promise.all([
    startServiceProcess('ingest', env),
    startServiceProcess('projector', env),
    startServiceProcess('aggregator', env, 'aggregator-1'),
    startServiceProcess('aggregator', env, 'aggregator-2'),
  ]);
  await Promise.all([ingest, projector, agg1, agg2].map((p) => p.waitReady(90_000)));

  const admin = (await createApiKey(db.pool, { role: 'admin', name: 'e2e-admin' })).key;
  const game = (await createApiKey(db.pool, { role: 'game', name: 'e2e-game', jackpots: 'all' })).key;
  const gateway = `http://127.0.0.1:${ingest.port}`;
  for (const j of JACKPOTS) {
    const res = await fetch(`${gateway}/v1/admin/jackpots/${j.jackpotId}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ currency: j.currency, pools: j.pools, games: j.games }),
    });
    assert.equal(res.status, 200, await res.text());
  }

  // Path 1: the producer library, with re-sends and bad events.
  const direct = mixedStream(4_000, ['e2e-a', 'e2e-b', 'e2e-c'], 'EUR', 3);
  const producer = createWagerProducer({ kafka, topic: topics.AGGREGATOR_TOPIC });
  await producer.connect();
  await Promise.all(direct.map((e) => producer.sendRaw(e.key, e.value)));
  await producer.disconnect();

  // Path 2: the gateway, with GBP wagers, re-sends of wagers that went straight to Kafka, and items it must refuse.
  const viaHttp: RawEvent[] = [];
  const resent = direct.filter((e) => e.wager !== undefined && e.expectReason === undefined).slice(0, 150);
  const fresh = Array.from({ length: 1_200 }, (_, i) =>
    asEvent(
      i % 3 === 0
        ? wager({ gameId: 'e2e-uk-1', currency: 'GBP', playerId: `uk-${i}`, amountMinor: 10 + i })
        : wager({ gameId: 'e2e-b', playerId: `h-${i}`, amountMinor: 1 + ((i * 7_919) % 40_000) }),
    ),
  );
  viaHttp.push(...fresh, ...resent);
  let accepted = 0;
  for (let i = 0; i < viaHttp.length; i += 200) {
    const slice = viaHttp.slice(i, i + 200);
    const items: unknown[] = slice.map((e) => e.wager);
    items.push({
      eventId: 'not-a-uuid',
      occurredAt: new Date().toISOString(),
      gameId: 'e2e-a',
      playerId: 'x',
      currency: 'EUR',
      amountMinor: 5,
    });
    const res = await fetch(`${gateway}/v1/wagers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${game}`, 'content-type': 'application/json' },
      body: JSON.stringify({ wagers: items }),
    });
    const text = await res.text();
    assert.equal(res.status, 202, text);
    const body = JSON.parse(text) as { accepted: number; rejected: { index: number; code: string }[] };
    assert.deepEqual(
      body.rejected.map((r) => [r.index, r.code]),
      [[slice.length, 'invalid_event_id']],
    );
    accepted += body.accepted;
  }
  assert.equal(accepted, viaHttp.length);

  const all = [...direct, ...viaHttp];
  const total = direct.length + viaHttp.length;
  const consumed = async () => {
    const r = await db.pool.query<{ s: string }>(
      'SELECT coalesce(sum(next_offset), 0) AS s FROM jackpot.consumer_offsets WHERE group_id = $1',
      [env.AGGREGATOR_GROUP_ID],
    );
    return Number(r.rows[0]?.s) === total;
  };
  assert.ok(
    await eventually(consumed, 90_000),
    `all ${total} messages consumed:\n${agg1.output().slice(-2000)}\n${agg2.output().slice(-2000)}`,
  );

  const expected = expectedTotals(all, JACKPOTS);
  assert.deepEqual(await poolMicros(db.pool), expected, 'Postgres totals');
  const applied = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM jackpot.applied_events');
  assert.equal(
    Number(applied.rows[0]?.n),
    expectedApplied(all, JACKPOTS),
    'each distinct valid wager applied once',
  );

  const reasons = await db.pool.query<{ reason: string; n: string }>(
    'SELECT reason, count(*) AS n FROM jackpot.dead_letters GROUP BY reason ORDER BY reason',
  );
  const wanted = new Map<string, number>();
  for (const e of direct)
    if (e.expectReason !== undefined) wanted.set(e.expectReason, (wanted.get(e.expectReason) ?? 0) + 1);
  assert.deepEqual(
    new Map(reasons.rows.map((r) => [r.reason, Number(r.n)])),
    wanted,
    'dead letters by reason',
  );

  // The projector serves the committed state: same amount, cycle and version as Postgres, within about a second.
  const committed = await db.pool.query<{
    pool_id: string;
    amount_minor: string;
    cycle: number;
    version: string;
  }>('SELECT pool_id, amount_minor::text, cycle, version::text FROM jackpot.pool_totals ORDER BY pool_id');
  const want = committed.rows.map((r) => ({
    poolId: r.pool_id,
    amountMinor: Number(r.amount_minor),
    cycle: r.cycle,
    version: Number(r.version),
  }));
  let served: unknown = null;
  const matches = await eventually(async () => {
    const res = await fetch(`http://127.0.0.1:${projector.port}/v1/pools`);
    const pools = (await res.json()) as {
      poolId: string;
      amountMinor: number;
      cycle: number;
      version: number;
    }[];
    served = pools.map((p) => ({
      poolId: p.poolId,
      amountMinor: p.amountMinor,
      cycle: p.cycle,
      version: p.version,
    }));
    return JSON.stringify(served) === JSON.stringify(want);
  }, 10_000);
  assert.ok(matches, `projector serves ${JSON.stringify(served)}, Postgres has ${JSON.stringify(want)}`);
  for (const [poolId, micro] of expected) {
    assert.equal(
      want.find((p) => p.poolId === poolId)?.amountMinor,
      Number(micro / 1_000_000n),
      `displayed amount of ${poolId} is floor(micro / 1e6)`,
    );
  }

  for (const p of [ingest, agg1, agg2, projector]) p.child.kill('SIGTERM');
  for (const p of [ingest, agg1, agg2, projector])
    assert.equal(await p.exited(), 0, `${p.name} exits 0 on SIGTERM:\n${p.output().slice(-1500)}`);
});
